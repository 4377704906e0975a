"""What a Core ML model holds, read from its spec alone (no prediction: that needs macOS)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path


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
