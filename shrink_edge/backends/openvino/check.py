"""Will OpenVINO compile the float model (from the ONNX export its pass starts from)?"""
from __future__ import annotations

from pathlib import Path

from ..shared.float_models import loaded_by


def _compile(path: Path) -> None:
    import openvino as ov

    ov.Core().compile_model(ov.convert_model(str(path)), "CPU")


def check(module, model, specs, folder: Path) -> list[str]:
    return loaded_by("openvino", _compile, module, model, specs, folder)
