"""A GRU over 16 time steps read whole, as keyword spotters read theirs: litert-torch unrolls it and joins the
steps' outputs in one 16-input CONCATENATION."""
import torch
from torch import nn


class StepNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, batch_first=True)
        self.classify = nn.Linear(16 * 16, 4)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        steps, _ = self.gru(frames)
        return self.classify(steps.flatten(1))


def build() -> StepNet:
    return StepNet()
