"""Will the ONNX exporter take the float model, and onnxruntime load it? The .onnx is kept for OpenVINO's check."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ...model.signature import examples
from ..contract import ConversionFailed, once, refused


def float_onnx(module, model, folder: Path) -> Path:
    """The float model as torch.onnx exports it, once per check (ConversionFailed if it cannot)."""
    def convert(path: Path) -> None:
        import torch

        from ...passes.torch_export import export_program

        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(export_program(module, model.inputs), examples(model.inputs, 2), str(path),
                              dynamo=True, external_data=False, verbose=False)

    return once(folder, "float.onnx", convert)


def loaded_by(runtime: str, load, module, model, specs, folder: Path) -> list[str]:
    """The float ONNX export, then `load(path)` in `runtime`: one line for whichever refuses it."""
    try:
        path = float_onnx(module, model, folder)
    except ConversionFailed as e:
        return refused(specs, "torch.onnx cannot export the model", e)
    try:
        load(path)
    except Exception as e:
        return refused(specs, f"{runtime} cannot load the float model", e)
    return []


def check(module, model, specs, folder: Path) -> list[str]:
    from .timing import session

    return loaded_by("onnxruntime", session, module, model, specs, folder)
