"""Run an ONNX model in onnxruntime on the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .timing import session  # one session recipe for profiling and verifying

BATCH = 250


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    if not all(n in inputs for n in names) and len(names) == len(inputs):
        names = list(inputs)  # a file another tool wrote: feed by position
    feeds = dict(zip([i.name for i in sess.get_inputs()], [inputs[n] for n in names]))
    n = len(next(iter(inputs.values())))
    chunks = [sess.run(None, {k: v[i:i + BATCH] for k, v in feeds.items()}) for i in range(0, n, BATCH)]
    return {o.name: np.concatenate(parts) for o, parts in zip(sess.get_outputs(), zip(*chunks))}
