"""[prune] drop removes whole layers (fewer nodes for the runtime), refuses one that changes the shape, and the
pruned model reloads with the layer gone."""
import pytest
import torch
from conftest import load_tiny_module
from torch import nn

from shrink_edge.model import checkpoint
from shrink_edge.config import recipe
from shrink_edge.errors import UserError
from shrink_edge.compress.pruning import count, prune
from shrink_edge.config.settings import PruneSettings

EXAMPLE = (torch.zeros(1, 1, 28, 28),)


def test_a_dropped_layer_is_gone_and_the_model_reloads_without_it(tmp_path):
    model = load_tiny_module().build()
    full = count(model, EXAMPLE)
    prune(model, EXAMPLE, PruneSettings(ratio=0.5, round_to=8, drop=("depthwise",))).eval()
    assert isinstance(model.depthwise, nn.Identity)
    assert not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in model.modules())
    assert count(model, EXAMPLE)["macs"] < count(prune(load_tiny_module().build(), EXAMPLE,
                                                       PruneSettings(ratio=0.5, round_to=8)), EXAMPLE)["macs"]
    assert count(model, EXAMPLE)["params"] < full["params"]
    checkpoint.save(model, tmp_path / "dropped.safetensors")
    restored = checkpoint.restore(load_tiny_module().build(), tmp_path / "dropped.safetensors").eval()
    assert isinstance(restored.depthwise, nn.Identity)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(restored(x), model(x))


class Unused(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.spare = nn.Conv2d(4, 4, 1)
        self.head = nn.Linear(4, 10)

    def forward(self, x):
        return self.head(self.conv(x).mean((2, 3)))


@pytest.mark.parametrize("build, names, message", [
    (lambda: load_tiny_module().build(), ("down",), r"'down' turns \(1, 16, 14, 14\) into \(1, 32, 7, 7\)"),
    (lambda: load_tiny_module().build(), ("no.such.layer",), "no module named 'no.such.layer'"),
    (Unused, ("spare",), "'spare' is not called by the model's forward"),
])
def test_a_layer_that_cannot_go_is_refused(build, names, message):
    with pytest.raises(UserError, match=message):
        prune(build(), EXAMPLE, PruneSettings(ratio=0.5, drop=names))


def test_recipe_reads_drop(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('[prune]\nratio = 0.5\ndrop = ["features.10", "features.11"]\n')
    assert recipe.load(path).prune.drop == ("features.10", "features.11")
