"""The scheme's integers: in range, float16-exact scales, the largest weight of a block kept exactly, a row the
group does not divide padded (never skipped), and per-channel int4 far coarser than int4 in blocks of 32."""
from __future__ import annotations

import pytest
import torch

from shrink_edge.errors import UserError
from shrink_edge.llm.weights import Scheme, quantize


@pytest.mark.parametrize("bits,group", [(4, 32), (4, None), (8, None), (8, 32)])
def test_codes_scales_and_error(bits, group):
    torch.manual_seed(0)
    w = torch.randn(16, 96)
    q = quantize(w, bits, group)
    low = -(2 ** (bits - 1))
    assert q.codes.min() >= low and q.codes.max() <= -low - 1
    assert torch.equal(q.scales, q.scales.half().float()) and torch.all(q.scales > 0)
    back = q.dequantize()
    assert back.shape == w.shape
    block = group or 96
    blocks, got = w.view(16, -1, block), back.view(16, -1, block)
    plain = (blocks.abs().amax(2, keepdim=True) / (-low - 1)).half().float()  # the textbook symmetric scale
    plain_error = ((blocks / plain).round().clamp(low, -low - 1) * plain - blocks).pow(2).sum(2)
    assert torch.all((got - blocks).pow(2).sum(2) <= plain_error * 1.01 + 1e-12)  # never worse, block by block
    assert (got - blocks).abs().max() <= q.scales.max()  # within one step everywhere


@pytest.mark.parametrize("group", [32, None])
def test_asymmetric_codes_zero_points_and_error(group):
    """-asym: codes and zero points in 0..15, float16-exact scales, and on rows that lean to one side (as many
    layers' do) a smaller error than symmetric blocks, block by block at least as small."""
    torch.manual_seed(0)
    w = torch.randn(32, 96) + 1.5 * torch.rand(32, 1)
    sym, asym = quantize(w, 4, group), quantize(w, 4, group, asymmetric=True)
    assert asym.codes.min() >= 0 and asym.codes.max() <= 15
    assert asym.zeros.shape == asym.scales.shape and asym.zeros.min() >= 0 and asym.zeros.max() <= 15
    assert torch.equal(asym.scales, asym.scales.half().float()) and torch.all(asym.scales > 0)
    back = asym.dequantize()
    assert torch.allclose(back, (asym.codes.float().view(32, -1, asym.block) - asym.zeros[:, :, None])
                          .mul(asym.scales[:, :, None]).view(32, -1)[:, :96])

    def error(q):
        return (q.dequantize() - w).pow(2).mean().item()

    assert error(asym) < 0.8 * error(sym)
    assert asym.bytes == sym.bytes + asym.zeros.numel() // 2  # a 4-bit zero point per block


def test_hqq_zero_points_are_float16_and_recover_a_grid_with_a_float_minimum():
    """-hqq: codes 0..15 about float16 zero points, no block worse than its full range [min, max] alone (HQQ's
    first iterate), better than integer zero points on rows that lean to one side; and a weight that is itself
    a Q4_1-style grid (d * code + m, any float16 m) comes back within float16 rounding, where integer zero points,
    whose levels must hold 0, miss it by a large part of a step."""
    torch.manual_seed(0)
    w = torch.randn(32, 96) + 1.5 * torch.rand(32, 1)
    hqq, asym = quantize(w, 4, 32, asymmetric=True, hqq=True), quantize(w, 4, 32, asymmetric=True)
    assert hqq.codes.min() >= 0 and hqq.codes.max() <= 15
    assert hqq.zeros.is_floating_point() and torch.equal(hqq.zeros, hqq.zeros.half().float())
    assert not torch.equal(hqq.zeros, hqq.zeros.round())
    blocks = w.view(32, 3, 32)
    low, high = blocks.amin(2), blocks.amax(2)
    d = ((high - low) / 15).half().float()
    z = (-low / d).half().float()
    full_range = ((blocks / d[:, :, None] + z[:, :, None]).round().clamp(0, 15) - z[:, :, None]) * d[:, :, None]
    per_block = (hqq.dequantize().view(32, 3, 32) - blocks).pow(2).sum(2)
    assert torch.all(per_block <= (full_range - blocks).pow(2).sum(2) * (1 + 1e-6))
    assert (hqq.dequantize() - w).pow(2).mean() < 0.95 * (asym.dequantize() - w).pow(2).mean()
    assert hqq.bytes == quantize(w, 4, 32).bytes + hqq.zeros.numel() * 2  # a float16 zero point per block

    step = (torch.rand(16, 3) * 0.02 + 0.005).half().float()
    minimum = (torch.rand(16, 3) * 0.1 + 0.01).half().float()  # every value positive: 0 is off the grid
    codes = torch.randint(0, 16, (16, 3, 32)).float()
    codes[:, :, :2] = torch.tensor([0.0, 15.0])
    grid = (codes * step[:, :, None] + minimum[:, :, None]).view(16, 96)
    assert (quantize(grid, 4, 32, asymmetric=True, hqq=True).dequantize() - grid).abs().max() < 0.002 * step.max()
    assert (quantize(grid, 4, 32, asymmetric=True).dequantize() - grid).abs().max() > 0.2 * step.min()


@pytest.mark.parametrize("asymmetric", [False, True])
def test_estimated_scales_lower_the_output_error(asymmetric):
    """-se: with each input channel's mean square over the text, every block's scale is chosen for the layer's output,
    not the weight: on inputs of very different size per channel the output error falls, never rises per block."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4096, 128, generator=generator) * torch.rand(128, generator=generator).pow(3) * 4
    w = torch.randn(64, 128, generator=generator)
    plain = quantize(w, 4, 32, asymmetric)
    estimated = quantize(w, 4, 32, asymmetric, importance=x.pow(2).mean(0))
    assert torch.equal(estimated.scales, estimated.scales.half().float())

    def error(q):
        return (x @ (q.dequantize() - w).T).pow(2).mean().item()

    def per_block(q):
        return ((q.dequantize() - w).pow(2) * x.pow(2).mean(0)).view(64, 4, 32).sum(2)

    assert error(estimated) < 0.9 * error(plain)
    assert torch.all(per_block(estimated) <= per_block(plain) * (1 + 1e-5))


def test_asymmetric_padding_holds_the_zero_point():
    q = quantize(torch.randn(4, 40) + 1, 4, 32, asymmetric=True)
    assert torch.equal(q.codes[:, 40:], q.zeros[:, 1:].expand(4, 24))  # value 0
    assert q.dequantize().shape == (4, 40)


def test_a_group_that_does_not_divide_the_row_pads_it():
    w = torch.randn(4, 40)
    q = quantize(w, 4, 32)
    assert q.codes.shape == (4, 64) and q.scales.shape == (4, 2)
    assert torch.all(q.codes[:, 40:] == 0)
    assert q.dequantize().shape == (4, 40)


def test_per_channel_int4_is_far_coarser_than_blocks():
    torch.manual_seed(0)
    w = torch.randn(64, 512) * torch.rand(1, 512) * 4  # input channels of very different size, as in LLMs
    error = {g: (quantize(w, 4, g).dequantize() - w).pow(2).mean().item() for g in (32, None)}
    assert error[None] > 2 * error[32]


def test_scheme_names():
    assert Scheme.parse("int4-g64") == Scheme(4, 64)
    assert Scheme.parse("int8-channel") == Scheme(8, None)
    assert Scheme.parse("float").bits == 0
    assert Scheme.parse("int4-g32-gptq") == Scheme(4, 32, algorithm="gptq")
    assert Scheme.parse("int4-channel-gptq").name == "int4-channel-gptq"
    assert Scheme.parse("int4-g32-gptq-mixed4") == Scheme(4, 32, algorithm="gptq", keep_int8=4)
    assert Scheme.parse("int4-g64-gptq-mixed2-emb4") == Scheme(4, 64, 4, "gptq", 2)
    assert Scheme.parse("int4-g64-emb4").name == "int4-g64-emb4"
    assert Scheme.parse("int4-g32-asym-gptq-mixed2") == Scheme(4, 32, algorithm="gptq", keep_int8=2, asymmetric=True)
    assert Scheme.parse("int4-channel-asym").name == "int4-channel-asym"
    assert Scheme.parse("int4-g32-asym-se-gptq") == Scheme(4, 32, algorithm="gptq", asymmetric=True,
                                                          estimate_scales=True)
    assert Scheme.parse("int8-channel-se").estimate_scales
    assert Scheme.parse("int4-g32-hqq-gptq") == Scheme(4, 32, algorithm="gptq", asymmetric=True, hqq=True)
    assert Scheme.parse("int4-g32-hqq-awq-se").name == "int4-g32-hqq-awq-se"
    for wrong in ("int8-channel-hqq", "int4-g32-asym-hqq", "int4-g32-hqq-asym"):
        with pytest.raises(UserError, match=f"unknown weight scheme '{wrong}'"):
            Scheme.parse(wrong)
    with pytest.raises(UserError, match="unknown weight scheme 'int4-g32-gptq-se'"):
        Scheme.parse("int4-g32-gptq-se")
    with pytest.raises(UserError, match="unknown weight scheme 'int8-channel-asym'"):
        Scheme.parse("int8-channel-asym")
    with pytest.raises(UserError, match="unknown weight scheme 'int8-channel-emb4'"):
        Scheme.parse("int8-channel-emb4")
    with pytest.raises(UserError, match="unknown weight scheme 'int8-channel-mixed2'"):
        Scheme.parse("int8-channel-mixed2")  # int8 has nothing to keep at int8
    with pytest.raises(UserError, match="unknown weight scheme 'int3-g32'"):
        Scheme.parse("int3-g32")


@pytest.mark.parametrize("group", [32, None])
@pytest.mark.parametrize("zeros", ["none", "integer", "float"])
def test_gptq_keeps_the_scales_and_lowers_the_output_error(group, zeros):
    """On inputs whose channels correlate and differ in size (as a layer's do), GPTQ's integers give a smaller error
    in the layer's output than round-to-nearest's, with the same scales (and zero points: integer or HQQ's float
    ones) and codes in range."""
    from dataclasses import replace

    from shrink_edge.llm.gptq import gptq

    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(96, 96, generator=generator) * torch.rand(96, generator=generator) * 3
    x = torch.randn(2048, 96, generator=generator) @ mixing
    w = torch.randn(48, 96, generator=generator)
    rtn = quantize(w, 4, group, zeros != "none", hqq=zeros == "float")
    codes = gptq(w, 2 * x.T @ x / len(x), rtn.scales, 4, rtn.block, rtn.zeros)
    low, high = (0, 15) if zeros != "none" else (-8, 7)
    assert codes.shape == rtn.codes.shape and codes.min() >= low and codes.max() <= high
    ours = replace(rtn, codes=codes)

    def error(q):
        return (x @ (q.dequantize() - w).T).pow(2).mean().item()

    assert error(ours) < 0.8 * error(rtn)


def test_mixed_keeps_the_layers_that_lose_most_at_int4(tiny_lm):
    """The layers kept int8 are those whose int4 weights alone move the next-token distribution most, and keeping
    them brings the model closer to float than int4 everywhere."""
    from shrink_edge.llm import model, text
    from shrink_edge.llm.sensitivity import ranked
    from shrink_edge.llm.train import english
    from shrink_edge.llm.weights import fake_quantized, linear_layers, quantize_model

    lm = model.load(tiny_lm)
    calibration = text.windows(lm.tokenizer, english(), 64, 2, calibration=4).calibration
    plain = quantize_model(lm.module, Scheme.parse("int4-channel"), calibration)
    mixed = quantize_model(lm.module, Scheme.parse("int4-channel-mixed3"), calibration)
    order = ranked(lm.module, linear_layers(lm.module), plain.linears, calibration)
    assert [name for name, _ in mixed.kept_int8] == [name for name, _ in order[:3]]
    assert all(mixed.linears[name].bits == 8 for name, _ in order[:3]) and order[0][1] >= order[-1][1]
    assert mixed.facts(lm.module)["linear_int8"] == 3

    def kl(q):
        tokens = torch.tensor(calibration)
        with torch.no_grad():
            want = torch.log_softmax(lm.module(tokens).logits, -1)
            got = torch.log_softmax(fake_quantized(lm.module, q)(tokens).logits, -1)
        return float((want.exp() * (want - got)).sum(-1).mean())

    assert kl(mixed) < kl(plain)


def test_an_int4_table_takes_the_schemes_blocks_and_brings_the_bits_to_4_5(tiny_lm):
    """-emb4: the embedding table (tied to the output layer) int4 in blocks of 32 like the linear layers, so every
    matrix costs 4 bits plus a float16 scale per 32: 4.5 bits per weight, against more with an int8 table."""
    from shrink_edge.llm import model
    from shrink_edge.llm.weights import quantize_model

    lm = model.load(tiny_lm)
    int4 = quantize_model(lm.module, Scheme.parse("int4-g32-emb4"))
    int8 = quantize_model(lm.module, Scheme.parse("int4-g32"))
    assert (int4.embedding.bits, int4.embedding.block, int8.embedding.bits) == (4, 32, 8)
    assert int4.embedding.scales.shape[1] == lm.module.config.hidden_size // 32
    assert int4.facts(lm.module)["bits_per_weight"] == 4.5 < int8.facts(lm.module)["bits_per_weight"]
