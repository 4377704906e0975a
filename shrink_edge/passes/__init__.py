"""The edges of the converter graph."""
from .base import Context, Pass
from .coreml import CoremlExportInt8, CoremlExportWeights8
from .onnx_export import OnnxExportFloat, OnnxExportInt8
from .openvino import OpenVinoExport
from .ptq import PostTrainingQuantize
from .tflite import TfliteExport
from .tflm import TflmBundle
from .torch_export import TorchExport
from .vela import VelaCompile

PASSES: tuple[Pass, ...] = (TorchExport(), PostTrainingQuantize(), OnnxExportFloat(), OnnxExportInt8(), TfliteExport(),
                               TflmBundle(), VelaCompile(), OpenVinoExport(), CoremlExportInt8(),
                               CoremlExportWeights8())

__all__ = ["PASSES", "Context", "Pass"]
