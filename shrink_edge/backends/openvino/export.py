"""onnx-int8 -> openvino-int8: OpenVINO IR (.xml + .bin) from the QDQ ONNX model.

OpenVINO cannot convert the torchao-quantized torch graph directly, but reads the QDQ ONNX (its weights' quantization
parameters unshared first) and runs its convolutions and matmuls in int8. Gates are read in float, fused into the
convolutions before them (gates.py); the weights of layers whose input holds negatives get 7 bits (overflow.py),
their mean output shift measured on the calibration data added to their biases; activations that hold negatives
get symmetric int8 steps (symmetric.py); reductions read by a quantization keep their dimensions (reductions.py),
and instance norms' inputs pass a barrier that keeps their dequantization before them (instance_norms.py);
weights are saved as they are (no fp16 compression); the IR is compacted (ir.py) with the same outputs, its inputs
static at the model's input shape (shapes.py); recurrent layers' weights on an int8 grid are stored as int8
(recurrent.py).
"""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass


class OpenVinoExport(Pass):
    name = "openvino-export"
    source = "onnx-int8"
    target = "openvino-int8"
    version = 19  # 19: instance norms behind a barrier; 18: reductions keep their dimensions before a quantization; 17: moves between FakeQuantizes on one grid; 16: recurrent weights stored int8; 15 (14): pads between FakeQuantizes on one grid; 12: concatenations read quantized inputs; 11: static input shapes; 10: activations with negatives signed symmetric; 9: gates in float, fused into their convolutions; 8: weights two nodes read shifted once; 7: float sigmoids; 6: names numbered by position; 5: 7-bit bias shift corrected; 4: 7-bit weights

    def settings(self, ctx: Context) -> dict:
        return {"calibration": ctx.calibration.digest(), "samples": ctx.quantization.calibration_samples}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import openvino as ov

        import onnx

        from ..shared.qdq import quantized_moves_dequantized, unshared_weight_parameters, weights_as
        from .gates import float_gates
        from .instance_norms import barriers_before_instance_norms
        from .ir import canonical_names, compact
        from .overflow import seven_bit_weights
        from .recurrent import int8_recurrent_weights
        from .reductions import reductions_kept_dims
        from .shapes import static_inputs
        from .symmetric import signed_activations

        proto = onnx.load(src)
        weights_as(proto, "int8")  # OpenVINO's int8 kernels take signed weights (uint8 ones run in f32)
        unshared_weight_parameters(proto)
        quantized_moves_dequantized(proto)  # onnxruntime's int8 pads and moves, between FakeQuantizes for OpenVINO
        float_gates(proto)  # OpenVINO fuses a float gate into its convolution, not a quantized one
        n = min(ctx.quantization.calibration_samples, len(ctx.calibration))
        seven_bit_weights(proto, {k: x[:n] for k, x in ctx.calibration.inputs.items()})  # exact without VNNI
        signed_activations(proto)  # OpenVINO's fast int8 kernels take symmetric inputs
        reductions_kept_dims(proto)  # convert_model miscomputes a quantized reduction that drops its axes
        barriers_before_instance_norms(proto)  # its low-precision MVN leaves epsilon unscaled
        onnx_file = ctx.scratch / "unshared.onnx"
        onnx.save(proto, onnx_file)
        dst.mkdir()
        model = ov.convert_model(str(onnx_file))
        compact(model)
        static_inputs(model, [spec.shape for spec in ctx.model.inputs])
        int8_recurrent_weights(model)
        canonical_names(model)
        ov.save_model(model, str(dst / "model.xml"), compress_to_fp16=False)
