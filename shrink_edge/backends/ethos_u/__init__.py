"""Arm Ethos-U: the int8 .tflite compiled by Vela. It runs only on the NPU: Vela's estimates are its facts."""
from ...engine.formats import Format
from ..contract import Backend
from .check import check
from . import session
from .vela import VelaCompile

BACKEND = Backend(
    name="ethos-u",
    formats=(Format("ethos-u", ".ethos-u"),),  # a folder: the Vela-compiled flatbuffer and Vela's estimates
    passes=(VelaCompile(),),
    predict=session.predict,
    facts=session.facts,
    check=check,
    extra="mcu",
    requires=("ethosu",),
)
