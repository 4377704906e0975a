"""Passes on the model itself (export, PTQ, pruning, distillation, QAT); each backend brings the passes into its
own formats (backends/<name>/)."""
from .base import Context, Pass
from .ptq import PostTrainingQuantize
from .torch_export import TorchExport

MODEL_PASSES: tuple[Pass, ...] = (TorchExport(), PostTrainingQuantize())

__all__ = ["MODEL_PASSES", "Context", "Pass"]
