"""Core ML's own int4: coremltools' linear_quantize_weights on our float .mlpackage, symmetric int4 in blocks of 32
along each weight's inputs (constexpr_blockwise_shift_scale, what Core ML 18's int4 kernels read), on every weight
(its default skips weights of 2,048 elements or fewer: here none is)."""
from __future__ import annotations

from pathlib import Path

from ..contract import RuntimeQuantizer

BLOCK = 32


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    import coremltools as ct
    from coremltools.optimize import coreml as cto

    source = ct.models.MLModel(str(float_file()), skip_model_load=True)
    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=BLOCK, weight_threshold=0))
    cto.linear_quantize_weights(source, config).save(str(path))


QUANTIZER = RuntimeQuantizer("coremltools' linear_quantize_weights: int4 blocks of 32", write)
