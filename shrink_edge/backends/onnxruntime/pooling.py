"""Write global average pooling as GlobalAveragePool, the op onnxruntime has fast kernels for.

The dynamo exporter writes `AdaptiveAvgPool2d(1)` and `x.mean((2, 3))` as ReduceMean over the spatial axes.
onnxruntime runs ReduceMean in plain NCHW float: in an int8 graph it leaves the int8 NHWC pipeline for a
Transpose, a DequantizeLinear, the mean and a QuantizeLinear, and in a float graph it ends the NCHWc blocked
layout one op early. GlobalAveragePool computes the same values, fuses into QLinearGlobalAveragePool (NHWC, int8)
and runs blocked.
"""
from __future__ import annotations

import onnx
from onnx import helper, numpy_helper

from ..shared.onnx_graph import consumers, replace_nodes


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    graph = onnx.shape_inference.infer_shapes(model).graph
    return {v.name: len(v.type.tensor_type.shape.dim) for v in [*graph.value_info, *graph.input, *graph.output]
            if v.type.tensor_type.HasField("shape")}


def _is_global_mean(node: onnx.NodeProto, constants: dict, ranks: dict[str, int]) -> bool:
    if node.op_type != "ReduceMean" or len(node.input) != 2 or node.input[1] not in constants:
        return False
    rank = ranks.get(node.input[0], 0)
    return rank >= 3 and {int(a) % rank for a in constants[node.input[1]].ravel()} == set(range(2, rank))


def global_average_pools(model: onnx.ModelProto) -> int:
    """Rewrite in place every ReduceMean over all spatial axes (opset 18+); returns how many.

    ReduceMean without keepdims drops the 1x1 spatial axes, GlobalAveragePool keeps them: a Flatten follows,
    placed after the QuantizeLinear that reads the mean (if one does) so that DequantizeLinear ->
    GlobalAveragePool -> QuantizeLinear stays whole for onnxruntime to fuse.
    """
    graph = model.graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    ranks = _ranks(model)
    users = consumers(graph)
    graph_outputs = {v.name for v in graph.output}
    flatten_after: dict[str, onnx.NodeProto] = {}  # a QuantizeLinear's output -> the Flatten that reads it
    nodes, rewritten = [], 0
    for node in graph.node:
        if not _is_global_mean(node, constants, ranks):
            nodes.append(node)
            if node.output and node.output[0] in flatten_after:
                nodes.append(flatten_after[node.output[0]])
            continue
        rewritten += 1
        nodes.append(helper.make_node("GlobalAveragePool", [node.input[0]], [node.output[0]], name=node.name))
        if next((a.i for a in node.attribute if a.name == "keepdims"), 1):
            continue
        after = users.get(node.output[0], [])
        quantize = after[0] if len(after) == 1 and after[0].op_type == "QuantizeLinear" and \
            after[0].output[0] not in graph_outputs else None
        producer = quantize or nodes[-1]
        flat = producer.output[0]
        producer.output[0] = f"{flat}_4d"
        flatten = helper.make_node("Flatten", [producer.output[0]], [flat], name=f"{node.name}_flatten", axis=1)
        if quantize:
            flatten_after[quantize.output[0]] = flatten
        else:
            nodes.append(flatten)
    if rewritten:
        replace_nodes(graph, nodes)
    return rewritten
