"""Decoder LMs as an ExecuTorch .pte for XNNPACK, as ExecuTorch's own LLM export makes them: the KV cache inside
the program as mutable buffers (llm/decoder.StaticCacheDecoder), each linear layer XNNPACK's dynamically quantized
kernel (int8 activations per token at run time, the scheme's int4 groups or int8 channels as weights: torchao's
8da4w / 8da8w layout, filled with the scheme's own integers), the token embedding ExecuTorch's embedding_byte (int8
per row) or embedding_4bit (int4 blocks), the output layer the same integers as a linear layer (tied weights are
stored twice)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import LanguageModels
from . import own_int4

MAX_CACHE = 2048  # cache positions in the program: generation length bound, and the attention's width


def _quantized_embedding(q):
    """The table as ExecuTorch's quantized embedding kernels take it: embedding_byte (int8 codes, one scale per row)
    or embedding_4bit (codes + 8 two per byte, the even element in the high nibble; a scale per block)."""
    import torch

    import executorch.exir.passes._quant_patterns_and_replacements  # noqa: F401  (defines the ops)

    codes = q.codes[:, : q.in_features]
    if q.bits == 4:
        unsigned = (codes.to(torch.int16) + 8).to(torch.uint8)
        codes = (unsigned[:, 0::2] << 4) | unsigned[:, 1::2]
    op = torch.ops.quantized_decomposed.embedding_4bit if q.bits == 4 else torch.ops.quantized_decomposed.embedding_byte
    low, high = -(2 ** (q.bits - 1)), 2 ** (q.bits - 1) - 1

    class QuantizedEmbedding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("weight", codes.clone())
            self.register_buffer("scales", q.scales.clone() if q.bits == 4 else q.scales[:, 0].clone())

        def forward(self, indices):
            return op.dtype(self.weight, self.scales, None, low, high, indices, dtype=torch.float32)

    return QuantizedEmbedding()


def _fill(linear, q) -> None:
    """The torchao tensor's integers and scales replaced by the scheme's (same layout: codes [out, in] in int8,
    one scale per block, zero points 0)."""
    import torch

    weight = linear.weight
    codes = q.codes[:, : q.in_features]
    if weight.qdata.shape != codes.shape or weight.scale.shape != q.scales.shape:
        raise ValueError(f"torchao's layout {tuple(weight.scale.shape)} is not the scheme's {tuple(q.scales.shape)}")
    with torch.no_grad():
        weight.qdata.copy_(codes)
        weight.scale.copy_(q.scales)
        weight.zero_point.zero_()


def untie_output(hf) -> None:
    """The output layer as a linear layer of its own, holding a copy of its weight (tied to the table or not), so
    that quantizing it leaves the embedding as it is."""
    import torch

    head = torch.nn.Linear(hf.lm_head.in_features, hf.lm_head.out_features, bias=False)
    head.weight = torch.nn.Parameter(hf.lm_head.weight.detach().clone())
    hf.lm_head = head


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    import copy

    import torch

    from ...llm.weights import linear_layers

    hf = copy.deepcopy(model.module)
    scheme = quantized.scheme
    if scheme.bits:
        from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
        from torchao.quantization.granularity import PerAxis, PerGroup

        layers = linear_layers(hf)
        if scheme.group and (odd := [n for n, m in layers.items() if m.in_features % scheme.group]):
            raise ValueError(f"{odd[0]} has {layers[odd[0]].in_features} inputs, not a multiple of the group "
                             f"{scheme.group} that XNNPACK's int4 kernel needs ({len(odd)} such layers)")
        groups = {}  # one torchao config per (bits, block): a mixed scheme has int4 blocks and int8 channels
        for name, q in quantized.linears.items():
            groups.setdefault((q.bits, q.block if q.block < q.in_features else None), set()).add(name)
        for (bits, group), names in groups.items():
            granularity = PerGroup(group) if group else PerAxis(0)
            config = Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4 if bits == 4 else torch.int8,
                                                           weight_granularity=granularity)
            quantize_(hf, config, filter_fn=lambda m, name, names=names: name in names)
        for name, q in quantized.linears.items():
            _fill(layers[name], q)
        if quantized.embedding is not None:
            head = quantized.lm_head or quantized.embedding
            untie_output(hf)
            granularity = PerGroup(head.block) if head.block < head.in_features else PerAxis(0)
            config = Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4 if head.bits == 4 else torch.int8,
                                                           weight_granularity=granularity)
            quantize_(hf, config, filter_fn=lambda m, name: name == "lm_head")
            _fill(hf.lm_head, head)
            hf.model.embed_tokens = _quantized_embedding(quantized.embedding)
    lower(model, hf, path)


def lower(model, hf, path: Path) -> None:
    """`hf` (the model's module, its weights quantized or not) as the .pte: exported with its cache, lowered to
    XNNPACK, with the LLM runner's metadata methods."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

    from ...llm.decoder import StaticCacheDecoder
    from ...llm.model import LanguageModel
    from .lower import quiet

    length = min(model.context, MAX_CACHE)
    decoder = StaticCacheDecoder(LanguageModel(hf, None, None, model.name), length).eval()
    seq = torch.export.Dim("seq", min=1, max=length - 1)
    example = (torch.zeros(1, 4, dtype=torch.long), torch.tensor([0]))
    tokenizer = model.tokenizer
    eos = tokenizer.eos_token_id if tokenizer is not None else None
    metadata = {"get_max_seq_len": length, "get_max_context_len": length, "get_vocab_size": model.config.vocab_size,
                "get_n_layers": decoder.inner.layers, "use_kv_cache": True, "use_sdpa_with_kv_cache": False,
                "enable_dynamic_shape": True, "get_bos_id": tokenizer.bos_token_id if tokenizer is not None and
                tokenizer.bos_token_id is not None else 0, "get_eos_ids": [eos] if eos is not None else []}
    with quiet(), torch.no_grad():
        program = torch.export.export(decoder, example, dynamic_shapes=({1: seq}, None))
        edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()], constant_methods=metadata,
                                           compile_config=EdgeCompileConfig(_check_ir_validity=False))
        path.write_bytes(edge.to_executorch().buffer)


class Session:
    """ExecuTorch's runtime, called as its LLM runner calls the program: forward(tokens, [start position]); the
    cache lives in the program's mutable buffers, so a new sequence simply starts again at position 0. The program
    also answers the runner's metadata methods (get_max_seq_len, get_bos_id, get_eos_ids, use_kv_cache, ...)."""

    def __init__(self, path: Path, threads: int = 2):
        import executorch.kernels.quantized  # noqa: F401  (embedding_byte's kernel)
        from executorch.runtime import Runtime

        from .lower import quiet

        self.torch = __import__("torch")
        with quiet():
            self.method = Runtime.get().load_program(str(path)).load_method("forward")
        self.reset()

    def reset(self) -> None:
        self.length = 0

    def _run(self, tokens: list[int]) -> np.ndarray:
        torch, n = self.torch, len(tokens)
        logits = self.method.execute([torch.tensor([tokens]), torch.tensor([self.length])])[0]
        self.length += n
        return logits[0].numpy().copy()

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self._run(tokens)

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])[-1]


def facts(path: Path) -> dict:
    """XNNPACK's fully-connected nodes by weight type, read from the delegate blobs in the file."""
    from .session import delegated_weight_types

    kinds = delegated_weight_types(path)
    return {"matmul_int4": kinds.get("int4", 0), "matmul_int8": kinds.get("int8", 0),
            "matmul_float": kinds.get("float", 0), "xnnpack_weight_types": kinds,
            "activations": "int8 per token at run time in every quantized matrix product (XNNPACK qd8); float32 "
                           "elsewhere, KV cache float32"}


def unsupported_scheme(scheme) -> str | None:
    if scheme.asymmetric:
        return ("XNNPACK's int4 blocks take one zero point per tensor (ExecuTorch defines them with 8), not one per "
                "block: give a symmetric scheme (int4-g32-gptq)")
    return None


LLM = LanguageModels(suffix=".pte", write=write, session=Session, facts=facts, unsupported_scheme=unsupported_scheme,
                     runtime_quantizer=own_int4.QUANTIZER)
