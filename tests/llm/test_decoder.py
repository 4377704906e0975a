"""The re-authored decoder is the Hugging Face model: same logits for a full sequence and for prefill + decode
through its cache, for Llama and for Qwen2/Qwen3 blocks (q/k/v biases, q/k norms)."""
from __future__ import annotations

import pytest
import torch

from shrink_edge.llm import decoder, model


def _logits_both_ways(lm, ids):
    dec = decoder.Decoder(lm).eval()
    n = ids.shape[1]
    with torch.no_grad():
        full = dec(ids, torch.ones(1, n, dtype=torch.long), torch.arange(n)[None], *dec.empty_cache())[0]
        out = dec(ids[:, :5], torch.ones(1, 5, dtype=torch.long), torch.arange(5)[None], *dec.empty_cache())
        rows, cache = [out[0]], out[1:]
        for t in range(5, n):
            out = dec(ids[:, t:t + 1], torch.ones(1, t + 1, dtype=torch.long), torch.tensor([[t]]), *cache)
            rows.append(out[0])
            cache = out[1:]
    return full, torch.cat(rows, 1)


def test_llama_matches_transformers(tiny_lm):
    lm = model.load(tiny_lm)
    ids = torch.tensor([lm.tokenizer("The assert statement is a convenient way to insert debugging")["input_ids"]])
    with torch.no_grad():
        want = lm.module(ids).logits
    full, stepped = _logits_both_ways(lm, ids)
    assert (full - want).abs().max() < 1e-4
    assert (stepped - want).abs().max() < 1e-4


@pytest.mark.parametrize("form", ["static", "state", "cache-io"])
def test_each_cache_form_prefills_and_decodes_as_transformers(tiny_lm, form):
    """The forms ExecuTorch (buffers written by index), Core ML (states written by slice) and LiteRT (cache in and
    out) trace: a 6-token prefill then token-by-token decode gives transformers' logits."""
    lm = model.load(tiny_lm)
    ids = torch.tensor([lm.tokenizer("The assert statement is a convenient way to insert debugging")["input_ids"]])
    n, length = ids.shape[1], 32
    with torch.no_grad():
        want = lm.module(ids).logits[0]
        if form == "static":
            dec = decoder.StaticCacheDecoder(lm, length).eval()
            step = lambda start, end: dec(ids[:, start:end], torch.tensor([start]))[0]  # noqa: E731
        elif form == "state":
            dec = decoder.StateCacheDecoder(lm, length).eval()
            visible = torch.arange(length)[None, :] <= torch.arange(length)[:, None]
            mask = torch.where(visible, 0.0, float("-inf"))
            step = lambda start, end: dec(ids[:, start:end], mask[None, None, start:end, :end])[0]  # noqa: E731
        else:
            dec = decoder.CacheIODecoder(lm, length).eval()
            cache = dict(zip(dec.cache_names(), dec.inner.empty_cache(length)))

            def step(start, end):
                out = dec(ids[:, start:end].int(), torch.arange(start, end, dtype=torch.int32), **cache)
                cache.update({k: v for k, v in out.items() if k != "logits"})
                return out["logits"][0]
        got = torch.cat([step(0, 6)] + [step(t, t + 1) for t in range(6, n)])
    assert (got - want).abs().max() < 1e-4


@pytest.mark.parametrize("family", ["qwen2", "qwen3"])
def test_qwen_blocks_match_transformers(family):
    from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config_class, model_class = (Qwen2Config, Qwen2ForCausalLM) if family == "qwen2" else (Qwen3Config,
                                                                                          Qwen3ForCausalLM)
    config = config_class(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                          tie_word_embeddings=True)
    hf = model_class(config).eval()
    lm = model.LanguageModel(hf, None, None, family)
    assert decoder.unsupported(lm) is None
    ids = torch.randint(0, 300, (1, 12))
    with torch.no_grad():
        want = hf(ids).logits
    full, stepped = _logits_both_ways(lm, ids)
    assert (full - want).abs().max() < 1e-4
    assert (stepped - want).abs().max() < 1e-4


def test_an_architecture_it_does_not_reauthor_is_named():
    from transformers import GPT2Config, GPT2LMHeadModel

    hf = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=64))
    reason = decoder.unsupported(model.LanguageModel(hf, None, None, "gpt2"))
    assert "gpt2" in reason and "GPT2LMHeadModel" in reason
