"""How a language model artifact is judged, as llama.cpp's perplexity tool judges a quantized file: through the
runtime's own prefill and decode (its KV cache), against the float PyTorch model on held-out text.

Each held-out window is prefilled for its first half and decoded one token at a time for the rest, so both paths and
the cache carry the numbers. Greedy generation from several prompts is scored by how many tokens match PyTorch's
before the first difference: short smoke tests pass broken int4 models."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Session(Protocol):
    """A runtime's generation loop: what every LLM backend provides."""

    def reset(self) -> None: ...
    def prefill(self, tokens: list[int]) -> np.ndarray: ...   # logits [len(tokens), vocab]
    def decode(self, token: int) -> np.ndarray: ...           # logits [vocab] for the next token


class TorchSession:
    """The float (or fake-quantized) PyTorch model behind the same loop: the reference."""

    def __init__(self, hf_model):
        import torch

        self.torch = torch
        self.decoder = _decoder_of(hf_model)
        self.reset()

    def reset(self) -> None:
        self.cache, self.length = self.decoder.empty_cache(), 0

    def _run(self, tokens: list[int]) -> np.ndarray:
        torch, n = self.torch, len(tokens)
        with torch.no_grad():
            logits, *self.cache = self.decoder(torch.tensor([tokens]), torch.ones(1, self.length + n, dtype=torch.long),
                                               torch.arange(self.length, self.length + n)[None], *self.cache)
        self.length += n
        return logits[0].numpy()

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self._run(tokens)

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])[-1]


def _decoder_of(hf_model):
    from .decoder import Decoder
    from .model import LanguageModel

    return Decoder(LanguageModel(hf_model, None, None, "reference")).eval()


def window_logits(session: Session, window: list[int]) -> np.ndarray:
    """[len(window), vocab]: the first half prefilled, the rest decoded token by token."""
    session.reset()
    half = len(window) // 2
    rows = [session.prefill(window[:half])]
    rows += [session.decode(t)[None] for t in window[half:]]
    return np.concatenate(rows)


def greedy(session: Session, prompt: list[int], new_tokens: int) -> list[int]:
    session.reset()
    token = int(np.argmax(session.prefill(prompt)[-1]))
    out = [token]
    for _ in range(new_tokens - 1):
        token = int(np.argmax(session.decode(token)))
        out.append(token)
    return out


def matched(got: list[int], expected: list[int]) -> int:
    """Tokens of `got` equal to `expected` before the first difference."""
    return next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


@dataclass
class Reference:
    """The float model's logits and greedy continuations, computed once per export."""
    logits: list[np.ndarray]
    continuations: list[list[int]]


def reference(session: Session, windows: list[list[int]], prompts: list[list[int]], new_tokens: int) -> Reference:
    return Reference([window_logits(session, w) for w in windows], [greedy(session, p, new_tokens) for p in prompts])


def compare(session: Session, windows: list[list[int]], prompts: list[list[int]], ref: Reference,
            new_tokens: int, predictions: list | None = None) -> dict:
    """The figures against the reference; `predictions` (if given) gets the session's next token at every scored
    position, to compare artifacts with each other."""
    nll = ref_nll = kl = agree = count = 0.0
    for window, expected in zip(windows, ref.logits):
        got = _log_softmax(window_logits(session, window))[:-1]
        want = _log_softmax(expected)[:-1]
        targets = np.array(window[1:])
        rows = np.arange(len(targets))
        nll -= got[rows, targets].sum()
        ref_nll -= want[rows, targets].sum()
        kl += (np.exp(want) * (want - got)).sum()
        agree += (got.argmax(-1) == want.argmax(-1)).sum()
        if predictions is not None:
            predictions.extend(got.argmax(-1).tolist())
        count += len(targets)
    matches = [matched(greedy(session, prompt, new_tokens), expected)
               for prompt, expected in zip(prompts, ref.continuations)]
    perplexity, reference_perplexity = float(np.exp(nll / count)), float(np.exp(ref_nll / count))
    return {"perplexity": round(perplexity, 4), "reference_perplexity": round(reference_perplexity, 4),
            "perplexity_ratio": round(perplexity / reference_perplexity, 4),
            "kl_divergence": round(float(kl / count), 5), "next_token_agreement": round(float(agree / count), 4),
            "greedy_match_tokens": round(float(np.mean(matches)), 1), "greedy_match_min": int(min(matches)),
            "greedy_new_tokens": new_tokens, "tokens_scored": int(count)}
