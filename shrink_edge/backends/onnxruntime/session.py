"""Run an ONNX model in onnxruntime on the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...signature import by_name_else_position
from .timing import session  # one session recipe for profiling and verifying

BATCH = 250


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    if (arrays := by_name_else_position(inputs, names)) is None:
        raise RuntimeError(f"{path.name} has inputs {', '.join(names)}; given {', '.join(inputs)}")
    feeds = dict(zip(names, arrays))
    n = len(next(iter(inputs.values())))
    chunks = [sess.run(None, {k: v[i:i + BATCH] for k, v in feeds.items()}) for i in range(0, n, BATCH)]
    return {o.name: np.concatenate(parts) for o, parts in zip(sess.get_outputs(), zip(*chunks))}


def facts(path: Path) -> dict:
    """How an int8 file stores its weights, which picks onnxruntime's kernels: int8 (u8s8, 7 bits where they must
    not saturate, see overflow.py) or uint8 (u8u8). Nothing for a float file."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    weights = {i.name: i for i in graph.initializer}
    arrays = [numpy_helper.to_array(weights[n.input[0]]) for n in graph.node
              if n.op_type == "DequantizeLinear" and n.input[0] in weights]
    arrays = [a for a in arrays if a.size > 1]  # not a quantized scalar
    if not arrays:
        return {}
    dtypes = sorted({str(a.dtype) for a in arrays})
    seven = all(a.min() >= -64 and a.max() <= 63 for a in arrays if a.dtype == np.int8)
    return {"weights": ", ".join(dtypes) + (" (7 bits)" if dtypes == ["int8"] and seven else "")}
