"""-awq: the scaled copy computes what the model computes, and where some input channels carry activations far larger
than the rest (what AWQ is for), its int4 weights lose much less than plain rounding's; through the export, the
runtimes write the scaled model and agree with each other."""
from __future__ import annotations

import json

import torch

from tests.conftest import run_cli


def _lm_and_text(tiny_lm):
    from shrink_edge.llm import model, text
    from shrink_edge.llm.train import english

    lm = model.load(tiny_lm)
    return lm, text.windows(lm.tokenizer, english(), 64, 2, calibration=4).calibration


def _kl(reference, other, tokens) -> float:
    with torch.no_grad():
        want = torch.log_softmax(reference(tokens).logits, -1)
        got = torch.log_softmax(other(tokens).logits, -1)
    return float((want.exp() * (want - got)).sum(-1).mean())


def test_the_scaled_model_computes_the_same_function(tiny_lm):
    from shrink_edge.llm.awq import scaled
    from shrink_edge.llm.weights import Scheme

    lm, calibration = _lm_and_text(tiny_lm)
    model, alphas = scaled(lm.module, Scheme.parse("int4-g32-awq"), calibration)
    tokens = torch.tensor(calibration)
    with torch.no_grad():
        assert torch.allclose(model(tokens).logits, lm.module(tokens).logits, atol=1e-4)
    assert len(alphas) == 3 * lm.module.config.num_hidden_layers
    assert any(a > 0 for a in alphas)  # some group scaled: its weights differ from the model's
    assert not torch.equal(model.model.layers[0].self_attn.q_proj.weight, lm.module.model.layers[0].self_attn.q_proj.weight)


def test_awq_recovers_channels_with_outlier_activations(tiny_lm):
    """Eight hidden channels made 30x louder into every attention (the norm's weight up, the q/k/v columns down: the
    same function): per-channel int4 rounds those columns' small weights away, AWQ scales them back first."""
    from shrink_edge.llm.weights import Scheme, fake_quantized, quantize_model

    lm, calibration = _lm_and_text(tiny_lm)
    model = lm.module
    with torch.no_grad():
        for layer in model.model.layers:
            layer.input_layernorm.weight[:8] *= 30
            for linear in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                linear.weight[:, :8] /= 30
    tokens = torch.tensor(calibration)
    plain = quantize_model(model, Scheme.parse("int4-channel"), calibration)
    awq = quantize_model(model, Scheme.parse("int4-channel-awq"), calibration)
    assert awq.module is not None and awq.facts(model)["awq_groups_scaled"].split()[0] != "0"
    assert _kl(model, fake_quantized(model, awq), tokens) < 0.7 * _kl(model, fake_quantized(model, plain), tokens)


def test_export_writes_the_scaled_model_on_every_runtime(tiny_lm, tmp_path):
    """Two schemes in one export, one with -awq: onnxruntime's float file is made per scaled model (a shared one
    would pair scaled weights with unscaled norms), and llama.cpp and onnxruntime agree on it."""
    spec = tmp_path / "two.toml"
    spec.write_text('description = "two runtimes"\nkind = "llm"\ninclude = ["llm-onnx", "llm-gguf"]\n')
    result = run_cli("export", "--target", spec, "--model", tiny_lm, "--out", tmp_path / "out", "--json",
                     "--scheme", "int4-g32-gptq", "--scheme", "int4-g32-awq-gptq")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {(a["target"], a["scheme"]): a for a in report["artifacts"]}
    assert len(rows) == 4 and all(a["budget_broken"] == [] for a in rows.values()), rows
    for target in ("llm-onnx", "llm-gguf"):
        assert rows[(target, "int4-g32-awq-gptq")]["facts"]["awq_groups_scaled"]
        assert rows[(target, "int4-g32-awq-gptq")]["perplexity_ratio"] < 1.05
    assert report["agreement_between_runtimes"]["int4-g32-awq-gptq"]["min_agreement"] >= 0.97
