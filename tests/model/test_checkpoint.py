"""A pruned model reloads from safetensors plus recorded shapes, into a fresh model from the factory."""
import torch
from conftest import load_tiny_module

from shrink_edge.model import checkpoint
from shrink_edge.compress.pruning import prune
from shrink_edge.config.settings import PruneSettings


def test_pruned_model_round_trips(tmp_path):
    model = prune(load_tiny_module().build(), (torch.zeros(1, 1, 28, 28),), PruneSettings(ratio=0.5, round_to=8)).eval()
    checkpoint.save(model, tmp_path / "pruned.safetensors")
    restored = checkpoint.restore(load_tiny_module().build(), tmp_path / "pruned.safetensors").eval()
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(restored(x), model(x))
    assert restored.stem[0].out_channels == model.stem[0].out_channels == 8
    assert (tmp_path / "pruned.safetensors").read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
