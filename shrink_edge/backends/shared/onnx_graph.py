"""What the ONNX graph rewrites (qdq.py, pooling.py) share: who reads a value, and putting nodes back."""
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


def drop_unused(graph) -> None:
    """Nodes whose outputs nothing reads (the tied table's Transpose, a folded step), then initializers nothing reads."""
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def rename_outputs(model: onnx.ModelProto, names: list[str]) -> None:
    """Give the graph's outputs these names, in order. A value inside the graph that already has one of them (the
    exporter names values after modules) is renamed out of the way first."""
    graph = model.graph
    old = [o.name for o in graph.output]
    taken = set(names) - set(old)
    mapping = {name: f"{name}__{i}" for i, name in enumerate(sorted(taken))}
    mapping.update({o: n for o, n in zip(old, names)})
    mapping = {k: v for k, v in mapping.items() if k != v}
    if not mapping:
        return

    def renamed(name: str) -> str:
        return mapping.get(name, name)

    for node in graph.node:
        node.input[:] = [renamed(n) for n in node.input]
        node.output[:] = [renamed(n) for n in node.output]
    for value in [*graph.initializer, *graph.value_info, *graph.output, *graph.input]:
        value.name = renamed(value.name)
