"""shrink-edge: take a trained PyTorch model to the edge."""
from .errors import BudgetError, UserError
from .debug import debug
from .exporter import ExportResult, export
from .optimizer import OptimizeResult, optimize
from .model_source import ModelSource

__all__ = ["BudgetError", "ExportResult", "ModelSource", "OptimizeResult", "UserError", "debug", "export", "optimize"]
