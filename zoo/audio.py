"""Audio models: a DS-CNN, a GRU and a 2-layer LSTM keyword spotter on 49x10 MFCC frames, and a 1-D conv pitch-style model on raw
waveform that slices and pads its input (x[:, None, :, None], F.pad) as pretrained audio models do."""
import torch
from torch import nn

INPUTS = {"mfcc": ((1, 1, 49, 10), "float32")}
WAVE_INPUTS = {"wave": ((1, 1024), "float32")}


class DSCNN(nn.Module):
    def __init__(self, classes=12, width=64):
        super().__init__()
        layers = [nn.Conv2d(1, width, (10, 4), (2, 2), (5, 1), bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(4):
            layers += [nn.Conv2d(width, width, 3, 1, 1, groups=width, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, classes)

    def forward(self, mfcc):
        return self.classifier(self.features(mfcc).mean((2, 3)))


class GRUSpotter(nn.Module):
    def __init__(self, classes=12, hidden=64):
        super().__init__()
        self.gru = nn.GRU(10, hidden, batch_first=True)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, mfcc):
        out, _ = self.gru(mfcc[:, 0])  # (N, 49 frames, 10 coefficients)
        return self.classifier(out[:, -1])


class LSTMSpotter(nn.Module):
    def __init__(self, classes=12, hidden=128):
        super().__init__()
        self.lstm = nn.LSTM(10, hidden, num_layers=2, batch_first=True)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, mfcc):
        out, _ = self.lstm(mfcc[:, 0])  # (N, 49 frames, 10 coefficients)
        return self.classifier(out[:, -1])


class PitchNet(nn.Module):
    """Raw waveform in: framed as an image one column wide, convolved along time, pitch bins out."""

    def __init__(self, bins=64):
        super().__init__()
        chans = [1, 32, 32, 64, 64]
        layers = []
        for cin, cout in zip(chans, chans[1:]):
            layers += [nn.Conv2d(cin, cout, (16, 1), 1, (8, 0), bias=False), nn.ReLU(), nn.BatchNorm2d(cout),
                       nn.MaxPool2d((4, 1))]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(64 * 4, bins)

    def forward(self, wave):
        x = nn.functional.pad(wave[:, None, :, None], (0, 0, 31, 32))  # (N, 1, T, 1), padded along time
        x = self.layers(x)
        return torch.sigmoid(self.classifier(x.flatten(1)))


def build():
    return DSCNN()


def build_gru():
    return GRUSpotter()


def build_lstm():
    return LSTMSpotter()


def build_pitch():
    return PitchNet()
