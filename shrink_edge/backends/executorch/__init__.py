"""ExecuTorch: PyTorch's on-device runtime. A .pte lowered with XNNPACK (float, and int8 from the same int8
program as every other target), run by executorch.runtime on the host; and the int8 program delegated to Core ML,
whose .pte runs on Apple devices only (its Core ML model is checked at spec level elsewhere), and to an Arm Ethos-U
NPU (Vela's command stream, read from the file), whose TOSA graph runs in Arm's TOSA reference model."""
from ...engine.formats import Format
from ..contract import Backend, Timing
from . import check, llm, session, timing
from .lower import (ExecutorchLowerCoreml, ExecutorchLowerEthosU, ExecutorchLowerFloat, ExecutorchLowerInt8, ExecutorchLowerTosa)

BACKEND = Backend(
    name="executorch",
    formats=(Format("executorch", ".pte", quantized=False, activations="float32"),
             Format("executorch-int8", ".int8.pte"),
             Format("executorch-coreml-int8", ".coreml.int8.pte"), Format("executorch-ethos-u-int8", ".ethos-u.int8.pte"),
             Format("executorch-tosa-int8", ".tosa.int8.pte")),
    passes=(ExecutorchLowerFloat(), ExecutorchLowerInt8(), ExecutorchLowerCoreml(), ExecutorchLowerEthosU(),
            ExecutorchLowerTosa()),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
    extra="executorch",
    requires=("executorch",),
    timing=Timing(timing, phone_packages=("g++",),
                  phone_wheel_deps=False,  # its dependencies include torch: the timer needs only the wheel's libraries
                  build_on_phone=timing.build_on_phone),
    llm=llm.LLM,
)
