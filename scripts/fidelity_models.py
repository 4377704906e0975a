"""Models for scripts/bench_fidelity.py that are hard for int8, trained by that script on Fashion-MNIST (Debian's
dataset-fashion-mnist): a ViT-tiny on 32x32 3-channel copies of the images (LayerNorm, GELU, attention, a
token-mixing softmax) and the bundled sample as an embedder (class scores and its pooled 256-value embedding, the
output an image-retrieval app ships); and a BERT sentence encoder (transformers' BertModel) that the script
pre-trains on the standard library's docstrings (scripts/text_encoder.py)."""
import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shrink_edge.samples.fashion_mnist.model import FashionNet  # noqa: E402
from zoo.transformers import HfSentenceEncoder, ViTTiny  # noqa: E402


def build_vit() -> ViTTiny:
    return ViTTiny(classes=10, dim=64, depth=4, heads=4, patch=4, size=32)


class Embedder(nn.Module):
    """FashionNet returning its class scores and the pooled features the classifier reads."""

    def __init__(self):
        super().__init__()
        self.net = FashionNet()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.net.features(x).mean((2, 3))
        return {"scores": self.net.classifier(embedding), "embedding": embedding}


def build_embedder() -> Embedder:
    return Embedder()


TEXT_VOCABULARY, TEXT_LENGTH = 4000, 64  # WordPiece tokens; tokens per paragraph


def build_text_encoder() -> HfSentenceEncoder:
    return HfSentenceEncoder(vocabulary=TEXT_VOCABULARY, dim=128, depth=4, heads=4, length=TEXT_LENGTH)
