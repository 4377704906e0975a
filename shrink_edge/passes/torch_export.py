"""torch -> pt2: capture the float model as a torch.export program with a dynamic batch dimension."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..model.signature import TensorSpec, examples
from .base import Context, Pass


def export_program(module, inputs: tuple[TensorSpec, ...]):
    """torch.export with batch 2 and a batch dynamic in every input: a batch-1 example would specialise it."""
    import torch

    batch = torch.export.Dim("batch", min=1)
    try:
        return torch.export.export(module, examples(inputs, 2), dynamic_shapes=tuple({0: batch} for _ in inputs))
    except Exception as e:  # torch.export raises many error types; its first line names the culprit
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"torch.export cannot capture the model: {type(e).__name__}: {first}; "
                        "make forward() traceable (no data-dependent control flow) and batch-size agnostic") from None


class TorchExport(Pass):
    name = "torch-export"
    source = "torch"
    target = "pt2"

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import torch

        torch.export.save(export_program(ctx.model.load(src), ctx.model.inputs), dst)
