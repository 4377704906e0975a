"""Structured pruning physically removes channels, respects protected layers and the channel multiple."""
import pytest
import torch
from conftest import load_tiny_module
from torch import nn

from shrink_edge.errors import UserError
from shrink_edge.compress.pruning import count, prune
from shrink_edge.config.settings import PruneSettings

EXAMPLE = (torch.zeros(1, 1, 28, 28),)


def convs(model):
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def test_half_the_channels_are_removed_and_the_model_still_runs():
    model = load_tiny_module().build()
    before, stats_before = convs(model), count(model, EXAMPLE)
    prune(model, EXAMPLE, PruneSettings(ratio=0.5, round_to=8))
    after, stats_after = convs(model), count(model, EXAMPLE)
    assert all(after[n] < before[n] for n in before)
    assert all(c % 8 == 0 for c in after.values())
    assert model.head.out_features == 10  # the classifier head is protected
    assert stats_after["params"] < stats_before["params"] / 2.5
    assert stats_after["macs"] < stats_before["macs"] / 2.5
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_ignored_modules_keep_their_channels():
    model = load_tiny_module().build()
    prune(model, EXAMPLE, PruneSettings(ratio=0.5, round_to=8, ignore=("down.0",)))
    assert model.down[0].out_channels == 32


def test_taylor_importance_uses_gradients():
    model = load_tiny_module().build()
    batch = [([torch.rand(8, 1, 28, 28)], torch.randint(0, 10, (8,)))]
    prune(model, EXAMPLE, PruneSettings(ratio=0.5, importance="taylor", round_to=8), batch)
    assert model.down[0].out_channels == 16
    with pytest.raises(UserError, match="Taylor importance needs labelled training data"):
        prune(load_tiny_module().build(), EXAMPLE, PruneSettings(importance="taylor"))


@pytest.mark.parametrize("settings, message", [
    (PruneSettings(ratio=1.0), "out of range"),
    (PruneSettings(ratio=-0.1), "out of range"),
    (PruneSettings(ignore=("no.such.layer",)), "no module named 'no.such.layer'"),
    (PruneSettings(importance="random"), "unknown importance 'random'"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(UserError, match=message):
        prune(load_tiny_module().build(), EXAMPLE, settings)


def test_a_model_with_nothing_prunable_is_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(UserError, match="nothing to prune"):
        prune(model, EXAMPLE, PruneSettings())
