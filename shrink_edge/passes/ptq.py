"""pt2 -> pt2-int8: post-training quantization, calibrating PT2E observers on sample data."""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..model.source import load_program
from ..quant.equalization import equalize
from ..quant.smoothing import smooth
from ..quant.scheme import converted, prepared
from .base import Context, Pass
from .torch_export import export_program

BATCH = 32


class PostTrainingQuantize(Pass):
    name = "ptq"
    source = "pt2"
    target = "pt2-int8"
    version = 25  # 25: rolls on their input's grid, rearrangements of any rank (Core ML drops those over 5); 24: none of more than 5 dimensions (Core ML); 23 (22): rearrangements (reshape, transpose, contiguous) on their input's grid; 21: a split's parts on its input's grid; 20: sigmoids on their fixed grid; 19: tanh read on its grid; 18: pads on their input grid; 17: tanh on its fixed grid; 16: transposed convolutions int8; 15: batch norms after a layer others read split; 14 (13): concatenations and resizes int8; 12: late batch norm split; 11: hardswish, PReLU, pools; 10: gates; 8: bias_correction

    def settings(self, ctx: Context) -> dict:
        return {"scheme": vars(ctx.quantization), "calibration": ctx.calibration.digest()}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import torch

        program = calibrated(load_program(src).module(), ctx, fold=True)
        torch.export.save(export_program(program, ctx.model.inputs), dst)


def calibrated(module, ctx: Context, fold: bool = True):
    """The float program's int8 program: equalized and smoothed if the scheme says so, observers calibrated on the
    calibration data, then converted with the scheme's float layers (quantization.converted)."""
    import torch

    n = min(ctx.quantization.calibration_samples, len(ctx.calibration))
    inputs = [x[:n] for x in ctx.calibration.arrays()]
    if ctx.quantization.equalize:
        equalize(module)
    if ctx.quantization.smooth:
        with ctx.steps.step("smoothing activation outliers into the weights (SmoothQuant)"):
            smooth(module, inputs)
    observed = prepared(module, ctx.quantization)
    with ctx.steps.step("calibrating int8 ranges", total=n) as advance, torch.no_grad():
        for i in range(0, n, BATCH):
            observed(*(torch.from_numpy(x[i:i + BATCH]) for x in inputs))
            advance(min(BATCH, n - i))
    with ctx.steps.step("correcting biases for the weights' rounding") if ctx.quantization.bias_correction \
            else contextlib.nullcontext():
        return converted(observed, ctx.quantization.keep_float, fold,
                         inputs if ctx.quantization.bias_correction else None)

