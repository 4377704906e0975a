"""Batch norm after ReLU, which no layer before it absorbs (CREPE-style pitch nets, some audio front ends)."""
import torch
from torch import nn


class LateNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.BatchNorm2d(8), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, 1, 1), nn.ReLU(), nn.BatchNorm2d(16))
        self.classify = nn.Linear(16, 10)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(image).mean((2, 3)))


def build() -> LateNormNet:
    return LateNormNet()
