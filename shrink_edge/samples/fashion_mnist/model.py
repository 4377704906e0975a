"""The bundled sample: a MobileNetV2-style CNN for 28x28 grayscale Fashion-MNIST images in [0, 1]."""
import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> project (1x1, linear); a residual add when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            conv_bn_relu(cin, hidden),
            conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.use_residual else y


class FashionNet(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(1, 16, 3, 2),                                # 28x28 -> 14x14
            conv_bn_relu(16, 16, 3, groups=16), conv_bn_relu(16, 32),  # depthwise-separable
            InvertedResidual(32, 32, 1, 4),
            InvertedResidual(32, 64, 2, 4),                           # 7x7
            InvertedResidual(64, 64, 1, 4),
            InvertedResidual(64, 64, 1, 4),
            conv_bn_relu(64, 256),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def build() -> FashionNet:
    return FashionNet()
