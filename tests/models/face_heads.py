"""A face detector's three heads, as RetinaFace-style models return them: box offsets (4), five landmarks (10) and
face / not-face scores (2), all (batch, n): labels 0/1 could be for any of them."""
import torch
from torch import nn


class FaceHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.boxes, self.landmarks, self.face = nn.Linear(16, 4), nn.Linear(16, 10), nn.Linear(16, 2)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(image).mean((2, 3))
        return {"boxes": self.boxes(h), "landmarks": self.landmarks(h), "face": self.face(h)}


def build() -> FaceHeads:
    return FaceHeads()
