"""Decoder LMs as a LiteRT .tflite with `prefill` and `decode` signatures and the KV cache as inputs and outputs,
named and written as LiteRT-LM's executor expects (llm/decoder.CacheIODecoder), converted by litert-torch, and the
same model bundled with its tokenizer as a `.litertlm` beside it for LiteRT-LM. ai-edge-quantizer lays out the
dynamic-range weights (blockwise or channelwise int4/int8 FULLY_CONNECTED and EMBEDDING_LOOKUP: int8 activations
at run time, as LiteRT-LM runs them), then each weight's integers and scales are replaced by the scheme's own, so
the file holds the same numbers as every other runtime's. The output layer gets its own copy of a tied table (the
lookup and the product each quantized alike); the converter may merge the two again."""
from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import numpy as np

from ..contract import LanguageModels
from . import llm_session, own_int4

PREFILL = 64       # tokens per prefill call: a longer prompt is prefilled in chunks, a shorter one padded
MAX_CACHE = 1024   # cache positions: the generation length bound, and the attention's width
FULLY_CONNECTED, EMBEDDING_LOOKUP = 9, 7
INT4, INT8 = 17, 9


def _config(bits: int, granularity: str) -> dict:
    return {"weight_tensor_config": {"num_bits": bits, "symmetric": True, "granularity": granularity, "dtype": "INT"},
            "compute_precision": "INTEGER", "explicit_dequantize": False, "skip_checks": False}


def _recipe(scheme) -> list[dict]:
    """The layout of each weight: the scheme's for the linear layers, the embedding's (int8 per row, or int4 in the
    scheme's blocks) for the lookup table and the output layer."""
    granularity = f"BLOCKWISE_{scheme.group}" if scheme.group else "CHANNELWISE"
    table = (4, granularity) if scheme.embedding_bits == 4 else (8, "CHANNELWISE")
    entry = {"regex": ".*", "algorithm_key": "min_max_uniform_quantize"}
    return [{**entry, "operation": "FULLY_CONNECTED", "op_config": _config(scheme.bits, granularity)},
            {**entry, "regex": ".*logits.*", "operation": "FULLY_CONNECTED", "op_config": _config(*table)},
            {**entry, "operation": "EMBEDDING_LOOKUP", "op_config": _config(*table)}]


def _code(model, op) -> int:
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _digest(values: np.ndarray) -> bytes:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(values, np.float32).tobytes()).digest()


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    import litert_torch
    import torch

    from ...llm.decoder import CacheIODecoder
    from ...llm.model import LanguageModel
    from ...progress import native_logs_quiet

    hf = copy.deepcopy(model.module)
    if quantized.scheme.bits and quantized.tied:  # the lookup and the product: two tensors, each int8 per row
        hf.lm_head.weight = torch.nn.Parameter(hf.lm_head.weight.detach().clone())
    length = min(model.context, MAX_CACHE)
    decoder = CacheIODecoder(LanguageModel(hf, None, None, model.name), length, _dynamic_update_slice).eval()
    caches = dict(zip(decoder.cache_names(), decoder.inner.empty_cache(length)))
    prefill = min(PREFILL, length)
    float_path = path.with_suffix(".float.tflite")
    with native_logs_quiet(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():  # converters print
        converted = (litert_torch.signature("prefill", decoder, sample_kwargs={
                         "tokens": torch.zeros(1, prefill, dtype=torch.int32),
                         "input_pos": torch.arange(prefill, dtype=torch.int32), **caches})
                     .signature("decode", decoder, sample_kwargs={
                         "tokens": torch.zeros(1, 1, dtype=torch.int32),
                         "input_pos": torch.zeros(1, dtype=torch.int32), **caches})
                     .convert())
        converted.export(str(float_path if quantized.scheme.bits else path))
    if quantized.scheme.bits:
        _quantize(hf, quantized, float_path, path)
    _litertlm(model, path, length)


def _quantize(hf, quantized, float_path: Path, path: Path) -> None:
    """ai-edge-quantizer's dynamic-range layout of the float file, then the scheme's integers and scales written
    over its own."""
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flat

    from ...llm.weights import linear_layers
    from ...progress import native_logs_quiet

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


def litertlm_path(path: Path) -> Path:
    return path.with_suffix(".litertlm")


def _litertlm(model, path: Path, length: int) -> None:
    """Beside the .tflite, the bundle LiteRT-LM loads (`.litertlm`, litert-lm-builder): the same model as its
    prefill/decode section, the tokenizer.json, and LlmMetadata: stop token, context length, greedy sampling, the
    model's BOS as start token where its tokenizer adds one, a generic (not Gemma) model type."""
    import tempfile

    import litert_lm_builder as builder
    from litert_lm_builder.runtime.proto import llm_metadata_pb2

    tokenizer = model.tokenizer
    metadata = llm_metadata_pb2.LlmMetadata(max_num_tokens=length, supports_thinking=False,
                                            supports_function_calling=False)
    metadata.llm_model_type.generic_model.SetInParent()
    metadata.sampler_params.type = metadata.sampler_params.GREEDY
    metadata.sampler_params.k, metadata.sampler_params.temperature = 1, 1.0
    for eos in [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []:
        metadata.stop_tokens.add().token_ids.ids.append(eos)
    bos = tokenizer.bos_token_id
    if bos is not None and tokenizer("a")["input_ids"][:1] == [bos]:
        metadata.start_token.token_ids.ids.append(bos)
    if tokenizer.chat_template:
        metadata.jinja_prompt_template = tokenizer.chat_template
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        (Path(folder) / "metadata.pb").write_bytes(metadata.SerializeToString(deterministic=True))
        bundle = (builder.LitertLmFileBuilder()
                  .add_llm_metadata(str(Path(folder) / "metadata.pb"))
                  .add_tflite_model(str(path), builder.TfLiteModelType.PREFILL_DECODE)
                  .add_hf_tokenizer(str(Path(folder) / "tokenizer.json")))
        with open(litertlm_path(path), "wb") as stream:
            bundle.build(stream)


@contextlib.contextmanager
def litertlm_engine(bundle: Path, threads: int = 2):
    """LiteRT-LM's own engine (litert-lm-api) on a .litertlm, its XNNPACK weight cache in a temporary folder (else it
    is left beside the bundle) and its INFO lines silenced (they print after the process's own logs end)."""
    import tempfile

    import litert_lm

    litert_lm.set_min_log_severity(litert_lm.LogSeverity.ERROR)
    with tempfile.TemporaryDirectory() as cache:
        engine = litert_lm.Engine(str(bundle), backend=litert_lm.Backend.CPU(thread_count=threads), cache_dir=cache)
        try:
            yield engine
        finally:
            engine.close()


def greedy_text(engine, text: str, new_tokens: int) -> tuple[str, float, float]:
    """The engine's greedy continuation of `text` (no prompt template), and the seconds of its prefill and decode."""
    import time

    import litert_lm

    session = engine.create_session(apply_prompt_template=False, max_output_tokens=new_tokens,
                                    sampler_config=litert_lm.SamplerConfig(top_k=1))
    try:
        start = time.perf_counter()
        session.run_prefill([text])
        middle = time.perf_counter()
        reply = session.run_decode().texts[0]
        return reply, middle - start, time.perf_counter() - middle
    finally:
        session.close()


def second_opinion(path: Path, prompts: list[list[int]], continuations: list[list[int]]) -> dict:
    """LiteRT-LM's engine on the .litertlm: greedy from each prompt's text, the output read back as tokens and
    matched against PyTorch's continuation. It takes and returns text only, so a prompt whose text its tokenizer
    does not turn back into the same tokens is not scored (`litertlm_prompts_scored` says how many)."""
    import importlib.util

    if importlib.util.find_spec("litert_lm") is None:
        return {"litertlm": "litert-lm-api not installed: pip install 'shrink-edge[llm]'"}
    from ...llm.evaluate import matched

    matches = []
    with litertlm_engine(litertlm_path(path)) as engine:
        for prompt, expected in zip(prompts, continuations):
            text = engine.detokenize(prompt)
            if list(engine.tokenize(text)) == prompt:
                got = list(engine.tokenize(greedy_text(engine, text, len(expected))[0]))
                matches.append(matched(got[:len(expected)], expected))
    return {"litertlm_greedy_match_tokens": round(float(np.mean(matches)), 1) if matches else None,
            "litertlm_prompts_scored": len(matches)}


def _dynamic_update_slice(cache, values, input_pos):
    """The slice write as LiteRT's DYNAMIC_UPDATE_SLICE (litert-torch's op), as LiteRT-LM's caches are written."""
    import torch
    from litert_torch.generative.custom_ops.dynamic_update_slice import dynamic_update_slice

    zero = torch.zeros([], dtype=torch.int32)
    return dynamic_update_slice(cache, values, [zero, zero, input_pos.int()[0].reshape([]), zero])


def _replace(float_model, model_t, weights: dict) -> None:
    """Each quantized weight of model_t gets the scheme's integers and scales; its float twin in float_model (same
    subgraph and operator order) says which layer it is. A weight the scheme does not know is an error."""
    done = set()
    for float_graph, graph in zip(float_model.subgraphs, model_t.subgraphs):
        for float_op, op in zip(float_graph.operators, graph.operators):
            if _code(model_t, op) not in (FULLY_CONNECTED, EMBEDDING_LOOKUP):
                continue
            index = op.inputs[1]  # the weight of a FULLY_CONNECTED, the table of an EMBEDDING_LOOKUP
            if (id(graph), index) in done:  # each signature's graph has its own tensor over the shared buffer
                continue
            float_tensor = float_graph.tensors[float_op.inputs[1]]
            values = np.frombuffer(bytes(float_model.buffers[float_tensor.buffer].data), np.float32)
            q = weights.get(_digest(values.reshape(float_tensor.shape)))
            if q is None:
                raise RuntimeError(f"LiteRT weight {float_tensor.name!r} matches no layer of the scheme")
            _fill(model_t, graph, graph.tensors[index], q)
            done.add((id(graph), index))


def _fill(model_t, graph, tensor, q) -> None:
    codes = q.codes.numpy()[:, : q.in_features].astype(np.int8)
    if q.bits == 8 and tensor.type == INT4:  # a layer a mixed scheme keeps int8, laid out as int4 blocks: retyped
        from ai_edge_litert import schema_py_generated as schema

        tensor.type, tensor.quantization = INT8, schema.QuantizationParametersT()
        tensor.quantization.quantizedDimension = 0
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


def read_back(path: Path, model, quantized) -> dict:
    """Whether every signature's graph holds the scheme's integers and scales in each quantized weight, read back
    from the file (the prefill and decode graphs have tensors of their own over shared buffers)."""
    from ai_edge_quantizer.utils import tfl_flatbuffer_utils as flat

    from ...llm.weights import fingerprint

    tables = [quantized.embedding, quantized.lm_head] if quantized.embedding else []
    expected = {fingerprint(q.codes.numpy()[:, : q.in_features], q.scales.numpy())
                for q in (*quantized.linears.values(), *tables) if q is not None}
    file = flat.read_model(str(path))
    agree = True
    for graph in file.subgraphs:
        found = set()  # a tied table the converter stored once serves the lookup and the output layer
        for index in {op.inputs[1] for op in graph.operators if _code(file, op) in (FULLY_CONNECTED, EMBEDDING_LOOKUP)}:
            tensor = graph.tensors[index]
            if tensor.type in (INT4, INT8):
                found.add(fingerprint(*_stored(file, graph, tensor)))
        agree = agree and found == expected
    return {"weights_as_scheme": agree}


def _stored(file, graph, tensor) -> tuple[np.ndarray, np.ndarray]:
    """A quantized tensor's integers [out, in] and scales [out, blocks], as LiteRT reads them."""
    raw = np.frombuffer(bytes(file.buffers[tensor.buffer].data), np.uint8)
    if tensor.type == INT4:
        nibbles = np.stack([raw & 0x0F, raw >> 4], axis=1).reshape(-1).astype(np.int8)
        codes = np.where(nibbles > 7, nibbles - 16, nibbles)
    else:
        codes = raw.view(np.int8)
    codes = codes[: int(np.prod(tensor.shape))].reshape(tensor.shape)
    details = getattr(tensor.quantization, "details", None)
    if details is not None and hasattr(details, "blockSize"):
        scales_tensor = graph.tensors[details.scales]
        scales = np.frombuffer(bytes(file.buffers[scales_tensor.buffer].data), np.float16).reshape(scales_tensor.shape)
    else:
        scales = np.asarray(tensor.quantization.scale, np.float32)[:, None]
    return codes, scales


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


def unsupported_scheme(scheme) -> str | None:
    if scheme.asymmetric:
        return ("LiteRT's XNNPACK delegate defines blockwise int4 weights with zero point 0, so a zero point per "
                "block has no kernel: give a symmetric scheme (int4-g32-gptq)")
    return None


LLM = LanguageModels(suffix=".tflite", write=write, session=llm_session.Session, facts=facts,
                     unsupported_scheme=unsupported_scheme,
                     second_opinion=second_opinion, read_back=read_back, device_session=llm_session,
                     requires=("transformers", "litert_lm_builder"), runtime_quantizer=own_int4.QUANTIZER)
