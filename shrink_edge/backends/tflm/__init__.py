"""TensorFlow Lite Micro: a bundle (flatbuffer, C array, op resolver, measured arena) run by the TFLM reference
interpreter."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, session, timing
from .bundle import TflmBundle

BACKEND = Backend(
    name="tflm",
    formats=(Format("tflm", ".tflm"),),  # a folder
    passes=(TflmBundle(),),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    extra="mcu",
    requires=("tflite_micro",),
    timing=Timing(timing, on_phone=False),
)
