"""TFLite / LiteRT full-int8: litert-torch writes it from the int8 program, ai-edge-litert runs it."""
from ...formats import Format
from ..contract import Backend
from . import check, session
from .intermediates import intermediates
from .export import TfliteExport

BACKEND = Backend(
    name="litert",
    formats=(Format("tflite-int8", ".int8.tflite"),),
    passes=(TfliteExport(),),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    intermediates=intermediates,
)
