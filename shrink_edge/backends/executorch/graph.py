"""Matching nodes of an exported int8 program: which op a node calls, and what a quantize/dequantize pair reads."""

from __future__ import annotations


def called(node, name: str) -> bool:
    """Whether `node` calls the operator `name` (any overload: "mul" matches aten.mul.Tensor)."""
    return getattr(node, "op", None) == "call_function" and str(node.target).split(".")[-2:-1] == [name]


def through_quantize(node):
    """The value a dequantize(quantize(value)) pair reads, else None."""
    if called(node, "dequantize_per_tensor") and called(node.args[0], "quantize_per_tensor"):
        return node.args[0].args[0]
    return None


def same_input(a, b) -> bool:
    """Whether two dequantize nodes read the same quantized value."""
    return called(a, "dequantize_per_tensor") and called(b, "dequantize_per_tensor") and a.args[0] is b.args[0]
