"""tflite-int8-static -> tflite-int8: a recurrent layer's FULLY_CONNECTED ops with int8 weights (a scale per output
row), their float inputs quantized at run time by LiteRT's hybrid kernel.

PT2E has no int8 LSTM or GRU, and litert-torch unrolls one into float FULLY_CONNECTED ops (and SLICE, LOGISTIC, TANH,
MUL, ADD per step), so the int8 file of a recurrent net held its float weights: larger and slower than its float file
(a 2-layer LSTM, 128 units, 49 steps: 1,010,912 B, 1.08 ms against 0.86 ms float). With int8 weights: 430,432 B,
0.20 ms. TFLite Micro has no hybrid kernel ("cannot prepare its FULLY_CONNECTED op"), so it and Vela build from the
static file. The weights to quantize are the ones the static file names `recurrent<index>` (export.py found them by
their values in the int8 program's recurrent layers)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ...passes.base import Context, Pass
from ..shared.per_row import per_row
from ..shared.tflite_io import packed, repackable


class TfliteRecurrentInt8(Pass):
    name = "tflite-recurrent-int8"
    source = "tflite-int8-static"
    target = "tflite-int8"

    def settings(self, ctx: Context) -> dict:
        return {"weight_bits": ctx.quantization.weight_bits}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        from ai_edge_litert import schema_py_generated as schema

        model = schema.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
        if not repackable(model) or not recurrent_int8(model, 2 ** (ctx.quantization.weight_bits - 1) - 1):
            shutil.copyfile(src, dst)
            return
        dst.write_bytes(packed(model))


def recurrent_int8(model, levels: int) -> int:
    """Quantize, in place, every float weight named recurrent<index> to int8 codes in [-levels, levels] with a scale
    per output row (zero point 0: what the hybrid FULLY_CONNECTED kernel reads). Returns how many."""
    from ai_edge_litert import schema_py_generated as schema

    done = {}  # buffer -> its scales: the unrolled steps share one weight buffer
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if not tensor.name.startswith(b"recurrent") or tensor.type != schema.TensorType.FLOAT32:
                continue
            buffer = model.buffers[tensor.buffer]
            if tensor.buffer not in done:
                codes, scales = per_row(np.frombuffer(bytes(buffer.data), np.float32).reshape(tensor.shape), levels)
                buffer.data = np.frombuffer(codes.tobytes(), np.uint8)
                done[tensor.buffer] = scales
            tensor.type = schema.TensorType.INT8
            tensor.quantization = schema.QuantizationParametersT()
            tensor.quantization.scale = done[tensor.buffer].tolist()
            tensor.quantization.zeroPoint = [0] * len(done[tensor.buffer])
            tensor.quantization.quantizedDimension = 0
    return len(done)
