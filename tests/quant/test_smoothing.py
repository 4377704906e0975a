"""SmoothQuant moves a LayerNorm's outlier channel into the next linear layer's weights: the float function stays,
and per-tensor int8 activations stop losing the other channels."""
import copy

import numpy as np
import torch

from shrink_edge.quant.scheme import converted, make_quantizer
from shrink_edge.quant.smoothing import pairs, smooth
from shrink_edge.config.targets import Quantization
from shrink_edge.verify.metrics import sqnr_db


class Block(torch.nn.Module):
    """LayerNorm -> linear -> GELU -> linear, one LayerNorm channel 50x the others (as trained BERTs have)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.norm, self.up, self.down = torch.nn.LayerNorm(32), torch.nn.Linear(32, 64), torch.nn.Linear(64, 8)
        with torch.no_grad():
            self.norm.weight[3] = 50.0

    def forward(self, x):
        return self.down(torch.nn.functional.gelu(self.up(self.norm(x))))


def int8_sqnr(module, calibration, x, reference) -> float:
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    prepared = prepare_pt2e(module, make_quantizer(Quantization()))
    prepared(calibration)
    return sqnr_db(converted(prepared)(x).detach().numpy(), reference)


def test_smoothing_keeps_the_function_and_the_int8_accuracy():
    block = Block().eval()
    rng = np.random.default_rng(0)
    calibration, x = (torch.from_numpy(rng.standard_normal((n, 16, 32), dtype=np.float32)) for n in (64, 64))
    reference = block(x).detach().numpy()
    batch = torch.export.Dim("batch", min=1)
    export = lambda: torch.export.export(copy.deepcopy(block), (x[:2],),  # noqa: E731
                                         dynamic_shapes=({0: batch},)).module()
    plain, smoothed = export(), export()
    assert [(n.name, [u.name for u in users]) for n, users in pairs(smoothed)] == [("layer_norm", ["linear"])]
    assert smooth(smoothed, [calibration.numpy()]) == 1
    assert sqnr_db(smoothed(x).detach().numpy(), reference) > 60
    assert int8_sqnr(plain, calibration, x, reference) + 6 < int8_sqnr(smoothed, calibration, x, reference)
