"""A recurrent net as keyword spotters and encoders have it: LSTM or GRU layers over frames, a linear head on the
last step."""
import torch
from torch import nn


class RecurrentNet(nn.Module):
    def __init__(self, layer=nn.LSTM, features: int = 8, hidden: int = 32, layers: int = 1, out: int = 4):
        super().__init__()
        self.recurrent = layer(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.recurrent(x)
        return self.head(y[:, -1])


def build() -> RecurrentNet:
    return RecurrentNet().eval()
