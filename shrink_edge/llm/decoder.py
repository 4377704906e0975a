"""The causal LM as every exporter takes it: tokens, their positions, an attention mask and the KV cache in; logits
and the grown cache out. One forward serves prefill (many tokens) and decode (one), with no Python state and no
transformers Cache object, so torch.onnx, OpenVINO and the others trace the same graph. It reuses the Hugging Face
model's own modules (so quantized weights apply to both) and re-authors only the wiring: Llama's block, with Qwen2's
q/k/v biases, Qwen3's q/k norms and SmolLM3's layers without RoPE."""
from __future__ import annotations

import torch
from torch import nn

from .model import FAMILIES, LanguageModel, family


def unsupported(model: LanguageModel) -> str | None:
    """Why the decoder cannot re-author this model (None: it can)."""
    kind = family(model)
    if kind not in FAMILIES:
        return (f"architecture '{kind}' ({type(model.module).__name__}) is not one the exporter re-authors "
                f"(it takes {', '.join(sorted(FAMILIES))})")
    rope = getattr(model.config, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type")) in ("dynamic", "longrope"):
        return f"RoPE scaling '{rope.get('rope_type', rope.get('type'))}' changes with the context length"
    return None


def _rms(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", 1e-6))
    return norm.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)  # no shape arithmetic: Core ML's tracer takes it as is
    return torch.cat((-second, first), dim=-1)


class Decoder(nn.Module):
    """forward(input_ids [1,T], attention_mask [1,P+T], position_ids [1,T], past_key_0, past_value_0, ...)
    -> (logits [1,T,V], present_key_0, present_value_0, ...), the cache as [1, kv_heads, length, head_dim]."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        hf, config = model.module, model.config
        self.body, self.lm_head = hf.model, hf.lm_head
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.layers = len(self.body.layers)
        rope_layers = getattr(config, "no_rope_layers", None)  # SmolLM3: 1 = this layer uses RoPE
        self.rope = [bool(rope_layers[i]) if rope_layers else True for i in range(self.layers)]
        rotary = self.body.rotary_emb
        self.register_buffer("inv_freq", rotary.inv_freq.detach().clone().float(), persistent=False)
        self.rope_scale = float(getattr(rotary, "attention_scaling", 1.0))

    def cache_names(self) -> tuple[list[str], list[str]]:
        past = [f"past_key_values.{i}.{kind}" for i in range(self.layers) for kind in ("key", "value")]
        present = [f"present.{i}.{kind}" for i in range(self.layers) for kind in ("key", "value")]
        return past, present

    def empty_cache(self, length: int = 0) -> list[torch.Tensor]:
        return [torch.zeros(1, self.kv_heads, length, self.head_dim) for _ in range(2 * self.layers)]

    def run(self, input_ids, positions, visible, cache) -> torch.Tensor:
        """The logits of the tokens at `positions` [T]; `visible` [T, cache length] says which cached positions
        each may attend to, `cache(layer, k, v)` stores this call's keys and values and returns all of them."""
        x = self.body.embed_tokens(input_ids)
        freqs = positions.float()[:, None] * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos() * self.rope_scale, angles.sin() * self.rope_scale
        bias = torch.where(visible, 0.0, torch.finfo(torch.float32).min)
        for i, layer in enumerate(self.body.layers):
            attention = layer.self_attn
            h = _rms(layer.input_layernorm, x)
            q = attention.q_proj(h).view(1, -1, self.heads, self.head_dim).transpose(1, 2)
            k = attention.k_proj(h).view(1, -1, self.kv_heads, self.head_dim).transpose(1, 2)
            v = attention.v_proj(h).view(1, -1, self.kv_heads, self.head_dim).transpose(1, 2)
            if getattr(attention, "q_norm", None) is not None:
                q, k = _rms(attention.q_norm, q), _rms(attention.k_norm, k)
            if self.rope[i]:
                q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
            k, v = cache(i, k, v)
            repeat = self.heads // self.kv_heads
            if repeat > 1:
                k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
            scores = q @ k.transpose(2, 3) * self.head_dim ** -0.5 + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(1, -1, self.heads * self.head_dim)
            x = x + attention.o_proj(context)
            mlp = layer.mlp
            h = _rms(layer.post_attention_layernorm, x)
            x = x + mlp.down_proj(mlp.act_fn(mlp.gate_proj(h)) * mlp.up_proj(h))
        return self.lm_head(_rms(self.body.norm, x))

    def forward(self, input_ids, attention_mask, position_ids, *past):
        seq, total = input_ids.shape[1], attention_mask.shape[1]
        query_at = torch.arange(seq) + (total - seq)
        visible = (torch.arange(total)[None, :] <= query_at[:, None]) & (attention_mask[0] > 0)[None, :]
        presents = []

        def grow(i, k, v):
            presents.extend((torch.cat((past[2 * i], k), dim=2), torch.cat((past[2 * i + 1], v), dim=2)))
            return presents[-2], presents[-1]

        return (self.run(input_ids, position_ids[0], visible, grow), *presents)


class StaticCacheDecoder(nn.Module):
    """The same model with its KV cache inside, as ExecuTorch holds it (mutable buffers) and its LLM runner calls
    it: forward(input_ids [1,T], input_pos [1], the first token's position) -> logits [1,T,V]; the cache has room
    for `length` tokens and each call writes its tokens' keys and values at their positions. A sequence starts at
    position 0 (later positions overwrite what an earlier sequence left; the mask hides anything after the query)."""

    def __init__(self, model: LanguageModel, length: int):
        super().__init__()
        self.inner = Decoder(model)
        self.length = length
        for i in range(self.inner.layers):
            self.register_buffer(f"k_cache_{i}", torch.zeros(1, self.inner.kv_heads, length, self.inner.head_dim))
            self.register_buffer(f"v_cache_{i}", torch.zeros(1, self.inner.kv_heads, length, self.inner.head_dim))

    def forward(self, input_ids, input_pos):
        positions = input_pos + torch.arange(input_ids.shape[1])

        def store(i, k, v):
            k_cache, v_cache = getattr(self, f"k_cache_{i}"), getattr(self, f"v_cache_{i}")
            k_cache.index_copy_(2, positions, k)
            v_cache.index_copy_(2, positions, v)
            return k_cache, v_cache

        visible = torch.arange(self.length)[None, :] <= positions[:, None]
        return self.inner.run(input_ids, positions, visible, store)


def write_slice(cache: torch.Tensor, values: torch.Tensor, input_pos: torch.Tensor) -> torch.Tensor:
    """`values` [1, heads, T, dim] written into `cache` as one slice from position input_pos[0]."""
    return cache.index_copy(2, input_pos[0] + torch.arange(values.shape[2]), values)


class CacheIODecoder(nn.Module):
    """The fixed-shape form with the cache as inputs and outputs, named as LiteRT-LM's executor looks for them:
    forward(tokens [1,T], input_pos [T], kv_cache_k_0=..., kv_cache_v_0=..., ...) -> {"logits" [1,T,V],
    "kv_cache_k_0", ...}, each cache [1, kv_heads, length, head_dim]. This call's keys and values are written as one
    slice from input_pos[0] (`write`: LiteRT's dynamic_update_slice in its file). A prompt shorter than T is padded
    at the end (LiteRT-LM pads with token 0 at position 0): the padding's entries land after every real position,
    hidden by the mask and overwritten by later tokens."""

    def __init__(self, model: LanguageModel, length: int, write=write_slice):
        super().__init__()
        self.inner = Decoder(model)
        self.length = length
        self.write = write

    def cache_names(self) -> list[str]:
        return [f"kv_cache_{kind}_{i}" for i in range(self.inner.layers) for kind in ("k", "v")]

    def forward(self, tokens, input_pos, **caches):
        updated = {}

        def store(i, k, v):
            for kind, values in (("k", k), ("v", v)):
                updated[f"kv_cache_{kind}_{i}"] = self.write(caches[f"kv_cache_{kind}_{i}"], values, input_pos)
            return updated[f"kv_cache_k_{i}"], updated[f"kv_cache_v_{i}"]

        visible = torch.arange(self.length)[None, :] <= input_pos[:, None]
        return {"logits": self.inner.run(tokens, input_pos, visible, store), **updated}


class StateCacheDecoder(nn.Module):
    """The form Core ML's stateful models take (iOS 18): forward(input_ids [1,T], causal_mask [1,1,T,E]) -> logits
    [1,T,V], the KV cache as buffers that become Core ML states. E = the tokens so far (P + T) comes from the mask's
    width, so the traced graph keeps it dynamic; this call's keys and values land at positions P..E-1 by slice
    assignment (coremltools has no converter for index_copy), and causal_mask[0, 0, t, j] == 0 lets token t see
    position j (anything else hides it)."""

    def __init__(self, model: LanguageModel, length: int):
        super().__init__()
        self.inner = Decoder(model)
        self.length = length
        for i in range(self.inner.layers):
            self.register_buffer(f"k_cache_{i}", torch.zeros(1, self.inner.kv_heads, length, self.inner.head_dim))
            self.register_buffer(f"v_cache_{i}", torch.zeros(1, self.inner.kv_heads, length, self.inner.head_dim))

    def forward(self, input_ids, causal_mask):
        end = causal_mask.shape[-1]
        begin = end - input_ids.shape[1]

        def store(i, k, v):
            k_cache, v_cache = getattr(self, f"k_cache_{i}"), getattr(self, f"v_cache_{i}")
            k_cache[:, :, begin:end] = k
            v_cache[:, :, begin:end] = v
            return k_cache[:, :, :end], v_cache[:, :, :end]

        return self.inner.run(input_ids, torch.arange(begin, end), causal_mask[0, 0] == 0, store)
