"""Before any training: will the real converters and runtimes take the float model? Each target family's
converter runs on the float model (seconds) and its runtime loads the result, so what they refuse is said in one
line before minutes of pruning and QAT, in their own words: no list of ours stands between a model and a converter.
"""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from .errors import first_line
from .signature import examples
from .targets import TargetSpec

LITERT = ("litert", "tflm", "ethos-u")


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {first_line(e)}"


def litert_problems(module, model, specs: list[TargetSpec], folder: Path) -> list[str]:
    import litert_torch

    from .passes.tflite import named_io

    names = [s.name for s in model.inputs]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litert_torch.convert(named_io(module, names, model.outputs), (),
                                 sample_kwargs=dict(zip(names, examples(model.inputs)))).export(str(folder / "f.tflite"))
    except Exception as e:  # the converter's own reason, whatever it raises
        return [f"{', '.join(s.name for s in specs)}: litert-torch cannot convert the model ({_reason(e)})"]
    from .passes.tflm import refusal

    boards = [s for s in specs if s.runtime == "tflm"]
    if not boards or not (reason := refusal(folder / "f.tflite")):
        return []
    return [f"{', '.join(s.name for s in boards)}: {reason} (in the float model as litert-torch writes it)"]


def onnx_problems(module, model, specs: list[TargetSpec], folder: Path) -> list[str]:
    import logging

    import torch

    from .passes.torch_export import export_program

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            torch.onnx.export(export_program(module, model.inputs), examples(model.inputs, 2), str(folder / "f.onnx"),
                              dynamo=True, external_data=False, verbose=False)
    except Exception as e:
        return [f"{', '.join(s.name for s in specs)}: torch.onnx cannot export the model ({_reason(e)})"]
    problems = []
    for spec in specs:
        try:
            if spec.runtime == "onnxruntime":
                from .runtimes.onnxruntime_runner import session

                session(folder / "f.onnx")
            else:
                import openvino as ov

                ov.Core().compile_model(ov.convert_model(str(folder / "f.onnx")), "CPU")
        except Exception as e:
            problems.append(f"{spec.name}: {spec.runtime} cannot load the float model ({_reason(e)})")
    return problems


def coreml_problems(module, model, specs: list[TargetSpec], folder: Path) -> list[str]:
    from .passes.coreml import _convert, _quiet
    from .passes.torch_export import export_program

    try:
        with _quiet():
            _convert(export_program(module, model.inputs))
    except Exception as e:
        return [f"{', '.join(s.name for s in specs)}: coremltools cannot convert the model ({_reason(e)})"]
    return []


def problems(module, model, specs: list[TargetSpec]) -> list[str]:
    """One line per target family whose converter or runtime refuses the float model; empty when all take it."""
    families = [(litert_problems, [s for s in specs if s.runtime in LITERT]),
                (onnx_problems, [s for s in specs if s.runtime in ("onnxruntime", "openvino")]),
                (coreml_problems, [s for s in specs if s.runtime == "coreml"])]
    found = []
    with tempfile.TemporaryDirectory() as folder:
        for check, members in families:
            if members:
                found += check(module, model, members, Path(folder))
    return found
