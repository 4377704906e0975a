"""The edges of the converter graph."""
from .base import Context, Pass
from .onnx_export import OnnxExportFloat, OnnxExportInt8
from .ptq import PostTrainingQuantize
from .torch_export import TorchExport

PASSES: tuple[Pass, ...] = (TorchExport(), PostTrainingQuantize(), OnnxExportFloat(), OnnxExportInt8())

__all__ = ["PASSES", "Context", "Pass"]
