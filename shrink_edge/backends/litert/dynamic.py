"""pt2 -> tflite-dynamic: litert-torch's float .tflite, then ai-edge-quantizer's dynamic recipe: int8 weights (per
channel) in FULLY_CONNECTED, BATCH_MATMUL, CONV_2D, EMBEDDING_LOOKUP..., whose float inputs LiteRT's hybrid kernels
quantize at run time from their own range; everything else float. No calibration: what transformers and recurrent
nets need where one static range per activation loses (see backends/onnxruntime/dynamic.py)."""
from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from ...passes.base import Context, Pass
from .recipes import with_recipe


class TfliteExportDynamic(Pass):
    name = "tflite-export-dynamic"
    source = "pt2"
    target = "tflite-dynamic"
    version = 2  # 2: files whose constants sit after the flatbuffer are not repacked

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        from ai_edge_quantizer import recipe

        if ctx.quantization.keep_float:
            raise UserError(f"keep_float ({', '.join(ctx.quantization.keep_float)}) is not supported by the "
                            "tflite-dynamic format yet: ai-edge-quantizer's recipe selects by LiteRT tensor names, "
                            "not module paths; drop keep_float or use the onnx-dynamic target")
        with_recipe(src, dst, ctx, recipe.dynamic_wi8_afp32())
