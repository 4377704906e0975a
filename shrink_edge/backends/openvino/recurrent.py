"""Recurrent layers' weights stored as int8 in the IR, run in float.

The int8 ONNX file's LSTMs are onnxruntime's DynamicQuantizeLSTM (int8 weights, a scale per gate row) and its GRUs
hold weights rounded to that grid (onnxruntime/recurrent.py), which OpenVINO's ONNX reader turns into LSTMSequence
and GRUSequence ops with f32 constants: the IR held the float model's bytes. The CPU plugin needs those weights
constant: behind a DequantizeLinear, or an i8 Constant -> Convert(f32) -> Multiply in an IR with FakeQuantize
nodes (the low-precision transformations keep that as a dequantization), it refuses the IR at compile time
("LSTMSequence node ... expects Constant for port 4"); widened to i32 before the Convert to f32, the codes times the
row scales are folded back into one constant when the model is compiled (OpenVINO 2026.4.1). So a weight whose rows
are exactly int8 codes times a scale is stored as those codes: the same values, a quarter of the bytes (the zoo's
2-layer, 128-unit LSTM keyword spotter: 844,092 -> 254,152 B, same latency). The layers still run in float (facts:
`float_recurrent_layers`).
"""
from __future__ import annotations

import numpy as np

from ..shared.per_row import per_row

WEIGHT_PORTS = {"LSTMSequence": (4, 5), "GRUSequence": (3, 4), "RNNSequence": (3, 4)}  # W, R
LEVELS = (127, 63)  # int8 codes; 7-bit ones where the ONNX file's weights avoid u8 x s8 saturation


def _codes(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes and row scales that give back `weight` (up to the last bit of float rounding), or None."""
    for levels in LEVELS:
        codes, scales = per_row(weight, levels)
        error = np.abs(codes.astype(np.float32) * scales[..., None] - weight).max()
        if error <= 4 * np.finfo(np.float32).eps * np.abs(weight).max():
            return codes, scales
    return None


def int8_recurrent_weights(model) -> int:
    """Store, in place, each recurrent layer's weight matrix that is on a row-wise int8 grid as int8 codes and row
    scales; returns how many matrices."""
    from openvino import opset13

    stored = 0
    for op in model.get_ordered_ops():
        for port in WEIGHT_PORTS.get(op.get_type_name(), ()):
            constant = op.input_value(port).get_node()
            if constant.get_type_name() != "Constant" or constant.get_element_type().get_type_name() != "f32":
                continue
            found = _codes(constant.get_data())
            if found is None:
                continue
            codes, scales = found
            name = constant.get_friendly_name()
            stored_codes = opset13.constant(codes)
            stored_codes.set_friendly_name(f"{name}/int8")
            widened = opset13.convert(opset13.convert(stored_codes, "i32"), "f32")
            scaled = opset13.multiply(widened, opset13.constant(scales[..., None]))
            scaled.set_friendly_name(name)
            op.input(port).replace_source_output(scaled.output(0))
            stored += 1
    return stored


def stored_int8(model) -> int:
    """How many recurrent weight matrices `model` stores as int8 codes (as int8_recurrent_weights writes them)."""
    def source(output):
        node = output.get_node()
        while node.get_type_name() in ("Convert", "Multiply"):
            node = node.input_value(0).get_node()
        return node

    return sum(source(op.input_value(port)).get_type_name() == "Constant"
               and source(op.input_value(port)).get_element_type().get_type_name() == "i8"
               for op in model.get_ops() for port in WEIGHT_PORTS.get(op.get_type_name(), ()))
