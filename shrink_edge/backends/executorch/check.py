"""Will ExecuTorch take the float model: torch.export at batch 1 and lowering with XNNPACK?"""
from __future__ import annotations

from pathlib import Path

from ..contract import refused


def check(module, model, specs, folder: Path) -> list[str]:
    from .lower import lowered, quiet

    try:
        with quiet():
            lowered(module, model.inputs).to_executorch()
    except Exception as e:
        return refused(specs, "executorch cannot lower the model", e)
    return []
