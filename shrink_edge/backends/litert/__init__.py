"""TFLite / LiteRT: full-int8 (litert-torch from the int8 program) and dynamic int8 (int8 weights, activations
quantized at run time), run by ai-edge-litert."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import llm, session, timing
from ..shared.float_models import litert_refusals
from .intermediates import intermediates
from .dynamic import TfliteExportDynamic
from .export import TfliteExport

BACKEND = Backend(
    name="litert",
    formats=(Format("tflite-int8", ".int8.tflite"), Format("tflite-dynamic", ".dynamic.tflite")),
    passes=(TfliteExport(), TfliteExportDynamic()),
    predict=session.predict,
    facts=session.facts,
    check=litert_refusals,  # the float .tflite it writes is kept for TFLM's and Vela's checks
    extra="litert",
    requires=("ai_edge_litert", "litert_torch", "ai_edge_quantizer"),
    intermediates=intermediates,
    timing=Timing(timing),
    llm=llm.LLM,
)
