"""A convolution whose output is read raw and through a ReLU (a dense block's concatenation of its input with a
layer of it): no runtime can fuse that ReLU into the convolution."""
import torch
from torch import nn


class SharedReluNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.grow = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
        self.head = nn.Linear(32, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = self.conv(image)
        return self.head(torch.cat([h, self.grow(torch.relu(h))], 1).mean((2, 3)))


def build() -> SharedReluNet:
    torch.manual_seed(0)
    return SharedReluNet().eval()
