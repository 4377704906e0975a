"""Will TFLite Micro load the float model as litert-torch writes it (a kernel for every op, its limits)?"""
from __future__ import annotations

from pathlib import Path

from ..contract import ConversionFailed, refused
from ..shared.float_models import float_tflite


def check(module, model, specs, folder: Path) -> list[str]:
    from .bundle import refusal
    from .concat import split_wide

    try:
        path = float_tflite(module, model, folder)
    except ConversionFailed as e:
        return refused(specs, "litert-torch cannot convert the model", e)
    split = folder / "tflm.float.tflite"  # as the bundle will hold it
    split.write_bytes(split_wide(path.read_bytes()))
    if reason := refusal(split):
        return [f"{', '.join(s.name for s in specs)}: {reason} (in the float model as litert-torch writes it)"]
    return []
