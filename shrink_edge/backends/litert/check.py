"""Will litert-torch convert the float model? The .tflite it writes is kept for TFLM's and Vela's checks."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from ...model.signature import examples
from ..contract import ConversionFailed, once, refused


def float_tflite(module, model, folder: Path) -> Path:
    """The float model as litert-torch writes it, converted once per check (ConversionFailed if it cannot)."""
    def convert(path: Path) -> None:
        import litert_torch

        from .export import named_io

        names = [s.name for s in model.inputs]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litert_torch.convert(named_io(module, names, model.outputs), (),
                                 sample_kwargs=dict(zip(names, examples(model.inputs)))).export(str(path))

    return once(folder, "float.tflite", convert)


def check(module, model, specs, folder: Path) -> list[str]:
    try:
        float_tflite(module, model, folder)
    except ConversionFailed as e:
        return refused(specs, "litert-torch cannot convert the model", e)
    return []
