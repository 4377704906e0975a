"""ONNX for onnxruntime: the float model, an int8 QDQ model and a dynamically quantized one (int8 weights,
activations quantized at run time), run on the CPU execution provider."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .intermediates import intermediates
from .dynamic import OnnxQuantizeDynamic
from .export import OnnxExportFloat, OnnxExportInt8

BACKEND = Backend(
    name="onnxruntime",
    formats=(Format("onnx", ".onnx", quantized=False), Format("onnx-int8", ".int8.onnx"),
             Format("onnx-dynamic", ".dynamic.onnx")),
    passes=(OnnxExportFloat(), OnnxExportInt8(), OnnxQuantizeDynamic()),
    predict=session.predict,
    check=check.check,
    facts=session.facts,
    intermediates=intermediates,
    timing=Timing(timing),
    llm=llm.LLM,
)
