"""Core ML .mlpackage: W8A8 from the int8 program, int8 weights with float activations, and float16; decoder LMs
as stateful models. Prediction needs macOS; elsewhere the spec is loaded and checked."""
from ...engine.formats import Format
from ..contract import Backend
from . import check, llm, session
from .export import CoremlExportFp16, CoremlExportInt8, CoremlExportWeights8
from ..shared.coreml_spec import facts

BACKEND = Backend(
    name="coreml",
    formats=(Format("coreml-int8", ".int8.mlpackage"), Format("coreml-w8", ".w8.mlpackage", activations="float16"),
             Format("coreml-fp16", ".fp16.mlpackage", activations="float16")),
    passes=(CoremlExportInt8(), CoremlExportWeights8(), CoremlExportFp16()),
    predict=session.predict,
    facts=facts,  # the spec alone: prediction needs macOS
    check=check.check,
    extra="coreml",
    requires=("coremltools",),
    llm=llm.LLM,
)
