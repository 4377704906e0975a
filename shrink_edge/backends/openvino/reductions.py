"""Reductions that keep their dimensions before a quantization, for OpenVINO: `ov.convert_model` (2026.4.1) computes
a ReduceMean, ReduceSum or ReduceMax with `keepdims=0` whose output is quantized and then multiplied by, or added
to, a per-channel constant wrongly: up to 0.3 off on values of 0.5 (ReduceMean over the tokens of [8, 4, 64] ->
QuantizeLinear -> DequantizeLinear -> Mul by a [1, 64] constant; exact with `Core.read_model`, with `keepdims=1`
and with a scalar constant). transformers' LeViT pools its tokens so before its batch-norm head: cosine 0.918 to
onnxruntime on the same file, 0.9998 with the dimension kept. Such a reduction keeps its reduced axes and a Squeeze
drops them after it, the same values.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..shared.onnx_graph import consumers, replace_nodes

REDUCTIONS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}


def reductions_kept_dims(model: onnx.ModelProto) -> int:
    """Each reduction with `keepdims=0` and constant axes whose output a QuantizeLinear reads becomes `keepdims=1`
    followed by a Squeeze of those axes. Returns how many."""
    graph = model.graph
    constants = {i.name: i for i in graph.initializer}
    readers = consumers(graph)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    nodes, done = [], 0
    for node in graph.node:
        nodes.append(node)
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type not in REDUCTIONS or attributes.get("keepdims", 1) != 0 or \
                not any(r.op_type == "QuantizeLinear" for r in readers.get(node.output[0], [])):
            continue
        axes = attributes.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1] in constants:
            axes = numpy_helper.to_array(constants[node.input[1]]).reshape(-1).tolist()
        if not axes:  # every axis reduced to a scalar: nothing to squeeze back by name
            continue
        reduced = node.output[0]
        kept = f"{node.name or reduced}_kept_dims"
        for a in node.attribute:
            if a.name == "keepdims":
                a.i = 1
        node.output[0] = kept
        if opset >= 13:  # Squeeze's axes an input since opset 13, an attribute before
            graph.initializer.append(numpy_helper.from_array(np.array(axes, np.int64), f"{kept}_axes"))
            nodes.append(helper.make_node("Squeeze", [kept, f"{kept}_axes"], [reduced], name=f"{kept}_squeeze"))
        else:
            nodes.append(helper.make_node("Squeeze", [kept], [reduced], name=f"{kept}_squeeze", axes=axes))
        done += 1
    if done:
        replace_nodes(graph, nodes)
    return done
