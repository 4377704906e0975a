"""Which linear layers lose the most at the scheme's precision: each layer alone replaced by its quantized weight,
the rest float, and the mean KL divergence of the next-token distribution from the float model's over the
calibration windows. Mixed precision keeps the most sensitive layers at int8."""
from __future__ import annotations

import torch
from torch import nn


def ranked(hf_model: nn.Module, layers: dict[str, nn.Linear], quantized: dict, calibration: list[list[int]]) \
        -> list[tuple[str, float]]:
    """(layer, KL) for each quantized layer, the most sensitive first (ties: by name)."""
    tokens = torch.tensor(calibration)
    with torch.no_grad():
        want = torch.log_softmax(hf_model(tokens).logits, -1)
        costs = []
        for name, q in quantized.items():
            layer = layers[name]
            weight = layer.weight.detach().clone()
            layer.weight.copy_(q.dequantize())
            try:
                got = torch.log_softmax(hf_model(tokens).logits, -1)
            finally:
                layer.weight.copy_(weight)
            costs.append((name, float((want.exp() * (want - got)).sum(-1).mean())))
    return sorted(costs, key=lambda c: (-c[1], c[0]))
