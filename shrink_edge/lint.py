"""Before any training: will the model convert for each target? Compares the float program's ops with the
ops a target spec declares it supports, and names the module behind each op that it lacks."""
from __future__ import annotations

from .targets import TargetSpec


def op_name(target) -> str:
    """aten.conv2d.default -> conv2d"""
    parts = str(target).split(".")
    return parts[1] if parts[0] == "aten" and len(parts) > 1 else str(target)


def unsupported(program, spec: TargetSpec) -> list[str]:
    """Each op the target lacks, once, with the module it comes from; empty when all is supported."""
    if not spec.supported_ops:
        return []
    found: dict[str, str] = {}
    for node in program.graph.nodes:
        if node.op != "call_function" or str(node.target).startswith("<"):
            continue
        name = op_name(node.target)
        if name not in spec.supported_ops and name not in found:
            stack = node.meta.get("nn_module_stack") or {}
            module = next(reversed(stack.values()), ("", "?")) if stack else ("", "the model's forward")
            found[name] = f"{name} (in {module[0] or 'forward'}: {str(module[1]).rsplit('.', 1)[-1]})"
    return list(found.values())
