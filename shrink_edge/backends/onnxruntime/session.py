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
    """How an int8 file stores its weights, which picks onnxruntime's kernels (export.weight_option). Nothing for a
    float file."""
    import onnx

    from .qdq import seven_bits, weight_arrays

    model = onnx.load(path)
    dtypes = sorted({str(a.dtype) for a in weight_arrays(model)})
    return {"weights": ", ".join(dtypes) + (" (7 bits)" if seven_bits(model) else "")} if dtypes else {}
