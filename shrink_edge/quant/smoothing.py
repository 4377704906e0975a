"""SmoothQuant (Xiao et al., 2023) on a float program before calibration: move activation outliers into the weights.

Transformers' LayerNorm outputs carry a few channels far larger than the rest, so one int8 scale per activation
tensor leaves the other channels a handful of levels. Where a LayerNorm feeds only linear layers, dividing its
channel j by s_j (its weight and bias: the same function) and multiplying column j of each linear layer's weight by
s_j leaves the float model unchanged, with s_j = max|x_j|^alpha / max|w_j|^(1 - alpha) balancing the two ranges;
x_j's range is measured on the calibration data. Per-channel int8 weights absorb the larger columns.
"""
from __future__ import annotations

import numpy as np

from .equalization import _op, _tensor  # one reading of aten op names and of a program's parameters

ALPHA = 0.5
BATCH = 32


def pairs(module) -> list[tuple]:
    """(layer norm, [linear layers]) where the norm has an affine weight and bias and feeds only linear layers
    with weights in the program (directly, or through transposes that keep the channels last)."""
    found = []
    for node in module.graph.nodes:
        if _op(node) != "layer_norm.default" or len(node.args) < 4 or any(
                getattr(a, "op", None) != "get_attr" for a in node.args[2:4]):
            continue
        users = [_through_transposes(u) for u in node.users]
        if users and all(_op(u) == "linear.default" and u.args[1].op == "get_attr" for u in users):
            found.append((node, users))
    return found


def _through_transposes(node):
    """Past transposes that keep the channels last (nn.MultiheadAttention swaps batch and sequence first)."""
    while _op(node) == "transpose.int" and len(node.users) == 1 and all(
            d not in (-1, len(node.meta["val"].shape) - 1) for d in node.args[1:3] if "val" in node.meta):
        node = next(iter(node.users))
    return node


def smooth(module, inputs: list[np.ndarray], alpha: float = ALPHA) -> int:
    """Smooth every pair in place, with activation ranges from `inputs` (one array per model input). Returns how
    many norms were smoothed."""
    import torch

    from .quant_points import run

    found = pairs(module)
    if not found:
        return 0
    ranges: dict[str, torch.Tensor] = {}
    names = {norm.name for norm, _ in found}
    for i in range(0, len(inputs[0]), BATCH):
        _, seen = run(module, [torch.from_numpy(x[i:i + BATCH]) for x in inputs], record=names)
        for name, value in seen.items():
            peak = value.detach().abs().reshape(-1, value.shape[-1]).amax(0)
            ranges[name] = torch.maximum(ranges[name], peak) if name in ranges else peak
    with torch.no_grad():
        for norm, linears in found:
            weights = [_tensor(module, linear.args[1]) for linear in linears]
            columns = torch.stack([w.abs().amax(0) for w in weights]).amax(0)
            scale = (ranges[norm.name].clamp_min(1e-5) ** alpha) / (columns.clamp_min(1e-5) ** (1 - alpha))
            _tensor(module, norm.args[2]).div_(scale)
            _tensor(module, norm.args[3]).div_(scale)
            for weight in weights:
                weight.mul_(scale)
    module.recompile()
    return len(found)
