"""The float model as the ONNX exporter and litert-torch write it, once per pre-training check: onnxruntime's
and OpenVINO's checks load the same .onnx, LiteRT's, TFLite Micro's and Vela's the same .tflite."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ...model.signature import examples
from ..contract import ConversionFailed, once, refused
from .tflite_io import named_io


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


def litert_refusals(module, model, specs, folder: Path) -> list[str]:
    """One line if litert-torch cannot convert the float model (LiteRT's check, and the first of Vela's)."""
    try:
        float_tflite(module, model, folder)
    except ConversionFailed as e:
        return refused(specs, "litert-torch cannot convert the model", e)
    return []


def float_tflite(module, model, folder: Path) -> Path:
    """The float model as litert-torch writes it, converted once per check (ConversionFailed if it cannot)."""
    def convert(path: Path) -> None:
        import litert_torch

        names = [s.name for s in model.inputs]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litert_torch.convert(named_io(module, names, model.outputs), (),
                                 sample_kwargs=dict(zip(names, examples(model.inputs)))).export(str(path))

    return once(folder, "float.tflite", convert)
