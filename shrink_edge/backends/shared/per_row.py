"""Symmetric int8 weights with a scale per output row (zero point 0): what run-time-quantizing kernels read
(onnxruntime's DynamicQuantizeLSTM, LiteRT's hybrid FULLY_CONNECTED)."""
from __future__ import annotations

import numpy as np


def per_row(weight: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes in [-levels, levels] and a float scale per row (over the last axis)."""
    amax = np.abs(weight).max(axis=-1)
    scales = np.where(amax > 0, amax / levels, 1.0).astype(np.float32)
    codes = np.clip(np.rint(weight / scales[..., None]), -levels, levels).astype(np.int8)
    return codes, scales
