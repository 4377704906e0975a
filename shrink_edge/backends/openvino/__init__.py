"""OpenVINO IR, int8 from the int8 ONNX model and float16 from the float one; run on the CPU plugin."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .export import OpenVinoExport
from .fp16 import OpenVinoExportFp16

BACKEND = Backend(
    name="openvino",
    formats=(Format("openvino-int8", ".int8.openvino"),  # a folder: model.xml + model.bin
             Format("openvino-fp16", ".fp16.openvino", activations="float32")),  # float16 weights
    passes=(OpenVinoExport(), OpenVinoExportFp16()),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    extra="openvino",
    requires=("openvino",),
    timing=Timing(timing, on_phone=False),
    llm=llm.LLM,
)
