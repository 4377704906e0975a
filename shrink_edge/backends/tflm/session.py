"""Run a TFLite Micro bundle in the TFLM reference interpreter with the bundle's own arena size."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _as_litert(detail: dict) -> dict:
    q = detail["quantization_parameters"]
    if not len(q["scales"]):  # not quantized: token ids, float values
        return {"dtype": detail["dtype"], "quantization": (0.0, 0)}
    return {"dtype": detail["dtype"], "quantization": (float(q["scales"][0]), int(q["zero_points"][0]))}


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sample by sample (TFLM has no batch); inputs and outputs in the flatbuffer's order, named by its signature."""
    from tflite_micro import runtime

    from ..shared.tflite_io import dequantize, inspector, io_details, matched, quantize, to_layout

    info = json.loads((path / "tflm.json").read_text())
    flatbuffer = path / "model.tflite"
    interpreter = runtime.Interpreter.from_bytes(flatbuffer.read_bytes(), arena_size=info["arena_bytes"])
    litert = inspector(flatbuffer)
    order = {d["index"]: i for i, d in enumerate(litert.get_input_details())}
    out_order = {d["index"]: i for i, d in enumerate(litert.get_output_details())}
    input_details, output_details = io_details(litert)
    feeds = matched(list(inputs), input_details, "inputs", path)
    positions = [order[d["index"]] for d in feeds]
    arrays = [to_layout(x, d["shape"]) for x, d in zip(inputs.values(), feeds)]
    feed = [_as_litert(interpreter.get_input_details(p)) for p in positions]
    reads = {name: (out_order[d["index"]], _as_litert(interpreter.get_output_details(out_order[d["index"]])))
             for name, d in output_details.items()}
    outputs: dict[str, list] = {name: [] for name in output_details}
    for s in range(len(arrays[0])):
        for x, position, detail in zip(arrays, positions, feed):
            interpreter.set_input(quantize(x[s:s + 1], detail), position)
        interpreter.invoke()
        for name, (position, detail) in reads.items():
            outputs[name].append(dequantize(interpreter.get_output(position), detail))
    return {name: np.concatenate(parts) for name, parts in outputs.items()}


def facts(path: Path) -> dict:
    """RAM and flash: the arena (with margin) and the model bytes; a 16x8 bundle's int16 activations."""
    from ..shared.tflite_io import inspector

    info = json.loads((path / "tflm.json").read_text())
    found = {"arena_bytes": info["arena_bytes"], "model_bytes": info["model_bytes"]}
    tensors = inspector(path / "model.tflite").get_tensor_details()
    return {**found, "activations": "int16"} if any(t["dtype"] == np.int16 for t in tensors) else found
