"""Run a .tflite model in ai-edge-litert's Interpreter, quantizing inputs and dequantizing outputs, by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model.signature import by_name_else_position


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float data onto an int8 input's grid; other inputs (float, token ids as int32, bools) as the file types them."""
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0 or not np.issubdtype(x.dtype, np.floating):
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(detail["dtype"])


def dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return y.astype(np.float32)
    return (y.astype(np.float32) - zero) * scale


def to_layout(x: np.ndarray, shape) -> np.ndarray:
    """NCHW data for an NHWC model (channel-last I/O) is transposed."""
    if x.ndim == 4 and tuple(shape[1:]) != x.shape[1:] and tuple(shape[1:]) == (x.shape[2], x.shape[3], x.shape[1]):
        return x.transpose(0, 2, 3, 1)
    return x


def inspector(path: Path):
    """An interpreter with the built-in kernels only (no XNNPACK delegate), for reading a model's ops and tensors."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def io_details(interpreter) -> tuple[dict[str, dict], dict[str, dict]]:
    """Input and output details by name: the signature's names where the model has one (litert-torch names them
    after forward()'s parameters and outputs), else the tensors' own names."""
    by_index = {d["index"]: d for d in [*interpreter.get_input_details(), *interpreter.get_output_details()]}
    signatures = interpreter._get_full_signature_list()
    if len(signatures) == 1:
        signature = next(iter(signatures.values()))
        return ({name: by_index[i] for name, i in sorted(signature["inputs"].items(), key=lambda kv: kv[1])},
                {name: by_index[i] for name, i in sorted(signature["outputs"].items(), key=lambda kv: kv[1])})
    return ({d["name"]: d for d in interpreter.get_input_details()},
            {d["name"]: d for d in interpreter.get_output_details()})


def matched(names, details: dict[str, dict], what: str, path: Path) -> list[dict]:
    """The details for each name; by position when the file's names differ (a model another tool wrote)."""
    if (found := by_name_else_position(details, names)) is not None:
        return found
    raise RuntimeError(f"{path.name} has {what} {', '.join(details)}; expected {', '.join(names)}")


def predict(path: Path, inputs: dict[str, np.ndarray], threads: int = 1) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

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
    return _counted([op["op_name"] for op, hybrid in _float_ops(path) if not hybrid])


def _float_ops(path: Path) -> list[tuple[dict, bool]]:
    """Each op computing in float, and whether it is a hybrid one (int8 constant weights, float values: a
    dynamically quantized file's int8 kernels)."""
    interpreter = inspector(path)
    ops = interpreter._get_ops_details()
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    # a value is made by an op or fed as an input; every other tensor is a constant (weights, shapes)
    values = {i for op in ops for i in op["outputs"]} | {d["index"] for d in interpreter.get_input_details()}
    return [(op, any(dtypes.get(i) == np.int8 for i in op["inputs"] if i >= 0 and i not in values))
            for op in ops if any(dtypes.get(i) == np.float32 for i in [*op["inputs"], *op["outputs"]] if i in values)]


def _counted(names: list[str]) -> list[str]:
    found: dict[str, int] = {}
    for name in names:
        found[name] = found.get(name, 0) + 1
    return [f"{name} x{n}" if n > 1 else name for name, n in found.items()]


def facts(path: Path) -> dict:
    """Which ops the file computes in float (none in a full-int8 model); in a dynamically quantized file
    (dynamic.py), also the ops with int8 weights whose inputs LiteRT quantizes at run time."""
    ops = _float_ops(path)
    hybrid = _counted([op["op_name"] for op, is_hybrid in ops if is_hybrid])
    found = {"float_ops": _counted([op["op_name"] for op, is_hybrid in ops if not is_hybrid])}
    return {"weights": "int8, activations quantized at run time", "int8_ops": hybrid, **found} if hybrid else found
