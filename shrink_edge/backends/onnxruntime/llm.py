"""Decoder LMs in onnxruntime: the file from shared/onnx_llm.py, run by onnxruntime's own loop with the cache fed
back as inputs; activations stay float32 (accuracy_level 0: weight-only, as the file claims)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..contract import LanguageModels
from ..shared.onnx_llm import packed


def write(model, quantized, scratch: Path, path: Path) -> None:
    shutil.copyfile(packed(model, quantized, scratch), path)


def facts(path: Path) -> dict:
    """What the file holds, counted from its graph: MatMulNBits per bit width, and each MatMul on a constant weight
    (through a Transpose or DequantizeLinear: the output layer tied to the embedding) by that weight's type."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    inits = {i.name: i.data_type for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    counts = {"int4": 0, "int8": 0, "float": 0}
    for node in graph.node:
        if node.op_type == "MatMulNBits":
            counts[f"int{next(a.i for a in node.attribute if a.name == 'bits')}"] += 1
        elif node.op_type == "MatMul":
            source = node.input[1]
            while source in producers and producers[source].op_type in ("Transpose", "DequantizeLinear"):
                source = producers[source].input[0]
            if source in inits:
                counts["int8" if inits[source] in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) else "float"] += 1
    return {"matmul_int4": counts["int4"], "matmul_int8": counts["int8"], "matmul_float": counts["float"],
            "activations": "float32 (accuracy_level 0: weight-only)"}


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


LLM = LanguageModels(suffix=".onnx", write=write, session=Session, facts=facts)
