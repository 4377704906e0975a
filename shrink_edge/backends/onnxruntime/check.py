"""Will the ONNX exporter take the float model, and onnxruntime load it? The .onnx is kept for OpenVINO's check."""
from __future__ import annotations

from pathlib import Path

from ..shared.float_models import loaded_by


def check(module, model, specs, folder: Path) -> list[str]:
    from .timing import session

    return loaded_by("onnxruntime", session, module, model, specs, folder)
