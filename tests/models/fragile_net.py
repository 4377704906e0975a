"""A model with one deliberately fragile layer for the debugger: `fragile`'s first output channel is 3000 times the
others and `mixer` divides it back, so the float function is an ordinary conv net while int8's one scale per
activation tensor leaves the other channels of `fragile`'s output a handful of levels."""
import torch
from torch import nn


class FragileNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, 2, 1)
        self.fragile = nn.Conv2d(16, 16, 3, 1, 1)
        self.mixer = nn.Conv2d(16, 32, 3, 2, 1)
        self.head = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        x = torch.relu(self.fragile(x))
        x = torch.relu(self.mixer(x)).mean((2, 3))
        return self.head(x)


def build(outlier: float = 3000.0) -> FragileNet:
    torch.manual_seed(0)
    net = FragileNet()
    with torch.no_grad():
        net.fragile.weight[0] *= outlier
        net.fragile.bias[0] *= outlier
        net.mixer.weight[:, 0] /= outlier
    return net.eval()
