"""ExecuTorch: PyTorch's on-device runtime. A .pte lowered with XNNPACK (float, and int8 from the same int8
program as every other target), run by executorch.runtime on the host."""
from ...formats import Format
from ..contract import Backend
from . import check, session
from .lower import ExecutorchLowerFloat, ExecutorchLowerInt8

BACKEND = Backend(
    name="executorch",
    formats=(Format("executorch", ".pte", quantized=False), Format("executorch-int8", ".int8.pte")),
    passes=(ExecutorchLowerFloat(), ExecutorchLowerInt8()),
    predict=session.predict,
    facts=session.facts,
    check=check.check,
)
