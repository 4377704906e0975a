"""Decoder LMs as a LiteRT .tflite with `prefill` and `decode` signatures and the KV cache as inputs and outputs
(llm/decoder.CacheIODecoder, LiteRT-LM's external cache), converted by litert-torch. ai-edge-quantizer lays out the
dynamic-range weights (blockwise or channelwise int4/int8 FULLY_CONNECTED, int8 EMBEDDING_LOOKUP: int8 activations
at run time, as LiteRT-LM runs them), then each weight's integers and scales are replaced by the scheme's own, so
the file holds the same numbers as every other runtime's. The output layer gets its own copy of a tied table (the
lookup and the product each int8 per row)."""
from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import numpy as np

from ..contract import LanguageModels

PREFILL = 64       # tokens per prefill call: a longer prompt is prefilled in chunks, a shorter one padded
MAX_CACHE = 1024   # cache positions: the generation length bound, and the attention's width
FULLY_CONNECTED, EMBEDDING_LOOKUP = 9, 7
INT4, INT8 = 17, 9


def _config(bits: int, granularity: str) -> dict:
    return {"weight_tensor_config": {"num_bits": bits, "symmetric": True, "granularity": granularity, "dtype": "INT"},
            "compute_precision": "INTEGER", "explicit_dequantize": False, "skip_checks": False}


def _recipe(scheme) -> list[dict]:
    granularity = f"BLOCKWISE_{scheme.group}" if scheme.group else "CHANNELWISE"
    entry = {"regex": ".*", "algorithm_key": "min_max_uniform_quantize"}
    return [{**entry, "operation": "FULLY_CONNECTED", "op_config": _config(scheme.bits, granularity)},
            {**entry, "regex": ".*output_0.*", "operation": "FULLY_CONNECTED", "op_config": _config(8, "CHANNELWISE")},
            {**entry, "operation": "EMBEDDING_LOOKUP", "op_config": _config(8, "CHANNELWISE")}]


def _code(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _digest(values: np.ndarray) -> bytes:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(values, np.float32).tobytes()).digest()


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    import litert_torch
    import torch
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flat

    from ...llm.decoder import CacheIODecoder
    from ...llm.model import LanguageModel
    from ...llm.weights import linear_layers
    from ...progress import native_logs_quiet

    hf = copy.deepcopy(model.module)
    if quantized.scheme.bits and quantized.tied:  # the lookup and the product: two tensors, each int8 per row
        hf.lm_head.weight = torch.nn.Parameter(hf.lm_head.weight.detach().clone())
    length = min(model.context, MAX_CACHE)
    decoder = CacheIODecoder(LanguageModel(hf, None, None, model.name), length).eval()
    inner = decoder.inner
    caches = [torch.zeros(1, inner.kv_heads, length, inner.head_dim) for _ in range(2 * inner.layers)]
    prefill = min(PREFILL, length)
    float_path = path.with_suffix(".float.tflite")
    with native_logs_quiet(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():  # converters print
        converted = (litert_torch.signature("prefill", decoder, (torch.zeros(1, prefill, dtype=torch.long),
                                                                 torch.arange(prefill), *caches))
                     .signature("decode", decoder, (torch.zeros(1, 1, dtype=torch.long), torch.tensor([0]), *caches))
                     .convert())
        converted.export(str(float_path if quantized.scheme.bits else path))
    if not quantized.scheme.bits:
        return
    with native_logs_quiet(), contextlib.redirect_stdout(io.StringIO()):
        result = quantizer.Quantizer(str(float_path), _recipe(quantized.scheme)).quantize()
        result.export_model(str(path), overwrite=True)
    float_model, model_t = flat.read_model(str(float_path)), flat.read_model(str(path))
    float_path.unlink()
    weights = {_digest(m.weight.detach().numpy()): q for m, q in
               ((linear_layers(hf)[n], q) for n, q in quantized.linears.items())}
    weights[_digest(hf.get_input_embeddings().weight.detach().numpy())] = quantized.embedding
    weights.setdefault(_digest(hf.get_output_embeddings().weight.detach().numpy()),
                       quantized.lm_head or quantized.embedding)
    _replace(float_model, model_t, weights)
    path.write_bytes(bytes(flat.flatbuffer_utils.convert_object_to_bytearray(model_t)))


def _replace(float_model, model_t, weights: dict) -> None:
    """Each quantized weight of model_t gets the scheme's integers and scales; its float twin in float_model (same
    subgraph and operator order) says which layer it is. A weight the scheme does not know is an error."""
    done = set()
    for float_graph, graph in zip(float_model.subgraphs, model_t.subgraphs):
        for float_op, op in zip(float_graph.operators, graph.operators):
            if _code(model_t, op) not in (FULLY_CONNECTED, EMBEDDING_LOOKUP):
                continue
            index = op.inputs[1]  # the weight of a FULLY_CONNECTED, the table of an EMBEDDING_LOOKUP
            if index in done:
                continue
            float_tensor = float_graph.tensors[float_op.inputs[1]]
            values = np.frombuffer(bytes(float_model.buffers[float_tensor.buffer].data), np.float32)
            q = weights.get(_digest(values.reshape(float_tensor.shape)))
            if q is None:
                raise RuntimeError(f"LiteRT weight {float_tensor.name!r} matches no layer of the scheme")
            _fill(model_t, graph, graph.tensors[index], q)
            done.add(index)


def _fill(model_t, graph, tensor, q) -> None:
    codes = q.codes.numpy()[:, : q.in_features].astype(np.int8)
    if tensor.type == INT4:
        unsigned = (codes & 0x0F).astype(np.uint8).reshape(-1)
        packed = unsigned[0::2] | (unsigned[1::2] << 4)
        model_t.buffers[tensor.buffer].data = np.frombuffer(packed.tobytes(), np.uint8)
    elif tensor.type == INT8:
        model_t.buffers[tensor.buffer].data = np.frombuffer(codes.tobytes(), np.uint8)
    else:
        raise RuntimeError(f"LiteRT weight {tensor.name!r} stayed type {tensor.type}: not quantized")
    quantization = tensor.quantization
    details = getattr(quantization, "details", None)
    if details is not None and hasattr(details, "blockSize"):
        if details.blockSize != q.block:
            raise RuntimeError(f"LiteRT blocks of {details.blockSize}, the scheme's {q.block}")
        scales = graph.tensors[details.scales]
        model_t.buffers[scales.buffer].data = np.frombuffer(q.scales.numpy().astype(np.float16).tobytes(), np.uint8)
    else:
        quantization.scale = q.scales[:, 0].numpy().astype(np.float32).tolist()
        quantization.zeroPoint = [0] * len(quantization.scale)


class Session:
    """LiteRT's signature runners: `prefill` (fixed length, padded) and `decode`, the cache fed back as inputs."""

    def __init__(self, path: Path, threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(str(path), num_threads=threads)
        self.runners = {name: self.interpreter.get_signature_runner(name) for name in ("prefill", "decode")}
        details = self.runners["decode"].get_input_details()
        self.names = sorted(details, key=lambda n: int(n.split("_")[-1]))  # args_0 tokens, args_1 positions, caches
        self.cache_shapes = [details[n]["shape"] for n in self.names[2:]]
        self.prefill_length = int(self.runners["prefill"].get_input_details()[self.names[0]]["shape"][1])
        self.reset()

    def reset(self) -> None:
        self.cache = [np.zeros(s, np.float32) for s in self.cache_shapes]
        self.length = 0

    def _run(self, runner: str, tokens: list[int], positions: list[int]) -> np.ndarray:
        feeds = {self.names[0]: np.array([tokens], np.int32), self.names[1]: np.array(positions, np.int32),
                 **dict(zip(self.names[2:], self.cache))}
        outputs = self.runners[runner](**feeds)
        ordered = [outputs[k] for k in sorted(outputs, key=lambda n: int(n.split("_")[-1]))]
        self.cache = ordered[1:]
        return ordered[0][0]

    def prefill(self, tokens: list[int]) -> np.ndarray:
        rows = []
        for start in range(0, len(tokens), self.prefill_length):
            chunk = tokens[start:start + self.prefill_length]
            n = len(chunk)
            padded = chunk + [0] * (self.prefill_length - n)
            positions = list(range(self.length, self.length + self.prefill_length))
            rows.append(self._run("prefill", padded, positions)[:n])
            self.length += n
        return np.concatenate(rows)

    def decode(self, token: int) -> np.ndarray:
        logits = self._run("decode", [token], [self.length])[-1]
        self.length += 1
        return logits


def facts(path: Path) -> dict:
    """FULLY_CONNECTED weights by type, read from the file (int4, int8 or float)."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flat

    model = flat.read_model(str(path))
    counts = {"int4": 0, "int8": 0, "float": 0}
    seen = set()
    for graph in model.subgraphs[:1]:
        for op in graph.operators:
            if _code(model, op) == FULLY_CONNECTED and op.inputs[1] not in seen:
                seen.add(op.inputs[1])
                kind = graph.tensors[op.inputs[1]].type
                counts["int4" if kind == INT4 else "int8" if kind == INT8 else "float"] += 1
    return {"matmul_int4": counts["int4"], "matmul_int8": counts["int8"], "matmul_float": counts["float"],
            "signatures": ["prefill", "decode"],
            "activations": "int8 at run time in the quantized FULLY_CONNECTED (dynamic range); float32 elsewhere, "
                           "KV cache float32"}


LLM = LanguageModels(suffix=".tflite", write=write, session=Session, facts=facts)
