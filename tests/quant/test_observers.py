"""The activation observers a scheme can name: min/max keeps the whole range, percentile clips rare outliers,
histogram (litert-torch's default) minimises the int8 error; an unknown name is refused in one line."""
import torch

from shrink_edge.quant.scheme import _observer
from shrink_edge.config.recipe import load

import pytest
from shrink_edge.errors import UserError


def scale(name: str, values: torch.Tensor) -> float:
    observer = _observer(name)(dtype=torch.int8, quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)
    observer(values)
    return float(observer.calculate_qparams()[0])


def test_percentile_clips_an_outlier_that_minmax_keeps():
    values = torch.cat([torch.rand(100_000), torch.tensor([50.0])])
    assert scale("minmax", values) == pytest.approx(50 / 255, rel=1e-3)
    assert scale("percentile", values) < 2 / 255


def test_unknown_observer_is_refused():
    with pytest.raises(UserError, match="observer = 'mse'; give one of histogram, minmax, percentile"):
        load(None, ["quantize.observer=mse"])
