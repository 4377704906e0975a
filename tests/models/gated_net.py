"""SiLU and a squeeze-excite gate (x * sigmoid(...)), as EfficientNet and YOLO blocks have them."""
import torch
from torch import nn


class GatedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.SiLU())
        self.excite = nn.Sequential(nn.Conv2d(8, 4, 1), nn.SiLU(), nn.Conv2d(4, 8, 1), nn.Sigmoid())
        self.body = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.SiLU())
        self.classify = nn.Linear(16, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = self.stem(image)
        h = h * self.excite(h.mean((2, 3), keepdim=True))
        return self.classify(self.body(h).mean((2, 3)))


def build() -> GatedNet:
    return GatedNet()
