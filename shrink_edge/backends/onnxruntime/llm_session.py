"""onnxruntime's own loop for a decoder LM file from llm.py: the cache fed back as inputs, one InferenceSession for
prefill and decode. Standalone (numpy and onnxruntime only): profiling pushes it to adb devices and the emulated
phone beside profiling/llm_runner.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class Session:
    """onnxruntime's own loop: the cache fed back as inputs, one InferenceSession for prefill and decode."""

    def __init__(self, path: Path, threads: int = 2):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.past = [i.name for i in self.session.get_inputs() if i.name.startswith("past_key_values")]
        shapes = {i.name: i.shape for i in self.session.get_inputs()}
        self.cache_shape = [(1, shapes[n][1], 0, shapes[n][3]) for n in self.past]
        self.reset()

    def reset(self) -> None:
        self.cache = [np.zeros(s, np.float32) for s in self.cache_shape]
        self.length = 0

    def _run(self, tokens: list[int]) -> np.ndarray:
        n = len(tokens)
        feeds = {"input_ids": np.array([tokens], np.int64),
                 "attention_mask": np.ones((1, self.length + n), np.int64),
                 "position_ids": np.arange(self.length, self.length + n, dtype=np.int64)[None],
                 **dict(zip(self.past, self.cache))}
        logits, *self.cache = self.session.run(None, feeds)
        self.length += n
        return logits[0]

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self._run(tokens)

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])[-1]
