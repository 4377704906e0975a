"""Timing an .onnx in onnxruntime, for the profiler's runner (standalone: numpy and the runtime only). The input is
bound once (io binding), so each timed call is the inference alone."""
from pathlib import Path

import numpy as np

RUNTIME = "onnxruntime"
PACKAGE = "onnxruntime"
TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
         "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def claims(path: Path) -> bool:
    return path.suffix == ".onnx"


def session(path: Path, threads: int = 1):
    """An onnxruntime CPU session with `threads` intra-op threads (also what verification runs on the host)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load(path: Path, threads: int, random_input):
    sess = session(path, threads)
    binding = sess.io_binding()
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        binding.bind_cpu_input(inp.name, random_input(shape, TYPES.get(inp.type, np.float32), False))
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    return lambda: sess.run_with_iobinding(binding)
