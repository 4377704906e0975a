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


def session(path: Path, threads: int = 1, graph=None):
    """An onnxruntime CPU session with `threads` intra-op threads (also what verification runs on the host). A
    float16 file with a MatMul is opened without the NCHWc layout transformer: on x86 it dereferences a null op
    where onnxruntime's own Cast(float16 -> float32) feeds a MatMul and kills the process
    (microsoft/onnxruntime#28392, in 1.24-1.32: a float16 ViT). Convolutions then run without NCHWc blocking.
    `graph`: the file's ONNX graph, where the caller has read it already."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    disabled = ["NchwcTransformer"] if _float16_matmul(path, graph) else []
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)


def _float16_matmul(path: Path, graph=None) -> bool:
    """Whether the file holds float16 weights and a MatMul (read with onnx where it is installed; a device without
    it: no)."""
    try:
        import onnx
    except ImportError:
        return False
    graph = graph if graph is not None else onnx.load(str(path), load_external_data=False).graph
    return (any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
            and any(n.op_type == "MatMul" for n in graph.node))


def load(path: Path, threads: int, random_input):
    sess = session(path, threads)
    binding = sess.io_binding()
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        binding.bind_cpu_input(inp.name, random_input(shape, TYPES.get(inp.type, np.float32), False))
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    return lambda: sess.run_with_iobinding(binding)
