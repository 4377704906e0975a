"""A YOLO-style head: one convolution's outputs flattened and sliced into boxes (raw) and class scores (a sigmoid of
the slice)."""
import torch
from torch import nn


class SlicedHeads(nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.SiLU(), nn.Conv2d(16, 4 + classes, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.features(image).flatten(2)  # (N, 4 + classes, positions)
        return y[:, :4], y[:, 4:].sigmoid()


def build() -> SlicedHeads:
    torch.manual_seed(0)
    return SlicedHeads().eval()
