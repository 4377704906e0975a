"""Will OpenVINO compile the float model (from the ONNX export its pass starts from)?"""
from __future__ import annotations

from pathlib import Path

from ..contract import ConversionFailed, refused
from ..onnxruntime.check import float_onnx


def check(module, model, specs, folder: Path) -> list[str]:
    try:
        path = float_onnx(module, model, folder)
    except ConversionFailed as e:
        return refused(specs, "torch.onnx cannot export the model", e)
    try:
        import openvino as ov

        ov.Core().compile_model(ov.convert_model(str(path)), "CPU")
    except Exception as e:
        return refused(specs, "openvino cannot load the float model", e)
    return []
