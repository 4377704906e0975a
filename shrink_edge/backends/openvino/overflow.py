"""Seven-bit weights where OpenVINO's int8 dot products saturate on x86 CPUs without VNNI.

Without VNNI (SSE4.1, AVX2, AVX-512 without VNNI) the CPU plugin multiplies u8 activations by s8 weights with
VPMADDUBSW, which adds each pair of products in int16 and saturates (OpenVINO's "saturation issue" page; NNCF's
`overflow_fix` is the same remedy): a pair of 200 x 127 products overflows; with weights in [-64, 63] none can
(2 x 255 x 64 < 32768). It bites where the activations are large u8 values, that is where their zero point sits
inside the range (LayerNorm, GELU, normalized images); behind a ReLU most values are small. So the weights of the
layers whose input is not non-negative are halved to 7 bits (scale doubled): never saturated, on any CPU.
(onnxruntime's u8s8 kernels saturate behind ReLUs too: the onnx target quantizes every weight to 7 bits instead,
`weight_bits` in shrink_edge/targets/onnx.toml.)

Measured on this AVX2 CPU against onnxruntime running the same file (exact): cosine to float of the zoo's ViT
0.938 -> 0.991 (onnxruntime 0.989 with 8-bit weights), the detector 0.992 -> 0.9998, the sample 0.9994 -> 0.9998;
7 bits on every layer cost the sample 0.0003 instead.

Rounding each weight to the nearest 7-bit value throws away what a QAT model learned in its 8-bit weights (on a
VNNI CPU, the sample after QAT: output error 1.01 steps rms, 3 at the 99th percentile, against 0.86 and 2 with its
8 bits). Given calibration samples, the halved weights are rounded as GPTQ does (Frantar et al. 2023): one input
column at a time, each rounding error pushed onto the columns not yet rounded through the inverse of the inputs'
second moments, so that the layer's output on those inputs moves the least: 0.91 steps rms, 2 at the 99th.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from ...model.signature import by_name_else_position
from ..shared.onnx_graph import consumers
from ..shared.qdq import seven_bits

LAYERS = ("Conv", "MatMul", "Gemm")
BATCH = 8  # samples per onnxruntime run while measuring inputs (a Conv's patches are large)
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


def _halvable(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, onnx.NodeProto]]:
    """(layer, its weights' DequantizeLinear) for every layer whose quantized input has its zero point inside the
    range and whose int8 weights, read by it alone, are symmetric and not 7-bit already."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    readers = consumers(graph)
    found = []
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
        found.append((layer, weight))
    return found


@dataclass
class _Layout:
    """How a layer's int8 weights lie: as (output, input) rows, split evenly into groups (a grouped Conv)."""
    layer: onnx.NodeProto
    groups: int = 1
    kernel: tuple[int, ...] = ()  # a Conv's spatial kernel
    transposed: bool = False      # stored (input, output): a MatMul's, a Gemm's without transB

    def rows(self, values: np.ndarray) -> np.ndarray:
        return values.T if self.transposed else values.reshape(len(values), -1)

    def stored(self, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return rows.T if self.transposed else rows.reshape(shape)

    def columns(self, x: np.ndarray) -> np.ndarray:
        """The layer's input as the rows its input columns multiply: im2col patches for a Conv."""
        if not self.kernel:
            return x.reshape(-1, x.shape[-1])
        import torch

        attrs = _attributes(self.layer)
        patches = torch.nn.functional.unfold(torch.from_numpy(x), self.kernel, dilation=attrs.get("dilations", [1, 1]),
                                             padding=attrs.get("pads", [0, 0, 0, 0])[:2],
                                             stride=attrs.get("strides", [1, 1]))
        return patches.transpose(1, 2).reshape(-1, patches.shape[1]).numpy()


def _attributes(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _layout(layer: onnx.NodeProto, weight: onnx.NodeProto, values: np.ndarray, scale: np.ndarray) -> _Layout | None:
    """None where GPTQ's rounding is not worked out here: weights reshaped or transposed on their way to the layer,
    a scale per input channel, a 1-D or 3-D Conv or one with implicit or uneven pads, a batched MatMul."""
    attrs, axis = _attributes(layer), _attributes(weight).get("axis", 1)
    if layer.input[1] != weight.output[0]:
        return None
    if layer.op_type == "Conv":
        pads = attrs.get("pads", [0, 0, 0, 0])
        if values.ndim != 4 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads[:2] != pads[2:]:
            return None
        found = _Layout(layer, attrs.get("group", 1), tuple(values.shape[2:]))
    elif layer.op_type == "Gemm" and not attrs.get("transA", 0):
        found = _Layout(layer, transposed=not attrs.get("transB", 0))
    elif layer.op_type == "MatMul" and values.ndim == 2:
        found = _Layout(layer, transposed=True)
    else:
        return None
    output_axis = 1 if found.transposed else 0
    return found if scale.ndim == 0 or axis % values.ndim == output_axis else None


def _second_moments(model: onnx.ModelProto, layouts: list[_Layout], inputs: dict[str, np.ndarray]) -> list | None:
    """E[x x^T] of each layer's input columns, one matrix per group, on the samples (onnxruntime runs the file)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    names = sorted({layout.layer.input[0] for layout in layouts})
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = [i.name for i in session.get_inputs()]
    if (arrays := by_name_else_position(inputs, feeds)) is None:
        return None
    sums, rows = [0.0] * len(layouts), [0] * len(layouts)
    for start in range(0, len(arrays[0]), BATCH):
        values = dict(zip(names, session.run(names, {k: a[start:start + BATCH] for k, a in zip(feeds, arrays)})))
        for i, layout in enumerate(layouts):
            x = layout.columns(values[layout.layer.input[0]].astype(np.float32))
            x = x.reshape(len(x), layout.groups, -1).transpose(1, 0, 2).astype(np.float64)  # (groups, rows, columns)
            sums[i] = sums[i] + x.transpose(0, 2, 1) @ x
            rows[i] += len(x)
    return [total / n for total, n in zip(sums, rows)]


def _gptq(weights: np.ndarray, scale: np.ndarray, moments: np.ndarray) -> np.ndarray:
    """The (rows, columns) float weights rounded to 7 bits on the per-row `scale`, one column at a time, each
    column's rounding error carried onto the columns after it as the inverse second moments direct (GPTQ)."""
    w = weights.astype(np.float64).copy()
    h = moments + 0.01 * max(float(np.mean(np.diag(moments))), 1e-12) * np.eye(len(moments))  # GPTQ's damping
    inverse = np.linalg.cholesky(np.linalg.inv(h)).T  # upper triangular
    rounded = np.zeros(w.shape, np.int8)
    for j in range(w.shape[1]):
        q = np.clip(np.round(w[:, j] / scale), -64, 63)
        error = (w[:, j] - q * scale) / inverse[j, j]
        w[:, j + 1:] -= np.outer(error, inverse[j, j + 1:])
        rounded[:, j] = q
    return rounded


def seven_bit_weights(model: onnx.ModelProto, inputs: dict[str, np.ndarray] | None = None) -> int:
    """Halve, in place, the int8 weights of every layer whose quantized input has its zero point inside the range.
    A weight (or its scale) that something else reads too, or one that has 7 bits already, is left as it is.
    With `inputs` (calibration samples, by the model's input names) the halved weights are rounded GPTQ's way
    where their layout allows, else to the nearest value. Returns how many layers changed."""
    initializers = {i.name: i for i in model.graph.initializer}
    layers = _halvable(model)
    layouts = {}
    for layer, weight in layers:
        values, scale = _array(initializers, weight, 0), _array(initializers, weight, 1)
        if (layout := _layout(layer, weight, values, scale)) is not None:
            layouts[layer.name] = layout
    moments = (_second_moments(model, list(layouts.values()), inputs) if inputs and layouts else None) or []
    moments = dict(zip(layouts, moments))
    for layer, weight in layers:
        values, scale = _array(initializers, weight, 0), _array(initializers, weight, 1)
        scale2 = (scale * 2).astype(scale.dtype)
        if layer.name in moments:
            layout = layouts[layer.name]
            rows = layout.rows(values).astype(np.float64)
            row_scale = np.broadcast_to(scale2.astype(np.float64), (len(rows),))
            per_group = len(rows) // layout.groups
            halved_rows = np.concatenate([
                _gptq(rows[g * per_group:(g + 1) * per_group] * row_scale[g * per_group:(g + 1) * per_group, None] / 2,
                      row_scale[g * per_group:(g + 1) * per_group], moments[layer.name][g])
                for g in range(layout.groups)])
            halved = layout.stored(halved_rows, values.shape)
        else:
            halved = np.clip(np.round(values.astype(np.float32) / 2), -64, 63).astype(np.int8)
        for slot, array in ((0, halved), (1, scale2)):
            initializers[weight.input[slot]].CopyFrom(numpy_helper.from_array(array, weight.input[slot]))
    return len(layers)
