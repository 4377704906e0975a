"""Versions of the tools that shape an artifact; they enter every cache key and manifest."""
from functools import cache
from importlib.metadata import PackageNotFoundError, version

TOOLS = ("shrink-edge", "torch", "torchao", "litert-torch", "onnx", "onnxscript", "onnxruntime", "executorch", "numpy")


@cache
def tool_versions() -> dict[str, str]:
    found = {}
    for name in TOOLS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found
