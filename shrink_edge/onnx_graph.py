"""What the ONNX graph rewrites (onnx_qdq.py, onnx_pooling.py) share: who reads a value, and putting nodes back."""
from __future__ import annotations

import onnx


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """Each value's name -> the nodes that read it."""
    users: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    return users


def replace_nodes(graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
    """Make `nodes` the graph's nodes; drop the value types recorded for the old ones (stale: onnxruntime infers
    them again) and the initializers no node reads any more."""
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
