"""The quantization points of an int8 program: each quantize -> dequantize pair rounds one tensor (a layer's weight
or an activation) to int8. Points are grouped by the layer they belong to, so that one layer can be measured alone
or kept in float.

A point belongs to the module whose tensor it rounds: a weight to the layer that uses it, an activation to the
module that produced it (through functional ops at the model's top level, and through a ReLU or ReLU6 after a
convolution, which int8 runtimes fuse into it).
Activations made by a top-level op of their own (a residual add, a mean) belong to that op, named by its node
("add_1"). Keeping a layer in float removes its points: its weights stay float and the layers after it read its
output in float (and so run in float), as an int8 runtime does with a float island (dequantize before, quantize
after).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model.signature import flatten_outputs

QUANTIZE = ("quantize_per_tensor", "quantize_per_channel")
DEQUANTIZE = ("dequantize_per_tensor", "dequantize_per_channel")
FUSED = ("relu", "relu_", "hardtanh", "hardtanh_", "clamp")  # activations a runtime folds into the layer before
COMPUTE = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "linear")


@dataclass(frozen=True)
class Point:
    quantize: str  # the quantize node's name
    layer: str     # module path, a top-level op's node name, or "input <name>"
    kind: str      # "weight" or "activation"


def _is(node, names) -> bool:
    return getattr(node, "op", None) == "call_function" and getattr(node.target, "_opname", "") in names \
        and "quantized_decomposed" in str(node.target)


def module_path(node) -> str:
    """The innermost module that made this node; "" for the model's own top level."""
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def _producer(node) -> str:
    """The layer an activation comes from: back through top-level ops and through activations that int8 runtimes
    fuse into the layer before them (ReLU, ReLU6), until a module's own op; else the op reading another point."""
    if node.op != "call_function":
        return f"input {node.name}"
    while _fused(node) or not module_path(node):
        source = next((a for a in node.args if hasattr(a, "op")), None)
        if source is not None and source.op == "placeholder":
            return f"input {source.name}"
        if source is None or _is(source, DEQUANTIZE) or source.op != "call_function":
            return module_path(node) or node.name
        node = source
    return module_path(node)


def _aten(node) -> str:
    """An aten op's name ("relu" for aten.relu.default); "" for anything else."""
    target = str(node.target)
    return target.split(".")[1] if node.op == "call_function" and target.startswith("aten.") else ""


def _fused(node) -> bool:
    return _aten(node) in FUSED


def points(module) -> list[Point]:
    """Every quantize -> dequantize pair of an unfolded int8 program (weights as float -> quantize -> dequantize,
    see quantization.unfold_weights), in graph order."""
    found = []
    for node in module.graph.nodes:
        if not _is(node, QUANTIZE) or not any(_is(u, DEQUANTIZE) for u in node.users):
            continue
        source = node.args[0]
        if source.op == "get_attr":
            users = [v for dq in node.users for v in dq.users]
            found.append(Point(node.name, next((module_path(u) or u.name for u in users), source.name), "weight"))
        else:
            found.append(Point(node.name, _producer(source), "activation"))
    return found


def layers(module) -> list[str]:
    """The layers that own points, in graph order."""
    return list(dict.fromkeys(p.layer for p in points(module)))


def float_compute(module) -> list[str]:
    """The convolution and linear layers of an int8 program that run in float (their weight is not dequantized
    int8): the ones kept in float and those reading their float output."""
    names = []
    for node in module.graph.nodes:
        if _aten(node) in COMPUTE and len(node.args) > 1 and not _is(node.args[1], DEQUANTIZE):
            names.append(module_path(node) or node.name)
    return names


def _named(layer: str, names, owners) -> bool:
    """A name takes its own layer; a module path that owns no point itself takes every layer inside it."""
    return any(layer == n or (n not in owners and layer.startswith(n + ".")) for n in names)


def selected(module, names) -> list[Point]:
    """The points that keeping the named layers in float removes: their own, and the weights of each layer that
    then reads a float input, since not every runtime takes a float input with int8 weights (ExecuTorch's XNNPACK
    does not): that layer runs in float, its output stays int8."""
    found = points(module)
    owners = {p.layer for p in found}
    chosen = {p.quantize for p in found if _named(p.layer, names, owners)}
    by_name = {n.name: n for n in module.graph.nodes}
    for point in found:
        if point.kind != "weight" or point.quantize in chosen:
            continue
        layer_inputs = [u.args[0] for dq in by_name[point.quantize].users for u in dq.users if u.args]
        if any(_is(x, DEQUANTIZE) and x.args[0].name in chosen for x in layer_inputs):
            chosen.add(point.quantize)
    return [p for p in found if p.quantize in chosen]


def unknown(module, names) -> list[str]:
    """The names that match no layer of the program."""
    owners = set(layers(module))
    return [n for n in names if not any(_named(layer, [n], owners) for layer in owners)]


def bypass(module, names) -> int:
    """Keep the named layers in float: each of their quantize -> dequantize pairs becomes its float input.
    Returns how many pairs were removed."""
    by_name = {n.name: n for n in module.graph.nodes}
    chosen = selected(module, names)
    for point in chosen:
        quantize = by_name[point.quantize]
        for dequantize in [u for u in quantize.users if _is(u, DEQUANTIZE)]:
            dequantize.replace_all_uses_with(quantize.args[0])
            module.graph.erase_node(dequantize)
        if not quantize.users:
            module.graph.erase_node(quantize)
    module.graph.eliminate_dead_code()
    module.recompile()
    return len(chosen)


def run(module, inputs, off=frozenset(), record=()) -> tuple[list, dict]:
    """Run an unfolded int8 program with the points named in `off` passed through in float. Returns the outputs
    and the values of the nodes named in `record`."""
    import torch

    off, record = set(off), set(record)

    class Toggled(torch.fx.Interpreter):
        def run_node(self, n):
            if n.name in off:  # the quantize node passes its float input on, and its dequantize too
                value = self.env[n.args[0]]
            elif _is(n, DEQUANTIZE) and getattr(n.args[0], "name", None) in off:
                value = self.env[n.args[0]]
            else:
                value = super().run_node(n)
            if n.name in record:
                self.seen[n.name] = value
            return value

    interpreter = Toggled(module)
    interpreter.seen = {}
    with torch.no_grad():
        outputs = flatten_outputs(interpreter.run(*inputs))
    return outputs, interpreter.seen
