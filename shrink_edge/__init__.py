"""shrink-edge: take a trained PyTorch model to the edge."""
from .errors import BudgetError, UserError
from .workflows.debug import debug
from .workflows.export import ExportResult, export
from .workflows.export_llm import LLMExport, export_llm
from .workflows.generate import generate
from .workflows.optimize import OptimizeResult, optimize
from .model.source import ModelSource

__all__ = ["BudgetError", "ExportResult", "LLMExport", "ModelSource", "OptimizeResult", "UserError", "debug", "export",
           "export_llm", "generate", "optimize"]
