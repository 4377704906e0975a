"""onnx -> onnx-dynamic: int8 weights, activations quantized at run time from each input's own range (onnxruntime's
dynamic quantization: its MatMulInteger / DynamicQuantizeMatMul kernels), everything between them in float.

No calibration: each matmul's input gets the range of the values it sees now, so an activation whose range varies
from input to input (transformers' outlier features, recurrent states) loses no more than its own rounding. The
classic case: a 6-layer BERT sentence encoder keeps cosine 0.965 dynamic against 0.39 with static int8 ranges
(onnxruntime's own tools, #15). Static int8 (onnx-int8) stays the choice for convolutional nets and for any runtime
that needs every tensor int8 (NPUs, microcontrollers)."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass
from .ort_quantizer import kept_float, quantized_with

OPS = ("MatMul", "Gemm", "Attention", "LSTM", "Gather")  # Conv has only ConvInteger: slower than float


class OnnxQuantizeDynamic(Pass):
    name = "onnx-quantize-dynamic"
    source = "onnx"
    target = "onnx-dynamic"
    version = 2  # 2: constants folded first (LSTM weights quantized)

    def settings(self, ctx: Context) -> dict:
        q = ctx.quantization
        return {"per_channel": q.weights_per_channel, "weight_bits": q.weight_bits, "keep_float": q.keep_float,
                "ops": OPS}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = ctx.quantization

        def quantize(source: Path, written: Path, model) -> None:
            quantize_dynamic(source, written, weight_type=QuantType.QInt8, per_channel=q.weights_per_channel,
                             reduce_range=q.weight_bits == 7, op_types_to_quantize=list(OPS),
                             nodes_to_exclude=kept_float(model, q.keep_float))

        quantized_with(quantize, src, dst)
