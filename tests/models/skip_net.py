"""A small U-Net: skip connections concatenated after nearest and bilinear upsampling (segmenters, FPN necks)."""
import torch
from torch import nn


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU())


class SkipNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1, self.enc2, self.enc3 = _block(1, 8), _block(8, 16, 2), _block(16, 16, 2)
        self.dec2, self.dec1 = _block(32, 16), _block(24, 8)
        self.head = nn.Conv2d(8, 10, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(image)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([nn.functional.interpolate(e3, scale_factor=2.0, mode="nearest"), e2], 1))
        d1 = self.dec1(torch.cat([nn.functional.interpolate(d2, scale_factor=2.0, mode="bilinear"), e1], 1))
        return self.head(d1).mean((2, 3))


def build() -> SkipNet:
    return SkipNet()
