"""Instance and group norms behind a barrier, for OpenVINO: its low-precision transformations move a dequantization's
scale past an MVN (what `ov.convert_model` makes of InstanceNormalization, and of GroupNorm, which torch.onnx
writes as Reshape -> InstanceNormalization -> Reshape) when the dequantization has no zero point (our symmetric
activations, symmetric.py), and normalize the integer values with the model's epsilon unscaled
(low_precision_transformations/src/mvn.cpp): where the variance is near epsilon the output is wrong.
QuantizeLinear -> DequantizeLinear -> InstanceNormalization (epsilon 1e-5) on values of +-0.01 is at 8 dB to
onnxruntime, +-0.03 at 26 dB, +-0.1 at 47 dB (OpenVINO 2026.4.1; the float model exact). transformers' PoolFormer
(GroupNorm with one group) lost 10 dB so: 18.9 dB against onnxruntime's 28.4 on the same file. The dequantization
also reaches the norm through the moves and adds before it, so dropping the pair just before the norm does not stop
it (18.6 dB). A `Max` with the lowest float32 in front of the norm, which changes no value and which those
transformations do not pass, keeps the dequantization before it: 29.1 dB.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..shared.onnx_graph import replace_nodes

NORMS = {"InstanceNormalization", "MeanVarianceNormalization", "GroupNormalization"}
LOWEST = "instance_norm_barrier_lowest"


def barriers_before_instance_norms(model: onnx.ModelProto) -> int:
    """A Max(x, lowest float32) between each instance or group norm and its input. Returns how many."""
    graph = model.graph
    nodes, done = [], 0
    for node in graph.node:
        if node.op_type in NORMS:
            barrier = f"{node.name or node.output[0]}_barrier"
            nodes.append(helper.make_node("Max", [node.input[0], LOWEST], [barrier], name=barrier))
            node.input[0] = barrier
            done += 1
        nodes.append(node)
    if done:
        graph.initializer.append(numpy_helper.from_array(np.array(np.finfo(np.float32).min, np.float32), LOWEST))
        replace_nodes(graph, nodes)
    return done
