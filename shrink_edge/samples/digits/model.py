"""A second architecture for the benchmarks: a plain VGG-style CNN (3x3 convs, max-pooling, no residuals) for the
8x8 grayscale handwritten digits that scikit-learn ships (load_digits), inputs in [0, 1]."""
import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitsNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, 32), *conv_bn_relu(32, 64), nn.MaxPool2d(2),   # 8x8 -> 4x4
            *conv_bn_relu(64, 128), *conv_bn_relu(128, 128), nn.MaxPool2d(2),  # 4x4 -> 2x2
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build() -> DigitsNet:
    return DigitsNet()
