"""LiteRT's signature runners for a decoder LM file from llm.py. Standalone (numpy and ai-edge-litert only):
profiling pushes it to adb devices and the emulated phone beside profiling/llm_runner.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class Session:
    """LiteRT's signature runners: `prefill` (fixed length, padded) and `decode`, inputs `tokens`, `input_pos` and
    `kv_cache_{k,v}_<layer>`, outputs `logits` and the caches under the same names, fed back as inputs."""

    def __init__(self, path: Path, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(str(path), num_threads=threads)
        self.runners = {name: self.interpreter.get_signature_runner(name) for name in ("prefill", "decode")}
        details = self.runners["decode"].get_input_details()
        self.cache_names = sorted((n for n in details if n.startswith("kv_cache_")),
                                  key=lambda n: (int(n.rsplit("_", 1)[1]), n))
        self.cache_shapes = [details[n]["shape"] for n in self.cache_names]
        self.prefill_length = int(self.runners["prefill"].get_input_details()["tokens"]["shape"][1])
        self.reset()

    def reset(self) -> None:
        self.cache = {n: np.zeros(s, np.float32) for n, s in zip(self.cache_names, self.cache_shapes)}
        self.length = 0

    def _run(self, runner: str, tokens: list[int], positions: list[int]) -> np.ndarray:
        outputs = self.runners[runner](tokens=np.array([tokens], np.int32), input_pos=np.array(positions, np.int32),
                                       **self.cache)
        self.cache = {n: outputs[n] for n in self.cache_names}
        return outputs["logits"][0]

    def prefill(self, tokens: list[int]) -> np.ndarray:
        rows = []
        for start in range(0, len(tokens), self.prefill_length):
            chunk = tokens[start:start + self.prefill_length]
            n = len(chunk)
            if self.length + self.prefill_length > self.cache_shapes[0][2]:  # a padded chunk would not fit
                rows.extend(self.decode(token)[None] for token in chunk)
                continue
            padded = chunk + [0] * (self.prefill_length - n)
            positions = list(range(self.length, self.length + self.prefill_length))
            rows.append(self._run("prefill", padded, positions)[:n])
            self.length += n
        return np.concatenate(rows)

    def decode(self, token: int) -> np.ndarray:
        logits = self._run("decode", [token], [self.length])[-1]
        self.length += 1
        return logits
