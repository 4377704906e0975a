"""Low-rank factorization and low-rank correction of int4 error: whitened by the layers' inputs, so the truncation
keeps what the calibration text uses; the budget is met, and more rank means a model closer to float."""
from __future__ import annotations

import torch

from shrink_edge.llm import lowrank
from shrink_edge.llm.weights import Scheme, linear_layers, quantize_model


def _setup(tiny_lm):
    from shrink_edge.llm import model, text
    from shrink_edge.llm.train import english

    lm = model.load(tiny_lm)
    calibration = text.windows(lm.tokenizer, english(), 64, 2, calibration=4).calibration
    return lm.module, calibration


def _kl(reference, model, calibration) -> float:
    tokens = torch.tensor(calibration)
    with torch.no_grad():
        want = torch.log_softmax(reference(tokens).logits, -1)
        got = torch.log_softmax(model(tokens).logits, -1)
    return float((want.exp() * (want - got)).sum(-1).mean())


def test_whitening_gives_the_least_output_error_of_any_rank_r_matrix():
    torch.manual_seed(0)
    x = torch.randn(512, 32) * torch.linspace(0.1, 3, 32)  # inputs of very different size per channel
    w = torch.randn(24, 32)
    u, sigma, v = lowrank._whitened_svd(w, x.T @ x)
    rank = 8
    whitened = (u[:, :rank] * sigma[:rank]) @ v[:rank]
    plain_u, plain_s, plain_v = torch.linalg.svd(w.double(), full_matrices=False)
    plain = (plain_u[:, :rank] * plain_s[:rank]) @ plain_v[:rank]
    error = lambda approx: float((x.double() @ (w.double() - approx).T).norm())
    assert error(whitened) < 0.9 * error(plain)
    assert torch.allclose(u @ torch.diag(sigma) @ v, w.double(), atol=1e-6)  # full rank: the weight itself


def test_factorize_meets_the_budget_and_more_rank_is_closer(tiny_lm):
    hf, calibration = _setup(tiny_lm)
    dense = sum(m.weight.numel() for m in linear_layers(hf).values())
    kls = []
    for keep in (0.5, 0.9):
        model, ranks = lowrank.factorize(hf, calibration, keep, multiple=8)  # the tiny model is 64 wide
        held = sum(m.weight.numel() for m in linear_layers(model).values())
        assert held <= keep * dense and all(r % 8 == 0 for r in ranks.values())
        assert any(isinstance(m, lowrank.LowRank) for m in model.modules())
        assert set(ranks) == set(linear_layers(hf))
        kls.append(_kl(hf, model, calibration))
    assert kls[1] < kls[0]
    assert isinstance(hf.model.layers[0].self_attn.q_proj, torch.nn.Linear)  # the original is left as it was


def test_a_low_rank_correction_brings_int4_closer_to_float(tiny_lm):
    hf, calibration = _setup(tiny_lm)
    quantized = quantize_model(hf, Scheme.parse("int4-channel"))
    from shrink_edge.llm.weights import fake_quantized

    plain = _kl(hf, fake_quantized(hf, quantized), calibration)
    assert _kl(hf, lowrank.corrected(hf, quantized, calibration, 8), calibration) < 0.7 * plain
