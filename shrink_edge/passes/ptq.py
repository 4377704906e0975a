"""pt2 -> pt2-int8: post-training quantization, calibrating PT2E observers on sample data."""
from __future__ import annotations

from pathlib import Path

from ..model_source import load_program
from ..quantization import biases_on_int32_grid, make_quantizer
from .base import Context, Pass
from .torch_export import export_program

BATCH = 32


class PostTrainingQuantize(Pass):
    name = "ptq"
    source = "pt2"
    target = "pt2-int8"
    version = 4  # biases on their int32 grid

    def settings(self, ctx: Context) -> dict:
        return {"scheme": vars(ctx.quantization), "calibration": ctx.calibration.digest()}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import torch
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        prepared = prepare_pt2e(load_program(src).module(), make_quantizer(ctx.quantization))
        n = min(ctx.quantization.calibration_samples, len(ctx.calibration))
        inputs = [x[:n] for x in ctx.calibration.arrays()]
        with ctx.steps.step("calibrating int8 ranges", total=n) as advance, torch.no_grad():
            for i in range(0, n, BATCH):
                prepared(*(torch.from_numpy(x[i:i + BATCH]) for x in inputs))
                advance(min(BATCH, n - i))
        converted = convert_pt2e(prepared)
        biases_on_int32_grid(converted)
        torch.export.save(export_program(converted, ctx.model.inputs), dst)

