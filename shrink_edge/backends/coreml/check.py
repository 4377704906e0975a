"""Will coremltools convert the float model?"""
from __future__ import annotations

from pathlib import Path

from ..contract import refused


def check(module, model, specs, folder: Path) -> list[str]:
    from ...passes.torch_export import export_program
    from .export import _convert, _quiet, _static

    try:
        with _quiet():
            _convert(_static(export_program(module, model.inputs), model.inputs))
    except Exception as e:
        return refused(specs, "coremltools cannot convert the model", e)
    return []
