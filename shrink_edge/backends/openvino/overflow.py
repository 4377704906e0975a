"""Seven-bit weights where OpenVINO's int8 dot products saturate on x86 CPUs without VNNI.

Without VNNI (SSE4.1, AVX2, AVX-512 without VNNI) the CPU plugin multiplies u8 activations by s8 weights with
VPMADDUBSW, which adds each pair of products in int16 and saturates (OpenVINO's "saturation issue" page; NNCF's
`overflow_fix` is the same remedy): a pair of 200 x 127 products overflows; with weights in [-64, 63] none can
(2 x 255 x 64 < 32768). It bites where the activations are large u8 values, that is where their zero point sits
inside the range (LayerNorm, GELU, normalized images); behind a ReLU most values are small. So the weights of the
layers whose input is not non-negative are halved to 7 bits (scale doubled): never saturated, on any CPU.
(onnxruntime's u8s8 kernels saturate behind ReLUs too: the onnx target quantizes every weight to 7 bits instead,
`weight_bits` in targets/onnx.toml.)

Measured on this AVX2 CPU against onnxruntime running the same file (exact): cosine to float of the zoo's ViT
0.938 -> 0.991 (onnxruntime 0.989 with 8-bit weights), the detector 0.992 -> 0.9998, the sample 0.9994 -> 0.9998;
7 bits on every layer cost the sample 0.0003 instead.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from ..onnxruntime.graph_edit import consumers
from ..onnxruntime.qdq import seven_bits

LAYERS = ("Conv", "MatMul", "Gemm")
PASSES_VALUES = ("Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten")  # between a DequantizeLinear and its layer


def _source(name: str, producers: dict[str, onnx.NodeProto]) -> onnx.NodeProto | None:
    node = producers.get(name)
    while node is not None and node.op_type in PASSES_VALUES:
        node = producers.get(node.input[0])
    return node


def _array(initializers: dict, node: onnx.NodeProto, slot: int) -> np.ndarray | None:
    if len(node.input) <= slot or node.input[slot] not in initializers:
        return None
    return numpy_helper.to_array(initializers[node.input[slot]])


def _holds_negatives(activation: onnx.NodeProto, initializers: dict) -> bool:
    """Its zero point is inside the range (an absent one is uint8's 0: a non-negative input)."""
    zero_point = _array(initializers, activation, 2)
    return zero_point is not None and bool(np.any(zero_point != np.iinfo(zero_point.dtype).min))


def seven_bit_weights(model: onnx.ModelProto) -> int:
    """Halve, in place, the int8 weights of every layer whose quantized input has its zero point inside the range.
    A weight (or its scale) that something else reads too, or one that has 7 bits already, is left as it is.
    Returns how many layers changed."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    readers = consumers(graph)
    changed = 0
    for layer in graph.node:
        if layer.op_type not in LAYERS or len(layer.input) < 2:
            continue
        activation, weight = _source(layer.input[0], producers), _source(layer.input[1], producers)
        if activation is None or weight is None or {activation.op_type, weight.op_type} != {"DequantizeLinear"}:
            continue
        values, scale, zero_point = (_array(initializers, weight, slot) for slot in range(3))
        if (not _holds_negatives(activation, initializers) or values is None or values.dtype != np.int8 or scale is None
                or seven_bits([values])  # 7 bits already
                or (zero_point is not None and np.any(zero_point != 0))
                or any(len(readers[name]) > 1 for name in (*weight.input[:2], weight.output[0]))):
            continue
        halved = np.clip(np.round(values.astype(np.float32) / 2), -64, 63).astype(np.int8)
        for slot, array in ((0, halved), (1, (scale * 2).astype(scale.dtype))):
            initializers[weight.input[slot]].CopyFrom(numpy_helper.from_array(array, weight.input[slot]))
        changed += 1
    return changed
