"""Ethos-U: a Vela-compiled model runs only on the NPU, so it is not predicted here; Vela's estimates are its facts.
(The int8 .tflite it was compiled from is verified in LiteRT by the same target.)"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ...errors import PredictionUnavailable


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    raise PredictionUnavailable("a Vela-compiled model runs only on an Ethos-U NPU (Arm's Corstone FVP is in no "
                                "registry here); its int8 source .tflite is verified in LiteRT")


def facts(path: Path) -> dict:
    return json.loads((path / "vela.json").read_text())
