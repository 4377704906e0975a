"""Core ML: prediction needs macOS; elsewhere the package is loaded without compiling and its ops counted."""
from __future__ import annotations

import platform
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import PredictionUnavailable


def predict(path: Path, x: np.ndarray) -> np.ndarray:
    if platform.system() != "Darwin":
        raise PredictionUnavailable(f"Core ML prediction needs macOS (this is {platform.system()})")
    import coremltools as ct

    model = ct.models.MLModel(str(path))
    name = model.get_spec().description.input[0].name
    return np.concatenate([np.asarray(next(iter(model.predict({name: x[i:i + 1]}).values())), np.float32)
                           for i in range(len(x))])


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
