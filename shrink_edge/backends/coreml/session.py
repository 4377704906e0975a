"""Core ML: prediction needs macOS; elsewhere the package is loaded without compiling and its ops counted."""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from ...errors import PredictionUnavailable
from ...model.signature import by_name_else_position


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if platform.system() != "Darwin":
        raise PredictionUnavailable(f"Core ML prediction needs macOS (this is {platform.system()})")
    import coremltools as ct

    model = ct.models.MLModel(str(path))
    description = model.get_spec().description
    names = [f.name for f in description.input]
    if (arrays := by_name_else_position(inputs, names)) is None:
        raise RuntimeError(f"{path.name} has inputs {', '.join(names)}; given {', '.join(inputs)}")
    inputs = dict(zip(names, arrays))
    n = len(next(iter(inputs.values())))
    results = [model.predict({k: v[i:i + 1] for k, v in inputs.items()}) for i in range(n)]
    return {f.name: np.concatenate([np.asarray(r[f.name], np.float32) for r in results])
            for f in description.output}


