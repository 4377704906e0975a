"""shrink-edge: take a trained PyTorch model to the edge."""
from .errors import BudgetError, UserError
from .workflows.debug import debug
from .workflows.export import ExportResult, export
from .workflows.optimize import OptimizeResult, optimize
from .model.source import ModelSource

__all__ = ["BudgetError", "ExportResult", "ModelSource", "OptimizeResult", "UserError", "debug", "export", "optimize"]
