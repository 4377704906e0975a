"""The inputs the linear layers see when the float model reads the calibration text: one pass, each layer's input
[tokens, in] handed to a callback as the layer runs (GPTQ's Hessians, AWQ's activation statistics)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def each_input(hf_model: nn.Module, layers: dict[str, nn.Linear], calibration: list[list[int]],
               seen: Callable[[str, torch.Tensor], None]) -> None:
    """seen(layer name, its input [tokens, in_features]) for every calibration window, in order."""
    def hook(name):
        def call(module, args, output):
            seen(name, args[0].detach().reshape(-1, module.in_features))
        return call

    handles = [m.register_forward_hook(hook(name)) for name, m in layers.items()]
    try:
        with torch.no_grad():
            for window in calibration:
                hf_model(torch.tensor([window]))
    finally:
        for handle in handles:
            handle.remove()
