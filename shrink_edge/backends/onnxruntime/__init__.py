"""ONNX for onnxruntime: the float model, an int8 QDQ model, a dynamically quantized one (int8 weights,
activations quantized at run time) and a float16 one, run on the CPU execution provider."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .intermediates import intermediates
from .dynamic import OnnxQuantizeDynamic
from .export import OnnxExportFloat, OnnxExportInt8
from .fp16 import OnnxConvertFp16

BACKEND = Backend(
    name="onnxruntime",
    formats=(Format("onnx", ".onnx", quantized=False, activations="float32"), Format("onnx-int8", ".int8.onnx"),
             Format("onnx-dynamic", ".dynamic.onnx", activations="dynamic"),
             Format("onnx-fp16", ".fp16.onnx", activations="float16")),
    passes=(OnnxExportFloat(), OnnxExportInt8(), OnnxQuantizeDynamic(), OnnxConvertFp16()),
    predict=session.predict,
    check=check.check,
    facts=session.facts,
    intermediates=intermediates,
    timing=Timing(timing),
    llm=llm.LLM,
)
