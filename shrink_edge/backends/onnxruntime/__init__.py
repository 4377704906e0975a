"""ONNX for onnxruntime: the float model and an int8 QDQ model, run on the CPU execution provider."""
from ...formats import Format
from ..contract import Backend
from . import check, session
from .intermediates import intermediates
from .export import OnnxExportFloat, OnnxExportInt8

BACKEND = Backend(
    name="onnxruntime",
    formats=(Format("onnx", ".onnx", quantized=False), Format("onnx-int8", ".int8.onnx")),
    passes=(OnnxExportFloat(), OnnxExportInt8()),
    predict=session.predict,
    check=check.check,
    facts=session.facts,
    intermediates=intermediates,
)
