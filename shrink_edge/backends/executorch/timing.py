"""Timing a .pte in ExecuTorch's runtime, for the profiler's runner (standalone: numpy and the runtime only). The
inputs are made once; each timed call is `execute` alone."""
from pathlib import Path

RUNTIME = "executorch"
PACKAGE = "executorch"
ON_PHONE = False  # its aarch64 wheel needs torch too: not in the emulated phone yet


def claims(path: Path) -> bool:
    return path.suffix == ".pte"


def load(path: Path, threads: int, random_input):
    import numpy as np
    import torch
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")
    meta = method.metadata
    dtypes = {6: np.float32, 4: np.int64, 3: np.int32, 11: np.bool_, 0: np.uint8, 1: np.int8}  # c10::ScalarType
    inputs = []
    for i in range(meta.num_inputs()):
        info = meta.input_tensor_meta(i)
        dtype = dtypes.get(int(info.dtype()), np.float32)
        inputs.append(torch.from_numpy(random_input(list(info.sizes()), dtype, False)))
    return lambda: method.execute(inputs)
