"""torch -> torch: structured channel pruning."""
from __future__ import annotations

from pathlib import Path

from ..model import checkpoint
from ..compress.pruning import prune
from ..config.settings import PruneSettings
from ..model.signature import examples
from .base import ConfiguredPass, Context

TAYLOR_BATCHES = 4


class Prune(ConfiguredPass):
    name = "prune"
    source = "torch"
    target = "torch"
    config: PruneSettings

    def data_settings(self, ctx: Context) -> dict:
        uses_data = self.config.importance == "taylor" and ctx.train is not None
        return {"data": ctx.train.digest() if uses_data else None}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import torch

        model = ctx.model.load(src)
        example = examples(ctx.model.inputs)
        batches = []
        if self.config.importance == "taylor" and ctx.train is not None and ctx.class_output is not None:
            batches = [([torch.from_numpy(x[i:i + 64]) for x in ctx.train.arrays()],
                        torch.from_numpy(ctx.train.class_labels[i:i + 64]))
                       for i in range(0, min(len(ctx.train), 64 * TAYLOR_BATCHES), 64)]
        checkpoint.save(prune(model, example, self.config, batches, ctx.class_output or 0), dst)
