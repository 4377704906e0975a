"""torch -> torch: fine-tune with knowledge distillation from the original float model."""
from __future__ import annotations

from pathlib import Path

from ..model import checkpoint
from ..errors import UserError
from ..config.settings import DistillSettings
from ..compress.training import distill
from .base import ConfiguredPass, Context


def training_data(ctx: Context):
    if ctx.train is None:
        raise UserError("fine-tuning needs training data: give --train-data (IDX directory or .npz) or set "
                        "train_data in the recipe")
    return ctx.train


class Distill(ConfiguredPass):
    name = "distill"
    source = "torch"
    target = "torch"
    config: DistillSettings

    def data_settings(self, ctx: Context) -> dict:
        return {"data": training_data(ctx).digest()}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        student, teacher = ctx.model.load(src), ctx.model.load()
        distill(student, teacher, training_data(ctx), self.config, ctx.steps, "distill", ctx.class_output,
                ctx.scratch / "resume.pt" if ctx.scratch else None, ctx.device)
        checkpoint.save(student, dst)
