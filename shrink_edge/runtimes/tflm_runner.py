"""Run a TFLite Micro bundle in the TFLM reference interpreter with the bundle's own arena size."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _as_litert(detail: dict) -> dict:
    q = detail["quantization_parameters"]
    return {"dtype": detail["dtype"], "quantization": (float(q["scales"][0]), int(q["zero_points"][0]))}


def predict(path: Path, x: np.ndarray) -> np.ndarray:
    from tflite_micro import runtime

    from .litert_runner import dequantize, quantize, to_layout

    info = json.loads((path / "tflm.json").read_text())
    interpreter = runtime.Interpreter.from_bytes((path / "model.tflite").read_bytes(), arena_size=info["arena_bytes"])
    inp, out = interpreter.get_input_details(0), interpreter.get_output_details(0)
    x = to_layout(x, inp["shape"])
    outputs = []
    for sample in x:
        interpreter.set_input(quantize(sample[None], _as_litert(inp)), 0)
        interpreter.invoke()
        outputs.append(dequantize(interpreter.get_output(0), _as_litert(out)))
    return np.concatenate(outputs)


def facts(path: Path) -> dict:
    """RAM and flash: the arena (with margin) and the model bytes."""
    info = json.loads((path / "tflm.json").read_text())
    return {"arena_bytes": info["arena_bytes"], "model_bytes": info["model_bytes"]}
