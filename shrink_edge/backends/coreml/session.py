"""Core ML: prediction needs macOS; elsewhere the package is loaded without compiling and its ops counted."""
from __future__ import annotations

import platform
from collections import Counter
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


def facts(path: Path) -> dict:
    """The spec must load; count its ops, the quantization ones in particular."""
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    ops = Counter(op.type for function in spec.mlProgram.functions.values()
                  for block in function.block_specializations.values() for op in block.operations)
    return {"spec_version": spec.specificationVersion,
            "quantize_ops": ops["quantize"], "dequantize_ops": ops["dequantize"],
            "int8_weight_ops": ops["constexpr_affine_dequantize"] + ops["constexpr_blockwise_shift_scale"],
            "ops": dict(sorted(ops.items()))}
