"""pt2 -> tflite-fp16: litert-torch's float .tflite with its weights stored as float16, each behind a DEQUANTIZE
(ai-edge-quantizer's float casting; what TensorFlow's converter writes for `supported_types = [tf.float16]`).
LiteRT's GPU delegate computes in float16 from them; its CPU (XNNPACK) widens them to float32 once at load: half
the file, float accuracy and speed."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass
from .recipes import with_recipe

FLOAT16_WEIGHTS = [{
    "regex": ".*",
    "operation": "*",
    "algorithm_key": "float_casting",
    "op_config": {
        "weight_tensor_config": {"num_bits": 16, "symmetric": True, "granularity": "TENSORWISE", "dtype": "FLOAT",
                                 "block_size": 0},
        "compute_precision": "FLOAT",
        "explicit_dequantize": True,
        "skip_checks": False,
        "min_weight_elements": 0,
    },
}]


class TfliteExportFp16(Pass):
    name = "tflite-export-fp16"
    source = "pt2"
    target = "tflite-fp16"
    version = 1

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        with_recipe(src, dst, ctx, FLOAT16_WEIGHTS)
