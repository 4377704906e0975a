"""ai-edge-quantizer's recipes on litert-torch's float file: how the dynamic int8, float16 and 16x8 targets are made
(dynamic.py, fp16.py, a16w8.py)."""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from ...model.signature import examples
from ...model.source import load_program
from ...passes.base import Context
from ..shared.tflite_io import named_io
from .export import short_tensor_names

SIGNATURE = "serving_default"  # litert-torch's one signature


def with_recipe(src: Path, dst: Path, ctx: Context, chosen, calibration: list[dict] | None = None) -> None:
    """The program as litert-torch's float .tflite, then ai-edge-quantizer's `chosen` recipe applied to it (a
    static recipe calibrated on `calibration`: one {input name: batch} per run)."""
    import litert_torch
    from ai_edge_quantizer import quantizer

    names = [s.name for s in ctx.model.inputs]
    module = named_io(load_program(src).module(), names, ctx.model.outputs)
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        float_file = Path(folder) / "float.tflite"
        litert_torch.convert(module, (), sample_kwargs=dict(zip(names, examples(ctx.model.inputs)))).export(
            str(float_file))
        quantized = quantizer.Quantizer(str(float_file))
        quantized.load_quantization_recipe(chosen)
        ranges = quantized.calibrate({SIGNATURE: calibration}) if calibration is not None else None
        quantized.quantize(ranges).export_model(str(dst), overwrite=True)
    short_tensor_names(dst)
