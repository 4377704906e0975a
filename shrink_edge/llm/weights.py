"""Weight-only quantization of a language model, computed once in PyTorch and packed by every backend as it is:
the artifacts of one export hold the same integers and scales.

A scheme is symmetric integers in blocks along each row's inputs (`group`; None: one block per row, i.e. per output
channel), with a positive scale (XNNPACK, LiteRT and Core ML refuse others): per block, of the two scales that put
the element of largest magnitude on the last code (|max|/7 for int4) or one past it (|max|/8, as llama.cpp's Q4_0
does for a negative extreme, clipping a positive one), the one with the smaller squared error. Scales are rounded to
float16, which every format stores exactly. A row whose length the group does not divide is padded with zeros (code
0, value 0), never skipped.

An `-asym` int4 scheme gives each block an integer zero point too: codes 0..15, value = scale * (code - zero), the
16 levels spread over the block's own range (always holding 0) instead of a range symmetric about 0, which a block
whose weights lean to one side wastes half of. It is the layout of onnxruntime's MatMulNBits zero points, OpenVINO's
u4 with a u4 zero point, Core ML's offset; llama.cpp's Q4_1 stores the same value as scale * code + min, with min =
-scale * zero rounded to float16 (off by at most 2^-11 of it). ExecuTorch's XNNPACK and LiteRT take symmetric blocks
only.

An `-hqq` int4 scheme gives each block a float16 zero point instead, optimized by HQQ (half-quadratic quantization,
Badri & Shaji 2023) without calibration: the block's full range [min, max], then the zero point moved to lower the
l_0.7 norm of the rounding error; of its iterates each block keeps the one of least squared error. Its levels need
not hold 0 exactly, so a block whose weights all lie on one side is spread over all 16 codes. llama.cpp's Q4_1 holds
it natively (its min is a float16), OpenVINO as a float16 zero point, Core ML as a float16 offset; onnxruntime's
MatMulNBits takes float zero points only on a slow path (backends/onnxruntime/llm.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from ..errors import UserError


ALGORITHMS = ("rtn", "gptq")  # how the integers are chosen: round to nearest, or GPTQ on calibration text (gptq.py)


@dataclass(frozen=True)
class Scheme:
    bits: int                       # 4 or 8 (0: float, nothing quantized)
    group: int | None = 32          # inputs per scale; None: per output channel
    embedding_bits: int = 8         # the token embedding and the output layer (tied or not): 8 per row, or 4 in
                                    # the scheme's blocks
    algorithm: str = "rtn"          # ALGORITHMS; the scales are round-to-nearest's either way
    keep_int8: int = 0              # int4 only: the most sensitive linear layers kept int8 per channel
    asymmetric: bool = False        # int4 only: a zero point per block (the linear layers; tables stay symmetric)
    estimate_scales: bool = False   # the linear layers' scales searched by the error weighted by their inputs
    awq: bool = False               # input channels scaled by activation first (awq.py): the model itself changes
    hqq: bool = False               # int4, with asymmetric: the zero points float16, optimized by HQQ
    runtime: bool = False           # int4 as the runtime's own quantizer makes it (contract.RuntimeQuantizer)

    @property
    def name(self) -> str:
        if not self.bits:
            return "float"
        if self.runtime:
            return "runtime"
        suffix = ("-hqq" if self.hqq else "-asym" if self.asymmetric else "") + ("-awq" if self.awq else "") + \
            ("-se" if self.estimate_scales else "") + \
            ("" if self.algorithm == "rtn" else f"-{self.algorithm}") + \
            (f"-mixed{self.keep_int8}" if self.keep_int8 else "") + ("-emb4" if self.embedding_bits == 4 else "")
        return f"int{self.bits}" + (f"-g{self.group}" if self.group else "-channel") + suffix

    @staticmethod
    def parse(text: str, embedding_bits: int = 8) -> "Scheme":
        """'float', 'int8-channel', 'int8-g32', 'int4-g32', 'int4-g64', 'int4-g128', 'int4-channel', then in this
        order: for int4 '-asym' (an integer zero point per block) or '-hqq' (a float16 one, by HQQ), for any '-awq'
        (input channels scaled by activation), '-se' (scales estimated on the calibration text) and '-gptq' (GPTQ's
        integers), for int4 '-mixedN' (the N linear layers most sensitive to int4 kept int8) and '-emb4' (an int4
        embedding table and output layer in the scheme's blocks, instead of int8 per row):
        'int4-g32-asym-awq-se-gptq-mixed4-emb4'. 'runtime': int4 by the runtime's own quantizer, not ours."""
        if text == "float":
            return Scheme(0, None, 0)
        if text == "runtime":
            return Scheme(4, None, embedding_bits, runtime=True)
        match = re.fullmatch(r"int(?P<bits>[48])-(?:g(?P<group>\d+)|channel)(?:(?P<asym>-asym)|(?P<hqq>-hqq))?"
                             r"(?P<awq>-awq)?(?P<se>-se)?(?:-(?P<gptq>gptq))?(?:-mixed(?P<mixed>\d+))?(?P<emb4>-emb4)?",
                             text)
        int8 = match is not None and match["bits"] == "8"
        if not match or (match["group"] and int(match["group"]) not in (16, 32, 64, 128, 256)) \
                or (int8 and (match["asym"] or match["hqq"] or match["mixed"] or match["emb4"])) \
                or (match["mixed"] and int(match["mixed"]) < 1):
            raise UserError(f"unknown weight scheme '{text}'; give float, int8-channel, int8-g32, int4-g32, int4-g64, "
                            "int4-g128 or int4-channel, optionally with -awq, -se (scales estimated on the text) and "
                            "-gptq (int4-g32-awq-se-gptq), and for int4 -asym or -hqq before them (int4-g32-asym-gptq: "
                            "an integer zero point per block; int4-g32-hqq: a float16 one), -mixedN "
                            "(int4-g32-gptq-mixed4: the 4 most sensitive layers int8) and -emb4 (int4-g64-gptq-emb4: "
                            "an int4 embedding table); or runtime (the runtime's own int4 quantizer)")
        return Scheme(int(match["bits"]), int(match["group"]) if match["group"] else None,
                      4 if match["emb4"] else embedding_bits, match["gptq"] or "rtn", int(match["mixed"] or 0),
                      bool(match["asym"] or match["hqq"]), bool(match["se"]), bool(match["awq"]), bool(match["hqq"]))


@dataclass
class QuantizedWeight:
    """W ≈ scale * (codes - zeros), blockwise along the inputs: codes [out, blocks*block] (int8 holding int4 or int8
    values, zero-padded; 0..15 where there are zero points), scales [out, blocks] float32 (float16-exact), zeros
    [out, blocks] int8 (0..15), float32 (float16-exact, -hqq) or None (symmetric: 0)."""
    codes: torch.Tensor
    scales: torch.Tensor
    bits: int
    block: int
    in_features: int
    zeros: torch.Tensor | None = None

    def dequantize(self) -> torch.Tensor:
        out = self.codes.shape[0]
        blocks = self.codes.float().view(out, -1, self.block)
        if self.zeros is not None:
            blocks = blocks - self.zeros.float()[:, :, None]
        return (blocks * self.scales[:, :, None]).view(out, -1)[:, : self.in_features]

    @property
    def bytes(self) -> int:
        """Stored size: the codes at `bits` each plus a float16 scale (and a zero point at `bits`, or float16)
        per block."""
        zero_bytes = 2 if self.zeros is not None and self.zeros.is_floating_point() else self.bits / 8
        zeros = 0 if self.zeros is None else self.zeros.numel() * zero_bytes
        return int(self.codes.numel() * self.bits // 8 + self.scales.numel() * 2 + zeros)


def fingerprint(codes, scales, zeros=None) -> str:
    """A weight's integers, scales and zero points as one digest (int8 codes, float16 scales, int8 or float16 zero
    points), to compare what a file holds with what the scheme computed."""
    import hashlib

    import numpy as np

    held = np.asarray(codes, np.int8).tobytes() + np.asarray(scales, np.float16).tobytes()
    if zeros is not None:
        zeros = np.asarray(zeros)
        held += zeros.astype(np.float16 if zeros.dtype.kind == "f" else np.int8).tobytes()
    return hashlib.sha256(held).hexdigest()


def quantize(weight: torch.Tensor, bits: int, group: int | None, asymmetric: bool = False,
             importance: torch.Tensor | None = None, hqq: bool = False) -> QuantizedWeight:
    """`importance` [in]: each input channel's mean square over the calibration text (scale estimation, `-se`): each
    block's scale is then searched over a finer grid of ranges (ESTIMATION_GRID) by the squared error weighted by
    it, which is the error of the layer's output for inputs that do not correlate (under `hqq`, HQQ's iterates are
    judged by it)."""
    out, inputs = weight.shape
    block = group or inputs
    padded = -(-inputs // block) * block
    w = torch.zeros(out, padded)
    w[:, :inputs] = weight.detach().float()
    blocks = w.view(out, -1, block)
    weights = None
    if importance is not None:
        weights = torch.zeros(padded)
        weights[:inputs] = importance.float()
        weights = weights.view(1, -1, block)
    if hqq:
        candidates = _hqq(blocks, bits)
    else:
        shrinks = ESTIMATION_GRID if importance is not None else SHRINKS if asymmetric else (1.0,)
        candidates = (_asymmetric if asymmetric else _symmetric)(blocks, bits, shrinks)
    best = None
    for codes, scales, zeros in candidates:
        error = ((codes - zeros[:, :, None]) * scales[:, :, None] - blocks).pow(2)
        error = (error if weights is None else error * weights).sum(2)
        if best is None:
            best = (codes, scales, zeros, error)
            continue
        better = error < best[3]
        best = (torch.where(better[:, :, None], codes, best[0]), torch.where(better, scales, best[1]),
                torch.where(better, zeros, best[2]), torch.minimum(error, best[3]))
    codes, scales, zeros = best[0].to(torch.int8), best[1], best[2] if hqq else best[2].to(torch.int8)
    return QuantizedWeight(codes.view(out, padded), scales, bits, block, inputs, zeros if asymmetric or hqq else None)


SHRINKS = (1.0, 0.95, 0.9, 0.85, 0.8)  # asymmetric ranges tried, as fractions of the block's own (llama.cpp's
                                       # Q4_1/Q4_K search clips the extremes the same way)
ESTIMATION_GRID = tuple(1 - i / 40 for i in range(13))  # -se: 100% down to 70% of the range, in steps of 2.5%


def _scales(width: torch.Tensor, levels: int) -> torch.Tensor:
    scales = (width / levels).half().float()
    return torch.where(scales == 0, torch.ones_like(scales), scales)  # an all-zero block: codes at the zero point


def _symmetric(blocks: torch.Tensor, bits: int, shrinks):
    """(codes, scales, zero points 0) for each candidate: the element of largest magnitude on the last code (|max|/7
    for int4) or one past it (|max|/8), times each shrink."""
    low = -(2 ** (bits - 1))
    largest = blocks.abs().amax(2)
    for shrink in shrinks:
        for levels in (-low - 1, -low):
            scales = _scales(largest * shrink, levels)
            codes = torch.clamp(torch.round(blocks / scales[:, :, None]), low, -low - 1)
            yield codes, scales, torch.zeros_like(scales)


def _asymmetric(blocks: torch.Tensor, bits: int, shrinks):
    """(codes 0..2^bits-1, scales, integer zero points) for each candidate: the range [min(w, 0), max(w, 0)] times
    each shrink about its middle."""
    levels = 2 ** bits - 1
    low, high = blocks.amin(2).clamp(max=0), blocks.amax(2).clamp(min=0)
    for shrink in shrinks:
        middle, width = (low + high) / 2, (high - low) * shrink
        scales = _scales(width, levels)
        zeros = torch.clamp(torch.round((width / 2 - middle) / scales), 0, levels)
        yield torch.clamp(torch.round(blocks / scales[:, :, None]) + zeros[:, :, None], 0, levels), scales, zeros


HQQ_STEPS, HQQ_NORM, HQQ_BETA, HQQ_KAPPA = 20, 0.7, 10.0, 1.01  # mobiusml/hqq's defaults, as onnxruntime's


def _hqq(blocks: torch.Tensor, bits: int):
    """(codes 0..2^bits-1, scales, float16 zero points) for each HQQ iterate: the scale of the block's full range,
    then the zero point minimizing ||w - scale * (code - zero) - e||^2 + |e|^p / beta by alternating shrinkage of
    the error e (the proximal step of the l_p norm, p < 1: small errors kept, outliers let go) with the zero point's
    closed form."""
    levels = 2 ** bits - 1
    low = blocks.amin(2)
    scales = _scales(blocks.amax(2) - low, levels)
    zeros, beta = -low / scales, HQQ_BETA
    for _ in range(HQQ_STEPS):
        zeros = zeros.half().float()
        codes = torch.clamp(torch.round(blocks / scales[:, :, None] + zeros[:, :, None]), 0, levels)
        yield codes, scales, zeros
        error = blocks - (codes - zeros[:, :, None]) * scales[:, :, None]
        magnitude = error.abs()
        error = torch.sign(error) * torch.relu(magnitude - magnitude.clamp(min=1e-8).pow(HQQ_NORM - 1) / beta)
        zeros = torch.mean(codes - (blocks - error) / scales[:, :, None], 2)
        beta *= HQQ_KAPPA


def linear_layers(module: nn.Module) -> dict[str, nn.Linear]:
    """The decoder blocks' linear layers by name (the output layer is handled with the embedding)."""
    return {name: m for name, m in module.named_modules()
            if isinstance(m, nn.Linear) and not name.endswith("lm_head")}


@dataclass
class QuantizedModel:
    """What one scheme made of a model: every linear layer's weight, and the embedding table (shared with the
    output layer when the model ties them, else the output layer's own)."""
    scheme: Scheme
    linears: dict[str, QuantizedWeight]
    embedding: QuantizedWeight | None
    lm_head: QuantizedWeight | None     # None when tied to the embedding
    tied: bool
    kept_int8: list[tuple[str, float]] = field(default_factory=list)  # mixed: (layer, its KL alone at int4)
    module: nn.Module | None = None     # -awq: the scaled copy of the model these integers belong to
    awq_alphas: list[float] = field(default_factory=list)  # -awq: each group's alpha (0: left as it was)
    ranking: list[tuple[str, float]] = field(default_factory=list)  # mixed: every layer, the most sensitive first

    def facts(self, hf_model: nn.Module) -> dict:
        """How many linear layers hold each precision, the bits per weight over every matrix (`runtime`: only the
        weight count; what the runtime's tool made is read from its file)."""
        count = sum(m.weight.numel() for m in linear_layers(hf_model).values())
        count += hf_model.get_input_embeddings().weight.numel()
        if not self.tied:
            count += hf_model.get_output_embeddings().weight.numel()
        if self.scheme.runtime:
            return {"scheme": self.scheme.name, "weights": count}
        int4 = sum(q.bits == 4 for q in self.linears.values())
        int8 = sum(q.bits == 8 for q in self.linears.values())
        floats = len(linear_layers(hf_model)) - int4 - int8
        heads = [q for q in (self.embedding, self.lm_head) if q is not None]
        stored = sum(q.bytes for q in (*self.linears.values(), *heads))
        if not self.scheme.bits:
            stored = count * 4
        kept = {"kept_int8": [{"layer": n, "kl_alone_int4": round(kl, 6)} for n, kl in self.kept_int8]} \
            if self.kept_int8 else {}
        if self.awq_alphas:
            kept["awq_groups_scaled"] = f"{sum(a > 0 for a in self.awq_alphas)} of {len(self.awq_alphas)}"
        return {**kept, "scheme": self.scheme.name, "linear_int4": int4, "linear_int8": int8, "linear_float": floats,
                "embedding_bits": self.embedding.bits if self.embedding else 32,
                "bits_per_weight": round(8 * stored / count, 3), "weights": count}


def quantize_model(hf_model: nn.Module, scheme: Scheme, calibration: list[list[int]] | None = None,
                   ranking: list[tuple[str, float]] | None = None) -> QuantizedModel:
    """`calibration`: token windows, for the algorithms that need the layers' inputs (AWQ, scale estimation, GPTQ,
    mixed precision). `ranking`: the layers' sensitivity as an earlier -mixed scheme of the same integers measured
    it (QuantizedModel.ranking), not measured again."""
    tied = hf_model.get_output_embeddings().weight is hf_model.get_input_embeddings().weight
    if not scheme.bits or scheme.runtime:  # float, or left to the runtime's quantizer
        return QuantizedModel(scheme, {}, None, None, tied)
    if (scheme.awq or scheme.estimate_scales or scheme.algorithm == "gptq" or scheme.keep_int8) and not calibration:
        raise UserError(f"scheme {scheme.name} needs calibration text (--data)")
    scaled, alphas = None, []
    if scheme.awq:
        from .awq import scaled as awq_scaled

        scaled, alphas = awq_scaled(hf_model, scheme, calibration)
        hf_model = scaled
    layers = linear_layers(hf_model)
    embedding, lm_head = _tables(hf_model, scheme, tied)
    head = lm_head or embedding  # an int4 output layer too (tied: the table), as the product sees it
    products = {**layers, **({"lm_head": hf_model.get_output_embeddings()} if head and head.bits == 4 else {})}
    hessians = {}
    if scheme.algorithm == "gptq" or scheme.estimate_scales:
        from .gptq import hessians as inputs_of

        hessians = inputs_of(hf_model, products, calibration)
    linears = {name: quantize(m.weight, scheme.bits, scheme.group, scheme.asymmetric,
                              hessians[name].diagonal() / 2 if scheme.estimate_scales else None, scheme.hqq)
               for name, m in layers.items()}  # the diagonal of 2 X^T X / n: each input's mean square
    if scheme.algorithm == "gptq":
        from . import gptq

        for name, h in hessians.items():
            q = linears[name] if name in linears else head
            q.codes = gptq.gptq(products[name].weight, h, q.scales, q.bits, q.block, q.zeros)
    kept = []
    if scheme.keep_int8:
        ranking, kept = _keep_int8(hf_model, layers, linears, scheme.keep_int8, calibration, ranking)
    return QuantizedModel(scheme, linears, embedding, lm_head, tied, kept, scaled, alphas, ranking or [])


def _tables(hf_model: nn.Module, scheme: Scheme, tied: bool) -> tuple[QuantizedWeight | None, QuantizedWeight | None]:
    """The embedding table and an untied output layer: int8 per row, or -emb4's int4 in the scheme's blocks
    (symmetric: lookups take no zero points)."""
    if not scheme.embedding_bits:
        return None, None
    group = scheme.group if scheme.embedding_bits == 4 else None
    embedding = quantize(hf_model.get_input_embeddings().weight, scheme.embedding_bits, group)
    lm_head = None if tied else quantize(hf_model.get_output_embeddings().weight, scheme.embedding_bits, group)
    return embedding, lm_head


def _keep_int8(hf_model: nn.Module, layers: dict, linears: dict, count: int, calibration, ranking):
    """-mixedN: the N layers most sensitive to their int4 weights (measured now unless `ranking` is given) put
    back as int8 per channel in `linears`; (the ranking, the layers kept)."""
    from .sensitivity import ranked

    ranking = ranking or ranked(hf_model, layers, linears, calibration)
    for name, _ in ranking[:count]:
        linears[name] = quantize(layers[name].weight, 8, None)
    return ranking, ranking[:count]


def fake_quantized(hf_model: nn.Module, quantized: QuantizedModel) -> nn.Module:
    """A copy of the model (its scaled copy under -awq) whose weights are the dequantized integers: the PyTorch model
    every artifact of this scheme should reproduce."""
    import copy

    model = copy.deepcopy(quantized.module if quantized.module is not None else hf_model)
    with torch.no_grad():
        layers = linear_layers(model)
        for name, q in quantized.linears.items():
            layers[name].weight.copy_(q.dequantize())
        if quantized.embedding is not None:
            model.get_input_embeddings().weight.copy_(quantized.embedding.dequantize())
        if quantized.lm_head is not None:
            model.get_output_embeddings().weight.copy_(quantized.lm_head.dequantize())
    return model
