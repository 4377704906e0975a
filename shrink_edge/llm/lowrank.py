"""Low-rank factorization of a language model's linear layers, and low-rank correction of their int4 error.

Both truncate an SVD in the space of the layer's inputs (SVD-LLM's whitening): with G = XᵀX over the calibration
text and S its Cholesky factor (G = S Sᵀ), the SVD of W S = U Σ Vᵀ truncated to rank r gives
W_r = U_r Σ_r V_rᵀ S⁻¹, whose output error ||(W - W_r) X|| is the root of the truncated σ², the least any rank-r
matrix reaches. A factorized
layer is two linear layers (inputs -> r -> outputs), so every runtime runs it as two matrix products.

- `factorize`: the ranks of all layers chosen together for a budget of parameters, greedily by truncated error per
  parameter (each singular value costs in + out parameters), in steps of `multiple` (32: int4 blocks of 32 then
  divide the factors' inputs, as XNNPACK and LiteRT need); a layer whose rank reaches in*out/(in+out) stays dense.
- `corrected` (LQER): the int4 weight kept, and beside it rank-r factors of its error W - Q(W), added to its output."""
from __future__ import annotations

import copy

import torch
from torch import nn

DAMPING = 0.01  # of the mean of G's diagonal: a layer whose inputs never span a direction still factorizes


class LowRank(nn.Module):
    """x -> up(down(x)) (+ `base(x)` for a correction): two linear layers where one was."""

    def __init__(self, down: nn.Linear, up: nn.Linear, base: nn.Linear | None = None):
        super().__init__()
        self.down, self.up, self.base = down, up, base

    def forward(self, x):
        y = self.up(self.down(x))
        return y if self.base is None else y + self.base(x)


def _whitened_svd(weight: torch.Tensor, gram: torch.Tensor):
    """U, σ, and Vᵀ S⁻¹ (rows: the input directions), for W S = U Σ Vᵀ."""
    gram = gram.double()
    gram = gram + DAMPING * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
    s = torch.linalg.cholesky(gram)
    u, sigma, vh = torch.linalg.svd(weight.double() @ s, full_matrices=False)
    return u, sigma, torch.linalg.solve_triangular(s, vh, upper=False, left=False)  # vh S⁻¹


def _factors(u, sigma, v_whitened, rank: int, bias) -> tuple[nn.Linear, nn.Linear]:
    root = sigma[:rank].sqrt()
    down = nn.Linear(v_whitened.shape[1], rank, bias=False)
    up = nn.Linear(rank, u.shape[0], bias=bias is not None)
    with torch.no_grad():
        down.weight.copy_((root[:, None] * v_whitened[:rank]).float())
        up.weight.copy_((u[:, :rank] * root[None]).float())
        if bias is not None:
            up.bias.copy_(bias)
    return down, up


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def factorize(hf_model: nn.Module, calibration: list[list[int]], keep: float, multiple: int = 32) \
        -> tuple[nn.Module, dict[str, int]]:
    """A copy of the model whose decoder linear layers hold `keep` of their parameters in all (0 < keep < 1), each
    factorized at the rank the budget gives it, and the rank of each (its full rank where it stayed dense)."""
    from .gptq import hessians
    from .weights import linear_layers

    layers = linear_layers(hf_model)
    grams = hessians(hf_model, layers, calibration)  # 2 XᵀX / n: any scale whitens alike
    svds = {name: _whitened_svd(m.weight.detach(), grams[name]) for name, m in layers.items()}
    budget = keep * sum(m.weight.numel() for m in layers.values())
    cost = {name: multiple * (m.in_features + m.out_features) for name, m in layers.items()}
    steps = sorted(((float(sigma[k:k + multiple].pow(2).sum()) / cost[name], name)  # error removed per parameter
                    for name, sigma in ((n, svds[n][1]) for n in layers)
                    for k in range(multiple, len(sigma) - multiple + 1, multiple)), reverse=True)
    ranks = dict.fromkeys(layers, multiple)  # every layer its first step
    spent = sum(cost.values())
    for _, name in steps:
        if spent + cost[name] <= budget:
            ranks[name] += multiple
            spent += cost[name]
    model = copy.deepcopy(hf_model)
    for name, m in layers.items():
        if ranks[name] * (m.in_features + m.out_features) >= m.in_features * m.out_features:
            ranks[name] = min(m.in_features, m.out_features)  # no smaller as two: stays dense
            continue
        _replace(model, name, LowRank(*_factors(*svds[name], ranks[name], m.bias)))
    return model, ranks


def corrected(hf_model: nn.Module, quantized, calibration: list[list[int]], rank: int) -> nn.Module:
    """The fake-quantized model with, beside each quantized linear layer, rank-`rank` factors of its weight's
    quantization error (whitened by its inputs), themselves rounded to int8 per channel (LQER)."""
    from .gptq import hessians
    from .weights import fake_quantized, linear_layers, quantize

    layers = linear_layers(hf_model)
    grams = hessians(hf_model, layers, calibration)  # 2 XᵀX / n: any scale whitens alike
    model = fake_quantized(hf_model, quantized)
    quantized_layers = linear_layers(model)
    for name in quantized.linears:
        error = layers[name].weight.detach() - quantized_layers[name].weight.detach()
        down, up = _factors(*_whitened_svd(error, grams[name]), rank, None)
        with torch.no_grad():
            for factor in (down, up):
                factor.weight.copy_(quantize(factor.weight, 8, None).dequantize())
        _replace(model, name, LowRank(down, up, quantized_layers[name]))
    return model
