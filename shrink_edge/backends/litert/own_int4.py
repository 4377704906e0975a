"""LiteRT's own int4: ai-edge-quantizer's GPTQ on our float .tflite, int4 blocks of 32 in every FULLY_CONNECTED (the
output layer too), the embedding table int8 per row by its min-max, calibrated by running both signatures on the
calibration windows (each prefilled from an empty cache; decode on its first token)."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from ..contract import RuntimeQuantizer

BLOCK = 32


def recipe(algorithm: str = "GPTQ") -> list[dict]:
    """int4 blocks of 32 by `algorithm` (GPTQ, min_max_uniform_quantize) in every FULLY_CONNECTED, the table int8."""
    from .llm import _config

    return [{"regex": ".*", "operation": "FULLY_CONNECTED", "algorithm_key": algorithm,
             "op_config": _config(4, f"BLOCKWISE_{BLOCK}")},
            {"regex": ".*", "operation": "EMBEDDING_LOOKUP", "algorithm_key": "min_max_uniform_quantize",
             "op_config": _config(8, "CHANNELWISE")}]


def window_inputs(path: Path, windows: list[list[int]]) -> dict[str, list[dict]]:
    """Per signature of the .tflite at `path`, the calibration windows as its inputs (an empty cache; decode gets
    each window's first token)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path))
    result = {}
    for signature in ("prefill", "decode"):
        details = interpreter.get_signature_runner(signature).get_input_details()
        length = details["tokens"]["shape"][1]
        samples = []
        for window in windows:
            tokens = window[:length] if signature == "prefill" else window[:1]
            feed = {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()}
            feed["tokens"][0, :len(tokens)] = tokens
            feed["input_pos"] = np.arange(length, dtype=np.int32)[: details["input_pos"]["shape"][0]]
            samples.append(feed)
        result[signature] = samples
    return result


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    from ai_edge_quantizer import quantizer

    from ...progress import native_logs_quiet
    from .llm import MAX_CACHE, _litertlm

    source = float_file()
    q = quantizer.Quantizer(str(source), recipe())
    with native_logs_quiet(), contextlib.redirect_stdout(io.StringIO()):
        q.quantize(q.calibrate(window_inputs(source, calibration))).export_model(str(path), overwrite=True)
    _litertlm(model, path, min(model.context, MAX_CACHE))


QUANTIZER = RuntimeQuantizer("ai-edge-quantizer's GPTQ: int4 blocks of 32, the table int8 per row", write)
