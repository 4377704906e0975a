"""GPTQ (Frantar et al., 2022) on the CPU: each linear layer's integers chosen column by column, the rounding error of
each column spread over the columns not yet rounded through the inverse Hessian of the layer's inputs (H = 2 X^T X
over the calibration text), in descending order of H's diagonal (act-order), with 1% damping. The scales are the
round-to-nearest ones of weights.quantize, fixed before the columns move (static groups), so act-order never splits
a block across scales and every runtime stores the result as it stores round-to-nearest: only the integers differ.

The Hessians come from one pass of the float model over the calibration windows (every layer sees float inputs,
not its quantized predecessors' outputs: one forward instead of one per layer)."""
from __future__ import annotations

import torch
from torch import nn

from .inputs import each_input

DAMPING = 0.01   # of the mean of H's diagonal, added to it
BLOCK = 128      # columns updated together (the lazy batch of the paper)


def hessians(hf_model: nn.Module, layers: dict[str, nn.Linear], calibration: list[list[int]]) -> dict:
    """2 X^T X / n for the inputs X of each layer, over every calibration token."""
    sums = {name: torch.zeros(m.in_features, m.in_features, dtype=torch.float64) for name, m in layers.items()}
    counts = dict.fromkeys(layers, 0)

    def accumulate(name: str, x: torch.Tensor) -> None:
        x = x.double()
        sums[name] += 2 * x.T @ x
        counts[name] += x.shape[0]

    each_input(hf_model, layers, calibration, accumulate)
    return {name: (sums[name] / max(counts[name], 1)).float() for name in layers}


def gptq(weight: torch.Tensor, hessian: torch.Tensor, scales: torch.Tensor, bits: int, block: int,
         zeros: torch.Tensor | None = None) -> torch.Tensor:
    """The integers [out, blocks*block] (int8, zero-padded like weights.quantize) for `weight` [out, in] with the
    given scales [out, blocks] (and zero points, integer or float, codes then 0..2^bits-1)."""
    out, inputs = weight.shape
    if zeros is None:
        low, high, zeros = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1, torch.zeros_like(scales)
    else:
        low, high = 0, 2 ** bits - 1
    w = weight.detach().float().clone()
    h = hessian.clone()
    dead = torch.diag(h) == 0  # inputs that never fire: any integer will do, round-to-nearest keeps them
    h[dead, dead] = 1
    order = torch.argsort(torch.diag(h), descending=True)
    w, h = w[:, order], h[order][:, order]
    h += DAMPING * torch.mean(torch.diag(h)) * torch.eye(inputs)
    inverse = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    column_scales = scales[:, order // block]  # each column's block scale and zero point, in the new order
    column_zeros = zeros.float()[:, order // block]
    codes = torch.zeros(out, inputs)
    for start in range(0, inputs, BLOCK):
        end = min(start + BLOCK, inputs)
        chunk, errors = w[:, start:end].clone(), torch.zeros(out, end - start)
        local = inverse[start:end, start:end]
        for i in range(end - start):
            s, z = column_scales[:, start + i], column_zeros[:, start + i]
            q = torch.clamp(torch.round(chunk[:, i] / s + z), low, high)
            codes[:, start + i] = q
            error = (chunk[:, i] - (q - z) * s) / local[i, i]
            chunk[:, i:] -= error[:, None] * local[i, i:][None, :]
            errors[:, i] = error
        w[:, end:] -= errors @ inverse[start:end, end:]
    padded = torch.round(zeros).to(torch.int8).repeat_interleave(block, 1)  # padding: the code nearest value 0
    padded[:, order] = codes.to(torch.int8)
    return padded
