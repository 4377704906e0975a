"""shrink-edge: take a trained PyTorch model to the edge."""
from .errors import BudgetError, UserError
from .exporter import ExportResult, export
from .model_source import ModelSource

__all__ = ["BudgetError", "ExportResult", "ModelSource", "UserError", "export"]
