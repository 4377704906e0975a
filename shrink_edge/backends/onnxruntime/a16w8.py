"""onnx -> onnx-a16w8: int8 weights (per channel), int16 activations with static ranges from the calibration data,
as QDQ (onnxruntime's quantize_static with 16-bit activations; opset 21, whose QuantizeLinear takes int16).

Each activation step is 256 times finer than int8's at the size of int8 weights: where int8 activations lose a model
(a regressor, BatchNorm after ReLU, an outlier channel), int16 ones often keep it without a float layer. onnxruntime's
CPU provider has no int16 kernels: it computes each op in float between the dequantize and quantize nodes, so the
file runs at about float speed (facts.float_ops lists those ops); its size is int8's."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass
from .ort_quantizer import kept_float, quantized_with

BATCH = 16  # calibration samples per run of the float model


class OnnxQuantizeA16W8(Pass):
    name = "onnx-quantize-a16w8"
    source = "onnx"
    target = "onnx-a16w8"
    version = 1

    def settings(self, ctx: Context) -> dict:
        q = ctx.quantization
        return {"calibration": ctx.calibration.digest(), "samples": q.calibration_samples,
                "per_channel": q.weights_per_channel, "keep_float": q.keep_float}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        q = ctx.quantization
        n = min(q.calibration_samples, len(ctx.calibration))
        names, arrays = [s.name for s in ctx.model.inputs], ctx.calibration.arrays()
        runs = iter([{name: x[i:i + BATCH].astype(spec.dtype) for name, spec, x in zip(names, ctx.model.inputs, arrays)}
                     for i in range(0, n, BATCH)])

        class Calibration(CalibrationDataReader):
            def get_next(self):
                return next(runs, None)

        def quantize(source: Path, written: Path, model) -> None:
            ready = written.with_name("ready.onnx")
            quant_pre_process(source, ready, skip_symbolic_shape=True)  # batch norms folded into convolutions
            quantize_static(ready, written, Calibration(), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt16, weight_type=QuantType.QInt8,
                            per_channel=q.weights_per_channel,
                            nodes_to_exclude=kept_float(onnx.load(ready), q.keep_float))

        quantized_with(quantize, src, dst)
