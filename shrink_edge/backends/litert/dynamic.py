"""pt2 -> tflite-dynamic: litert-torch's float .tflite, then ai-edge-quantizer's dynamic recipe: int8 weights (per
channel) in FULLY_CONNECTED, BATCH_MATMUL, CONV_2D, EMBEDDING_LOOKUP..., whose float inputs LiteRT's hybrid kernels
quantize at run time from their own range; everything else float. No calibration: what transformers and recurrent
nets need where one static range per activation loses (see backends/onnxruntime/dynamic.py)."""
from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from ...errors import UserError
from ...model.source import load_program
from ...passes.base import Context, Pass
from ...model.signature import examples
from ..shared.tflite_io import named_io
from .export import short_tensor_names

SIGNATURE = "serving_default"  # litert-torch's one signature


class TfliteExportDynamic(Pass):
    name = "tflite-export-dynamic"
    source = "pt2"
    target = "tflite-dynamic"
    version = 2  # 2: files whose constants sit after the flatbuffer are not repacked

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        from ai_edge_quantizer import recipe

        if ctx.quantization.keep_float:
            raise UserError(f"keep_float ({', '.join(ctx.quantization.keep_float)}) is not supported by the "
                            "tflite-dynamic format yet: ai-edge-quantizer's recipe selects by LiteRT tensor names, "
                            "not module paths; drop keep_float or use the onnx-dynamic target")
        with_recipe(src, dst, ctx, recipe.dynamic_wi8_afp32())


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
