"""ONNX for onnxruntime: the float model, an int8 QDQ model, a dynamically quantized one (int8 weights,
activations quantized at run time), one with int16 activations and int8 weights (QDQ) and a float16 one, run on the
CPU execution provider."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .intermediates import intermediates
from .a16w8 import OnnxQuantizeA16W8
from .dynamic import OnnxQuantizeDynamic
from .export import OnnxExportFloat, OnnxExportInt8
from .fp16 import OnnxConvertFp16

BACKEND = Backend(
    name="onnxruntime",
    formats=(Format("onnx", ".onnx", quantized=False, activations="float32"), Format("onnx-int8", ".int8.onnx"),
             Format("onnx-dynamic", ".dynamic.onnx", activations="dynamic"),
             Format("onnx-fp16", ".fp16.onnx", activations="float16"),
             Format("onnx-a16w8", ".a16w8.onnx", activations="int16")),
    passes=(OnnxExportFloat(), OnnxExportInt8(), OnnxQuantizeDynamic(), OnnxConvertFp16(), OnnxQuantizeA16W8()),
    predict=session.predict,
    check=check.check,
    facts=session.facts,
    intermediates=intermediates,
    timing=Timing(timing),
    llm=llm.LLM,
)
