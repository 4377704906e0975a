"""Gates as people write them: SiLU and a squeeze-excite gate x * sigmoid(...) (EfficientNet, YOLO), hardswish and a
squeeze-excite gate x * hardsigmoid(...) after a pool (MobileNetV3)."""
import torch
from torch import nn


class GatedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.SiLU())
        self.excite = nn.Sequential(nn.Conv2d(8, 4, 1), nn.SiLU(), nn.Conv2d(4, 8, 1), nn.Sigmoid())
        self.body = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.Hardswish())
        self.hard_excite = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 8, 1), nn.ReLU(), nn.Conv2d(8, 16, 1),
                                         nn.Hardsigmoid())
        self.classify = nn.Linear(16, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = self.stem(image)
        h = h * self.excite(h.mean((2, 3), keepdim=True))
        h = self.body(h)
        h = h * self.hard_excite(h)
        return self.classify(h.mean((2, 3)))


def build() -> GatedNet:
    return GatedNet()
