"""pt2 -> tflite-a16w8: litert-torch's float .tflite through ai-edge-quantizer's `static_wi8_ai16` recipe: int8
weights (per channel), int16 activations and I/O with static ranges from the calibration data (TFLite's 16x8 mode:
each activation step 256 times finer than int8's, the weights as small). Where int8 activations lose a model's
accuracy (a regressor, BatchNorm after ReLU), int16 ones often keep it without a float layer. LiteRT runs it with
its reference int16 kernels, not XNNPACK (which has none): slower than int8; TFLite Micro has int16x8 kernels too."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass
from .recipes import with_recipe


class TfliteExportA16W8(Pass):
    name = "tflite-export-a16w8"
    source = "pt2"
    target = "tflite-a16w8"
    version = 1

    def settings(self, ctx: Context) -> dict:
        return {"calibration": ctx.calibration.digest(), "samples": ctx.quantization.calibration_samples}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        from ai_edge_quantizer import recipe

        n = min(ctx.quantization.calibration_samples, len(ctx.calibration))
        batch = ctx.model.inputs[0].shape[0]  # the .tflite's fixed batch
        runs = [{spec.name: x[i:i + batch].astype(spec.dtype) for spec, x in zip(ctx.model.inputs,
                                                                              ctx.calibration.arrays())}
                for i in range(0, n - batch + 1, batch)]
        with_recipe(src, dst, ctx, recipe.static_wi8_ai16(), calibration=runs)
