"""What a Core ML model holds, read from its spec alone (no prediction: that needs macOS)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path


def facts(path: Path) -> dict:
    """The spec must load; count its ops, the quantization ones in particular, and a float model's float16
    weights (constants of rank 1 and more)."""
    import coremltools as ct
    from coremltools.proto import MIL_pb2

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    operations = [op for function in spec.mlProgram.functions.values()
                  for block in function.block_specializations.values() for op in block.operations]
    ops = Counter(op.type for op in operations)
    found = {"spec_version": spec.specificationVersion,
             "quantize_ops": ops["quantize"], "dequantize_ops": ops["dequantize"],
             "int8_weight_ops": ops["constexpr_affine_dequantize"] + ops["constexpr_blockwise_shift_scale"],
             "ops": dict(sorted(ops.items()))}
    halves = sum(op.type == "const" and op.attributes["val"].type.tensorType.dataType == MIL_pb2.FLOAT16
                 and len(op.attributes["val"].type.tensorType.dimensions) > 0 for op in operations)
    if halves and not (found["quantize_ops"] or found["int8_weight_ops"]):
        found["weights"] = f"float16 x{halves}"
    return found
