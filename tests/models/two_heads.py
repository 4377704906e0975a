"""A small user model with two named inputs of two dtypes and a dict of two outputs: a 28x28 image and 8 token ids
in, class scores and an embedding out."""
import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self, classes: int = 10, vocabulary: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.tokens = nn.Embedding(vocabulary, 32)
        self.scores = nn.Linear(32, classes)
        self.embedding = nn.Linear(32, 16)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.stem(image).mean((2, 3)) + self.tokens(tokens).mean(1)
        return {"scores": self.scores(h), "embedding": self.embedding(h)}


def build() -> TwoHeads:
    return TwoHeads()
