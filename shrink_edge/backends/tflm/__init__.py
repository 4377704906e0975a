"""TensorFlow Lite Micro: a bundle (flatbuffer, C array, op resolver, measured arena) of LiteRT's int8 or 16x8 file,
run by the TFLM reference interpreter."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, session, timing
from .bundle import TflmBundle, TflmBundleA16W8

BACKEND = Backend(
    name="tflm",
    formats=(Format("tflm", ".tflm"), Format("tflm-a16w8", ".a16w8.tflm", activations="int16")),  # folders
    passes=(TflmBundle(), TflmBundleA16W8()),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    extra="mcu",
    requires=("tflite_micro",),
    timing=Timing(timing, on_phone=False),
)
