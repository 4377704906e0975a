"""A decoder LM as GGUF, written from the scheme's integers (never re-quantized): ggml's Q4_0 and Q8_0 hold
symmetric codes in blocks of 32 with a float16 scale each, so int4 and int8 in blocks of 32, 64, 128 or per output
channel are stored exactly (a coarser block repeats its scale over its 32-blocks), as long as a row's width is a
multiple of 32. Asymmetric int4 (a zero point per block) is Q4_1: codes 0..15, a float16 scale d and a float16
minimum m = -d * zero, the value d * code + m (m rounded to float16: within 2^-11 of it), whether the zero point is
an integer (-asym) or a float (-hqq). Llama-family weights get
llama.cpp's Q/K row permutation (its RoPE pairs dimensions i and i+1, Hugging Face's i and i+d/2); Qwen2/Qwen3 keep
theirs (NEOX RoPE)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ARCHITECTURES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3"}
BLOCK = 32


def unsupported(model) -> str | None:
    config = model.config
    kind = getattr(config, "model_type", "")
    arch = ARCHITECTURES.get(kind)
    if arch is None:
        return f"this GGUF writer takes {', '.join(sorted(ARCHITECTURES))}, not '{kind}'"
    for name, width in (("hidden_size", config.hidden_size), ("intermediate_size", config.intermediate_size)):
        if width % BLOCK:
            return f"{name} {width} is not a multiple of 32, the block of ggml's Q4_0/Q8_0"
    rope = getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        return f"RoPE scaling '{rope.get('rope_type', rope.get('type'))}' is not written to GGUF yet"
    import torch

    for i, layer in enumerate(model.module.model.layers):
        for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
            module = getattr(layer.self_attn, name, None) or getattr(layer.mlp, name, None)
            if not isinstance(module, torch.nn.Linear):
                return (f"layer {i}'s {name} is a {type(module).__name__}, not one matrix: llama.cpp's {arch} "
                        "graph has no tensor for it (a low-rank factorized model runs on the other runtimes)")
    return None


LINEARS = (("attn_q", "self_attn", "q_proj"), ("attn_k", "self_attn", "k_proj"), ("attn_v", "self_attn", "v_proj"),
           ("attn_output", "self_attn", "o_proj"), ("ffn_gate", "mlp", "gate_proj"), ("ffn_up", "mlp", "up_proj"),
           ("ffn_down", "mlp", "down_proj"))  # (GGUF name, the decoder block's module, its linear layer)


def matrices(hf) -> dict:
    """GGUF tensor name -> the linear layer it holds; a tied output layer under token_embd.weight, as llama.cpp
    names its importance-matrix entry."""
    found = {f"blk.{i}.{short}.weight": getattr(getattr(layer, part), attribute)
             for i, layer in enumerate(hf.model.layers) for short, part, attribute in LINEARS}
    tied = hf.get_output_embeddings().weight is hf.get_input_embeddings().weight
    found["token_embd.weight" if tied else "output.weight"] = hf.get_output_embeddings()
    return found


def _permute(rows: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's rotate-half layout -> llama.cpp's interleaved pairs, per head (rows = output channels)."""
    return rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def _blocks(q, rows_order=None) -> tuple[np.ndarray, int]:
    """Q4_0 / Q4_1 / Q8_0 bytes [out, K/32 * block bytes] from a QuantizedWeight."""
    import gguf

    if q.block % BLOCK or q.in_features % BLOCK:
        raise ValueError(f"blocks of {q.block} over {q.in_features} inputs are not whole blocks of 32 (Q4_0/Q8_0)")
    codes = q.codes.numpy()[:, : q.in_features].astype(np.int16)
    scales = np.repeat(q.scales.numpy(), q.block // BLOCK, axis=1)[:, : q.in_features // BLOCK]
    zeros = None if q.zeros is None else np.repeat(q.zeros.numpy(), q.block // BLOCK, axis=1)[:, : q.in_features // BLOCK]
    if rows_order is not None:
        codes, scales = codes[rows_order], scales[rows_order]
        zeros = None if zeros is None else zeros[rows_order]
    out = codes.shape[0]
    header = [scales.astype(np.float16).view(np.uint8).reshape(out, -1, 2)]  # d
    blocks = codes.reshape(out, -1, BLOCK)
    if q.bits == 8:
        packed, kind = blocks.astype(np.int8).view(np.uint8), gguf.GGMLQuantizationType.Q8_0
    else:  # Q4_0: codes + 8; Q4_1: codes 0..15 after m = -d * zero; 32 nibbles, the second 16 in the high ones
        unsigned = (blocks + (8 if zeros is None else 0)).astype(np.uint8)
        packed = unsigned[:, :, :16] | (unsigned[:, :, 16:] << 4)
        kind = gguf.GGMLQuantizationType.Q4_0 if zeros is None else gguf.GGMLQuantizationType.Q4_1
        if zeros is not None:
            header.append((-scales * zeros).astype(np.float16).view(np.uint8).reshape(out, -1, 2))
    return np.concatenate([*header, packed], axis=2).reshape(out, -1), kind


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    import gguf
    import torch

    from ...llm.weights import linear_layers

    config, hf = model.config, model.module
    arch = ARCHITECTURES[config.model_type]
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(model.name)
    writer.add_context_length(model.context)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(_file_type(quantized))
    _tokenizer(writer, model)
    permute = arch == "llama"
    layers = linear_layers(hf)

    def tensor(name: str, weight: torch.Tensor, q=None, heads_for_rows: int | None = None):
        order = None
        if heads_for_rows:
            order = _permute(np.arange(weight.shape[0]), heads_for_rows)
        if q is None:
            values = weight.detach().float().numpy()
            writer.add_tensor(name, np.ascontiguousarray(values[order] if order is not None else values))
        else:
            data, kind = _blocks(q, order)
            writer.add_tensor(name, np.ascontiguousarray(data), raw_dtype=kind)

    embedding = hf.get_input_embeddings().weight
    tensor("token_embd.weight", embedding, quantized.embedding)
    for i, layer in enumerate(hf.model.layers):
        a = layer.self_attn
        tensor(f"blk.{i}.attn_norm.weight", layer.input_layernorm.weight)
        for short, part, attribute in LINEARS:
            linear = getattr(getattr(layer, part), attribute)
            rows = {"attn_q": heads, "attn_k": kv_heads}.get(short)
            name = next(n for n, module in layers.items() if module is linear)
            tensor(f"blk.{i}.{short}.weight", linear.weight, quantized.linears.get(name),
                   rows if permute and rows else None)
            if linear.bias is not None:
                tensor(f"blk.{i}.{short}.bias", linear.bias, None, rows if permute and rows else None)
        if getattr(a, "q_norm", None) is not None:
            tensor(f"blk.{i}.attn_q_norm.weight", a.q_norm.weight)
            tensor(f"blk.{i}.attn_k_norm.weight", a.k_norm.weight)
        tensor(f"blk.{i}.ffn_norm.weight", layer.post_attention_layernorm.weight)
    tensor("output_norm.weight", hf.model.norm.weight)
    if not quantized.tied:
        tensor("output.weight", hf.get_output_embeddings().weight, quantized.lm_head)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _file_type(quantized) -> int:
    import gguf

    scheme = quantized.scheme
    if scheme.asymmetric:
        return gguf.LlamaFileType.MOSTLY_Q4_1
    return {0: gguf.LlamaFileType.ALL_F32, 4: gguf.LlamaFileType.MOSTLY_Q4_0,
            8: gguf.LlamaFileType.MOSTLY_Q8_0}[scheme.bits]


def _tokenizer(writer, model) -> None:
    """The Hugging Face tokenizer as GGUF metadata: a byte-level BPE (tokenizer.json with merges) as ggml's 'gpt2'
    model, so llama.cpp tokenizes and detokenizes on its own."""
    import gguf

    tokenizer = model.tokenizer
    raw = json.loads(tokenizer.backend_tokenizer.to_str()) if hasattr(tokenizer, "backend_tokenizer") else None
    if raw is None or raw.get("model", {}).get("type") != "BPE":
        raise ValueError("the GGUF writer carries byte-level BPE tokenizers (tokenizer.json); this one is "
                         f"{(raw or {}).get('model', {}).get('type', type(tokenizer).__name__)}")
    vocab = tokenizer.get_vocab()
    size = max(model.config.vocab_size, max(vocab.values()) + 1)
    tokens = [f"[PAD{i}]" for i in range(size)]
    kinds = [gguf.TokenType.UNUSED] * size
    for text, index in vocab.items():
        tokens[index], kinds[index] = text, gguf.TokenType.NORMAL
    for special in tokenizer.all_special_ids:
        kinds[special] = gguf.TokenType.CONTROL
    merges = [m if isinstance(m, str) else " ".join(m) for m in raw["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pretokenizer(raw, model))
    writer.add_token_list(tokens)
    writer.add_token_types(kinds)
    writer.add_token_merges(merges)
    for token_id, add in ((tokenizer.bos_token_id, writer.add_bos_token_id),
                          (tokenizer.eos_token_id, writer.add_eos_token_id),
                          (tokenizer.pad_token_id, writer.add_pad_token_id)):
        if token_id is not None:
            add(token_id)
    writer.add_add_bos_token(bool(getattr(tokenizer, "add_bos_token", False)))
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)


def _pretokenizer(raw: dict, model) -> str:
    """llama.cpp's name for the text splitting before BPE (convert_hf_to_gguf picks it by a hash of tokenized text;
    here by the family, and GPT-2's byte-level regex for our own model)."""
    kind = model.config.model_type
    if kind in ("qwen2", "qwen3"):
        return "qwen2"
    text = json.dumps(raw.get("pre_tokenizer"))
    if "Split" in text and "\\\\p{N}{1,3}" in text:
        return "llama-bpe"
    return "gpt-2"
