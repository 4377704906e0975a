"""Run an ONNX model in onnxruntime on the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..devices.runner import ort_session as session  # one session recipe for profiling and verifying

BATCH = 250


def predict(path: Path, x: np.ndarray) -> np.ndarray:
    sess = session(path)
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + BATCH]})[0] for i in range(0, len(x), BATCH)])
