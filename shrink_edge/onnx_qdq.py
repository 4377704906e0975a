"""Rewrite a QDQ ONNX graph so that onnxruntime's CPU kernels fuse it fully, without changing its numbers.

onnxruntime on x86 fuses QDQ convolutions, adds and matmuls into QLinear* kernels only with uint8
activations, and only where each DequantizeLinear has one consumer. The PT2E export has int8 activations
and shared DequantizeLinear nodes, so half its convolutions stayed float. Here: activations become uint8
with zero point + 128 (the same real values: (q + 128) - (z + 128) = q - z), weights stay int8, and every
shared activation DequantizeLinear is duplicated per consumer.

The exporter also names every node and value after the torch graph ("dequantize_per_channel_12",
"features.3.body.0.0.weight_bias"), a sixth of a small int8 model's bytes; `short_names` numbers them instead,
keeping the graph's input and output names that apps look up.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .onnx_graph import consumers, replace_nodes


def _constants(graph) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def make_ort_fusable(model: onnx.ModelProto) -> dict[str, int]:
    """Rewrite in place; returns what changed."""
    graph = model.graph
    constants = _constants(graph)
    retyped = 0
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        if node.input[0] in constants:  # a weight: stays int8
            continue
        zero = constants.get(node.input[2])
        if zero is None or zero.dtype != np.int8:
            continue
        name = f"{node.name or node.output[0]}_zero_point_u8"
        graph.initializer.append(numpy_helper.from_array((zero.astype(np.int16) + 128).astype(np.uint8), name))
        node.input[2] = name
        retyped += 1

    readers = consumers(graph)
    duplicated, nodes = 0, []
    for node in graph.node:
        nodes.append(node)
        users = readers.get(node.output[0], []) if node.op_type == "DequantizeLinear" else []
        if node.input[0] in constants or len(users) < 2:
            continue
        for i, user in enumerate(users[1:], 1):
            copy = helper.make_node("DequantizeLinear", list(node.input), [f"{node.output[0]}_dup{i}"],
                                    name=f"{node.name}_dup{i}")
            copy.attribute.extend(node.attribute)
            user.input[:] = [copy.output[0] if n == node.output[0] else n for n in user.input]
            nodes.append(copy)
            duplicated += 1
    replace_nodes(graph, _topological(nodes))
    return {"uint8_activation_qdq": retyped, "duplicated_dequantize": duplicated}


def _topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Consumers were rewired to copies appended after them: restore a valid order."""
    produced_by = {out: i for i, n in enumerate(nodes) for out in n.output}
    order, seen = [], set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for name in nodes[i].input:
            if name in produced_by:
                visit(produced_by[name])
        order.append(nodes[i])

    for i in range(len(nodes)):
        visit(i)
    return order


def short_names(model: onnx.ModelProto) -> None:
    """Rename nodes n<i> and inner values v<i>; graph inputs and outputs keep their names."""
    graph = model.graph
    kept = {v.name for v in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in kept:
            return name
        return names.setdefault(name, f"v{len(names)}")

    for initializer in graph.initializer:
        initializer.name = short(initializer.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    for value in graph.value_info:
        value.name = short(value.name)
