"""Will coremltools convert the float model?"""
from __future__ import annotations

from pathlib import Path

from ..contract import refused


def check(module, model, specs, folder: Path) -> list[str]:
    import torch

    from ...model.signature import examples
    from .export import _convert, _quiet

    try:
        with _quiet():
            _convert(torch.export.export(module, examples(model.inputs)))  # at the --input-shape batch, as _static
    except Exception as e:
        return refused(specs, "coremltools cannot convert the model", e)
    return []
