"""Run a .tflite model in ai-edge-litert's Interpreter, quantizing inputs and dequantizing outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return x.astype(np.float32)
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


def predict(path: Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    batch = int(inp["shape"][0])
    x = to_layout(x, inp["shape"])
    outputs = []
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        if len(chunk) < batch:  # a fixed-batch model: pad the last chunk
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), 0)])
        interpreter.set_tensor(inp["index"], quantize(chunk, inp))
        interpreter.invoke()
        outputs.append(dequantize(interpreter.get_tensor(out["index"]), out)[:len(x) - i])
    return np.concatenate(outputs)
