"""A small image model with one op XNNPACK does not take (a cumulative sum): ExecuTorch runs it on its portable
kernels, outside the delegate."""
import torch
from torch import nn


class CumsumNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, 2, 1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x)).mean((2, 3))
        return self.head(torch.cumsum(h, dim=1))


def build() -> CumsumNet:
    return CumsumNet()
