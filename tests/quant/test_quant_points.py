"""Quantization points: each quantize -> dequantize pair of an int8 program belongs to one layer; switching them
off reproduces the float model, and keeping a layer in float (bypass) is what the debugger's toggles measure."""
import copy

import numpy as np
import pytest
import torch

from shrink_edge.quant import quant_points
from shrink_edge.model import sample
from shrink_edge.quant.scheme import converted, make_quantizer
from shrink_edge.config.targets import Quantization

from conftest import FRAGILE, load_model_file


@pytest.fixture(scope="module")
def images():
    with np.load(sample.HELDOUT) as held:
        return torch.from_numpy(held["x"][:64].astype(np.float32) / 255)


def program(net, images, keep=()):
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    batch = torch.export.Dim("batch", min=1)
    exported = torch.export.export(net, (images[:2],), dynamic_shapes=({0: batch},))
    prepared = prepare_pt2e(exported.module(), make_quantizer(Quantization()))
    prepared(images)
    return converted(prepared, keep, fold=False)


@pytest.fixture(scope="module")
def net():
    return load_model_file(FRAGILE).build()


def test_points_belong_to_the_layer_whose_tensor_they_round(net, images):
    found = quant_points.points(program(net, images))
    weights = [p.layer for p in found if p.kind == "weight"]
    activations = [p.layer for p in found if p.kind == "activation"]
    assert weights == ["stem", "fragile", "mixer", "head"]
    # ReLUs at the top level belong to the convolution before them; the mean is a top-level op of its own
    assert activations == ["input x", "stem", "fragile", "mixer", "mean", "head"]


def test_all_points_off_is_the_float_model(net, images):
    int8 = program(net, images)
    everything = {p.quantize for p in quant_points.points(int8)}
    (out,), _ = quant_points.run(int8, (images,), off=everything)
    torch.testing.assert_close(out, net(images), rtol=1e-5, atol=1e-5)
    (quantized,), _ = quant_points.run(int8, (images,))
    assert (quantized - net(images)).abs().max() > 1e-3  # and with them on, it is not


def test_keep_float_is_the_toggle_the_debugger_measures(net, images):
    int8 = program(net, images)
    kept = {p.quantize for p in quant_points.selected(int8, ["fragile"])}
    (toggled,), _ = quant_points.run(int8, (images,), off=kept)
    bypassed = copy.deepcopy(int8)
    assert quant_points.bypass(bypassed, ["fragile"]) == len(kept) == 3  # fragile's weight and output, mixer's weight
    torch.testing.assert_close(bypassed(images), toggled)


def test_a_layer_reading_a_float_input_runs_in_float(net, images):
    kept = program(net, images, keep=("fragile",))
    assert quant_points.float_compute(kept) == ["fragile", "mixer"]
    assert {p.layer for p in quant_points.points(kept)} == {"input x", "stem", "mixer", "mean", "head"}
    assert quant_points.unknown(kept, ["mixer", "nope"]) == ["nope"]
