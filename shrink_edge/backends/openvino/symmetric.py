"""Activations that hold negatives as signed symmetric int8 for OpenVINO: the int8 program gives them uint8 steps with a
zero point (the finest grid over their range), but OpenVINO's CPU plugin runs a matmul or convolution whose input has
a zero point on a slower path (oneDNN's zero-point compensation; its FullyConnected instead of the
FullyConnectedQuantizedLegacy it gives symmetric inputs, twice the time on ViT-tiny's layers) and keeps the attention
and LayerNorm around them in f32. So each such activation is requantized onto int8 steps of max(|min|, |max|) / 127
around zero (NNCF's default for OpenVINO), at most twice as coarse (a range that is nearly all positive) and often
about as fine (LayerNorm outputs, residual sums). Activations without negatives (ReLU outputs: zero point 0) keep
their uint8 steps, and the graph's outputs their own grid.

Measured, 1 thread, an AVX-512 VNNI + AMX Xeon, interleaved runs of 100 against the float IR and NNCF's IR of the
same model: the zoo's ViT-tiny 0.62-0.63 -> 0.47-0.49 ms (float 0.38, NNCF 0.40-0.41), 19.5 -> 19.4 dB;
MobileNetV3-Small 1.62-1.66 -> 1.53-1.59 ms (float 1.90-1.94, NNCF 1.72-1.74), 44.3 -> 43.6 dB; the
EfficientNet-style net 8.2-8.4 -> 7.2-7.5 ms (float 11.4-11.6, NNCF 7.3-7.4), 45.9 -> 44.3 dB.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ..shared.onnx_graph import consumers

MOVES = {"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "MaxPool", "Slice", "Gather", "Split", "Identity",
         "Expand"}  # ops that move a quantized tensor's values between its QuantizeLinear and a DequantizeLinear


def signed_activations(model: onnx.ModelProto) -> int:
    """Each activation's uint8 quantization with a zero point other than 0 replaced by symmetric int8 steps, in its
    QuantizeLinear and in every DequantizeLinear that reads it back (directly or through MOVES); a quantization
    read by anything else, or whose value is a graph output, is left as it is. Returns how many."""
    graph = model.graph
    constants = {i.name: i for i in graph.initializer}
    readers, outputs = consumers(graph), {o.name for o in graph.output}
    done = 0
    for quantize in graph.node:
        if quantize.op_type != "QuantizeLinear" or quantize.input[0] in constants or len(quantize.input) < 3 or \
                any(i not in constants for i in quantize.input[1:]):
            continue
        scale, zero = (numpy_helper.to_array(constants[i]) for i in quantize.input[1:])
        if zero.dtype != np.uint8 or zero.size != 1 or int(zero.reshape(())) == 0:
            continue
        dequantizes = _read_back(quantize.output[0], readers, outputs)
        if not dequantizes:
            continue
        step, offset = float(scale.reshape(())), int(zero.reshape(()))
        wide = max(offset, 255 - offset) * step / 127
        names = f"{quantize.name}_signed_scale", f"{quantize.name}_signed_zero"
        graph.initializer.extend([numpy_helper.from_array(np.array(wide, np.float32), names[0]),
                                  numpy_helper.from_array(np.array(0, np.int8), names[1])])
        for node in (quantize, *dequantizes):
            node.input[1], node.input[2] = names
        done += 1
    return done


def _read_back(name: str, readers: dict, outputs: set) -> list[onnx.NodeProto]:
    """The DequantizeLinear nodes that read a quantized tensor, through ops that only move its values; [] if
    anything else reads it or it is a graph output."""
    found, front = [], [name]
    while front:
        value = front.pop()
        if value in outputs:
            return []
        for node in readers.get(value, []):
            if node.op_type == "DequantizeLinear" and node.output[0] not in outputs:
                found.append(node)
            elif node.op_type in MOVES:
                front.extend(node.output)
            else:
                return []
    return found
