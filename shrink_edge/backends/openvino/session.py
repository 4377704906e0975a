"""Run OpenVINO IR on the CPU plugin, and read which precision its heavy layers really run in."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

HEAVY = ("Convolution", "GroupConvolution", "FullyConnected", "MatMul")
RECURRENT = ("RNNSeq", "RNNCell")  # LSTM, GRU


@lru_cache(maxsize=4)
def _compiled(xml: str):
    import openvino as ov

    core = ov.Core()
    # f32 hint: on CPUs with bf16 the plugin would otherwise run the float parts in bf16
    return core.compile_model(core.read_model(xml), "CPU", {"INFERENCE_NUM_THREADS": 1,
                                                           "INFERENCE_PRECISION_HINT": "f32"})


def _name(port, i: int) -> str:
    return next(iter(sorted(port.get_names())), f"output_{i}")


def predict(path: Path, inputs: dict[str, np.ndarray], batch: int = 250) -> dict[str, np.ndarray]:
    """Inputs in the model's order (the IR keeps the ONNX file's), outputs by their tensor names; an IR with a
    static batch (shapes.py) is fed that many samples at a time, the last ones padded."""
    compiled = _compiled(str(path / "model.xml"))
    request = compiled.create_infer_request()
    arrays, n = list(inputs.values()), len(next(iter(inputs.values())))
    fixed = compiled.inputs[0].get_partial_shape()[0]
    batch = fixed.get_length() if fixed.is_static else batch
    chunks = []
    for i in range(0, n, batch):
        feed = [x[i:i + batch] for x in arrays]
        if fixed.is_static and len(feed[0]) < batch:
            feed = [np.concatenate([x, np.repeat(x[-1:], batch - len(x), 0)]) for x in feed]
        results = request.infer(dict(enumerate(feed)))
        chunks.append([np.array(results[port])[:n - i] for port in compiled.outputs])
    names = [_name(port, i) for i, port in enumerate(compiled.outputs)]
    return {name: np.concatenate(parts) for name, parts in zip(names, zip(*chunks))}


def _reads_weights(op) -> bool:
    return any(op.input_value(i).get_node().get_rt_info()["layerType"].astype(str) == "Const"
               for i in range(op.get_input_size()))


def facts(path: Path) -> dict:
    """How many convolution/fully-connected layers the CPU plugin runs in int8, and which stay float. Recurrent
    layers are listed apart where float (`float_recurrent_layers`: the CPU plugin has no int8 LSTM or GRU that keeps
    the model, recurrent.py: the runtime's limit, not int8_compute's), and how many of their weight matrices the IR
    stores as int8 (`int8_recurrent_weights`). A matmul of two activations (attention's scores and context) has no
    int8 weights to run with: counted apart. An IR that stores float16 weights (fp16.py) says how many."""
    import openvino as ov

    from .recurrent import stored_int8

    stored = ov.Core().read_model(str(path / "model.xml"))
    halves = sum(op.get_type_name() == "Constant" and op.get_element_type() == ov.Type.f16 for op in stored.get_ops())
    compiled = _compiled(str(path / "model.xml"))
    int8, other, activation_matmuls, recurrent = 0, [], 0, []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        kind, precision = info["layerType"].astype(str), info["runtimePrecision"].astype(str)
        if kind in RECURRENT and precision not in ("u8", "i8"):
            recurrent.append(f"{op.get_friendly_name()} ({precision})")
        if kind not in HEAVY:
            continue
        if precision in ("u8", "i8"):
            int8 += 1
        elif _reads_weights(op):
            other.append(f"{op.get_friendly_name()} ({precision})")
        else:
            activation_matmuls += 1
    found = {"int8_compute_layers": int8, "float_compute_layers": other, "float_activation_matmuls": activation_matmuls,
             **({"float_recurrent_layers": recurrent} if recurrent else {}),
             **({"int8_recurrent_weights": stored_int8(stored)} if recurrent else {})}
    return {"weights": f"float16 x{halves}", **found} if halves else found
