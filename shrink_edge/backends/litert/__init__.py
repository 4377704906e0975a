"""TFLite / LiteRT: full-int8 (litert-torch from the int8 program), dynamic int8 (int8 weights, activations
quantized at run time), int16 activations with int8 weights (16x8) and float16 weights (for the GPU delegate), run
by ai-edge-litert."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import llm, session, timing
from ..shared.float_models import litert_refusals
from .intermediates import intermediates
from .a16w8 import TfliteExportA16W8
from .dynamic import TfliteExportDynamic
from .export import TfliteExport
from .fp16 import TfliteExportFp16
from .recurrent import TfliteRecurrentInt8

BACKEND = Backend(
    name="litert",
    formats=(Format("tflite-int8", ".int8.tflite"),
             Format("tflite-int8-static", ".static.int8.tflite"),  # no hybrid kernel: TFLite Micro's and Vela's input
             Format("tflite-dynamic", ".dynamic.tflite", activations="dynamic"),
             Format("tflite-fp16", ".fp16.tflite", activations="float32"),  # float16 weights, widened
             Format("tflite-a16w8", ".a16w8.tflite", activations="int16")),
    passes=(TfliteExport(), TfliteRecurrentInt8(), TfliteExportDynamic(), TfliteExportFp16(), TfliteExportA16W8()),
    predict=session.predict,
    facts=session.facts,
    check=litert_refusals,  # the float .tflite it writes is kept for TFLM's and Vela's checks
    extra="litert",
    requires=("ai_edge_litert", "litert_torch", "ai_edge_quantizer"),
    intermediates=intermediates,
    timing=Timing(timing),
    llm=llm.LLM,
)
