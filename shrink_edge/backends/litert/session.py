"""Run a .tflite model in ai-edge-litert's Interpreter, quantizing inputs and dequantizing outputs, by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...progress import native_logs_quiet
from ..shared.tflite_io import dequantize, inspector, io_details, matched, quantize, to_layout


def predict(path: Path, inputs: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    with native_logs_quiet():
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    return run(interpreter, inputs, io_details(interpreter)[1], path)


def run(interpreter, inputs: dict[str, np.ndarray], tensors: dict[str, dict], path: Path) -> dict[str, np.ndarray]:
    """Feed every sample, batch by batch (padding the last batch of a fixed-batch model); the named tensors'
    dequantized values over all samples."""
    feeds = matched(list(inputs), io_details(interpreter)[0], "inputs", path)
    batch = int(feeds[0]["shape"][0])
    arrays = [to_layout(x, d["shape"]) for x, d in zip(inputs.values(), feeds)]
    n = len(arrays[0])
    values: dict[str, list] = {name: [] for name in tensors}
    for i in range(0, n, batch):
        for x, detail in zip(arrays, feeds):
            chunk = x[i:i + batch]
            if len(chunk) < batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), 0)])
            interpreter.set_tensor(detail["index"], quantize(chunk, detail))
        interpreter.invoke()
        for name, detail in tensors.items():
            values[name].append(dequantize(interpreter.get_tensor(detail["index"]), detail)[:n - i])
    return {name: np.concatenate(parts) for name, parts in values.items()}


def float_ops(path: Path) -> list[str]:
    """The ops that compute in float (a float input or output that is not a constant), each as OP or OP xN."""
    return _counted([op["op_name"] for op, hybrid in _float_ops(_Graph(path)) if not hybrid])


class _Graph:
    """A .tflite's ops and tensor types, read once."""

    def __init__(self, path: Path):
        interpreter = inspector(path)
        self.ops = interpreter._get_ops_details()
        self.dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
        # a value is made by an op or fed as an input; every other tensor is a constant (weights, shapes)
        self.values = {i for op in self.ops for i in op["outputs"]} | {d["index"] for d in
                                                                       interpreter.get_input_details()}


def _float_ops(graph: _Graph) -> list[tuple[dict, bool]]:
    """Each op computing in float, and whether it is a hybrid one (int8 constant weights, float values: a
    dynamically quantized file's int8 kernels)."""
    dtypes, values = graph.dtypes, graph.values
    return [(op, any(dtypes.get(i) == np.int8 for i in op["inputs"] if i >= 0 and i not in values))
            for op in graph.ops
            if any(dtypes.get(i) == np.float32 for i in [*op["inputs"], *op["outputs"]] if i in values)]


def _int16_ops(graph: _Graph) -> list[str]:
    """The ops whose outputs are int16 activations (a 16x8 file), each as OP or OP xN."""
    return _counted([op["op_name"] for op in graph.ops if any(graph.dtypes.get(i) == np.int16 for i in op["outputs"])])


def _float16_weights(graph: _Graph) -> set[int]:
    """The DEQUANTIZE ops that widen a float16 constant (the GPU delegate reads the float16 values)."""
    return {op["index"] for op in graph.ops
            if op["op_name"] == "DEQUANTIZE" and graph.dtypes.get(op["inputs"][0]) == np.float16}


def _counted(names: list[str]) -> list[str]:
    found: dict[str, int] = {}
    for name in names:
        found[name] = found.get(name, 0) + 1
    return [f"{name} x{n}" if n > 1 else name for name, n in found.items()]


def facts(path: Path) -> dict:
    """Which ops the file computes in float (none in a full-int8 model); in a dynamically quantized file
    (dynamic.py), also the ops with int8 weights whose inputs LiteRT quantizes at run time (`dynamic_int8_ops` in an
    int8 file: its recurrent layers, recurrent.py); in one with float16
    weights (fp16.py), how many (each a DEQUANTIZE to float32, not counted as a float op); in a 16x8 one
    (a16w8.py), the ops that compute int16 activations."""
    graph = _Graph(path)
    ops = _float_ops(graph)
    if halves := _float16_weights(graph):
        return {"weights": f"float16 x{len(halves)}",
                "float_ops": _counted([op["op_name"] for op, _ in ops if op["index"] not in halves])}
    hybrid = _counted([op["op_name"] for op, is_hybrid in ops if is_hybrid])
    found = {"float_ops": _counted([op["op_name"] for op, is_hybrid in ops if not is_hybrid])}
    if wide := _int16_ops(graph):
        found = {"activations": "int16", "int16_ops": wide, **found}
    if hybrid and _static_int8(graph):  # an int8 file's recurrent layers (recurrent.py)
        return {**found, "dynamic_int8_ops": hybrid}
    return {"weights": "int8, activations quantized at run time", "int8_ops": hybrid, **found} if hybrid else found


def _static_int8(graph: _Graph) -> bool:
    """Whether any op computes int8 values (static ranges), as a full-int8 file's do."""
    return any(graph.dtypes.get(i) == np.int8 for op in graph.ops for i in op["outputs"])
