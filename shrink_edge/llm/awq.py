"""AWQ (Lin et al., 2024) on the CPU: before rounding, multiply each linear layer's input channels by s and divide
what feeds them by s, so the float model computes the same function while the channels that carry the largest
activations get finer int4 steps. s = (mean |x| per channel)^alpha, normalised; alpha is searched per group of
layers that read the same input (GRID values in [0, 1), 0 being no scaling) by the output error of the scheme's own
round-to-nearest weights on the calibration text. The groups, in every decoder layer: the attention's RMSNorm ->
q, k, v; the MLP's RMSNorm -> gate, up; up -> down (down reads act(gate) * up, linear in up's outputs).

The result is a scaled copy of the model: every runtime gets its float parts (the norms' weights) and the scheme's
integers of its scaled weights, so the artifacts of one export still hold the same numbers. Inputs are taken from
the float model in one pass (scaling one group leaves the others' inputs unchanged)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .inputs import each_input

GRID = 20       # alphas tried: 0, 1/20, ..., 19/20
SAMPLE = 512    # tokens of each group's input the search measures on, evenly spaced over the calibration text


def _groups(hf_model: nn.Module) -> list[tuple[nn.Module, tuple[nn.Linear, ...]]]:
    """(what makes the input, the linear layers that read it); a group whose layers are not plain linear layers
    (low-rank factors) is left out."""
    groups = []
    for layer in hf_model.model.layers:
        attention, mlp = layer.self_attn, layer.mlp
        groups += [(layer.input_layernorm, (attention.q_proj, attention.k_proj, attention.v_proj)),
                   (layer.post_attention_layernorm, (mlp.gate_proj, mlp.up_proj)),
                   (mlp.up_proj, (mlp.down_proj,))]
    return [(feeder, readers) for feeder, readers in groups
            if all(type(r) is nn.Linear for r in readers) and _scalable(feeder)]


def _scalable(feeder: nn.Module) -> bool:
    """Whether its output channels can be divided by s: a plain linear layer (its rows) or a norm (its 1-D
    weight)."""
    weight = getattr(feeder, "weight", None)
    return type(feeder) is nn.Linear or (isinstance(weight, torch.Tensor) and weight.ndim == 1)


def _inputs(hf_model: nn.Module, readers: list[nn.Linear], calibration: list[list[int]]) -> list[torch.Tensor]:
    """SAMPLE tokens of each layer's input [tokens, in] over the calibration windows."""
    seen: dict[str, list[torch.Tensor]] = {str(i): [] for i in range(len(readers))}
    each_input(hf_model, {str(i): r for i, r in enumerate(readers)}, calibration,
               lambda name, x: seen[name].append(x))
    inputs = [torch.cat(parts).float() for parts in seen.values()]
    return [x[torch.linspace(0, len(x) - 1, min(SAMPLE, len(x))).long()] for x in inputs]


def _scales(x: torch.Tensor, readers, scheme) -> tuple[torch.Tensor, float]:
    """The per-channel scales of the alpha whose rounded weights give the smallest output error, and that alpha."""
    from .weights import quantize

    weight = torch.cat([r.weight.detach().float() for r in readers])
    want = x @ weight.T
    magnitude = x.abs().mean(0).clamp(min=1e-8)
    best = (float("inf"), torch.ones_like(magnitude), 0.0)
    for step in range(GRID):
        alpha = step / GRID
        s = magnitude.pow(alpha)
        s = s / (s.max() * s.min()).sqrt()
        rounded = quantize(weight * s, scheme.bits, scheme.group, scheme.asymmetric, hqq=scheme.hqq).dequantize() / s
        error = float((x @ rounded.T - want).pow(2).mean())
        if error < best[0]:
            best = (error, s, alpha)
    return best[1], best[2]


def scaled(hf_model: nn.Module, scheme, calibration: list[list[int]]) -> tuple[nn.Module, list[float]]:
    """A copy of the model with every group's input channels scaled for the scheme (weights.Scheme: its bits,
    group and zero points round the weights as they will be), and each group's alpha."""
    model = copy.deepcopy(hf_model)
    groups = _groups(model)
    inputs = _inputs(model, [readers[0] for _, readers in groups], calibration)
    alphas = []
    with torch.no_grad():
        for (feeder, readers), x in zip(groups, inputs):
            s, alpha = _scales(x, readers, scheme)
            alphas.append(alpha)
            if type(feeder) is nn.Linear:  # its outputs are the readers' input channels
                feeder.weight.div_(s[:, None])
                if feeder.bias is not None:
                    feeder.bias.div_(s)
            else:  # an RMSNorm: weight * normalised x
                feeder.weight.div_(s)
            for reader in readers:
                reader.weight.mul_(s[None, :])
    return model, alphas
