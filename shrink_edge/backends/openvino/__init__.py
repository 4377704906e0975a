"""OpenVINO IR, int8, from the int8 ONNX model; run on the CPU plugin."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .export import OpenVinoExport

BACKEND = Backend(
    name="openvino",
    formats=(Format("openvino-int8", ".int8.openvino"),),  # a folder: model.xml + model.bin
    passes=(OpenVinoExport(),),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    extra="openvino",
    requires=("openvino",),
    timing=Timing(timing, on_phone=False),
    llm=llm.LLM,
)
