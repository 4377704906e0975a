"""Loading a user's model: factories, weights without unpickling, and .pt2 programs."""
import argparse

import pytest
import torch

from shrink_edge.errors import UserError
from shrink_edge.model.source import ModelSource, parse_shape


def test_parse_shape_accepts_commas_and_x():
    assert parse_shape("1,3,32,32") == parse_shape("1x3x32x32") == (1, 3, 32, 32)


@pytest.mark.parametrize("text", ["", "1,,2", "1,-3", "a"])
def test_parse_shape_refuses_nonsense(text):
    with pytest.raises(UserError, match="bad --input-shape"):
        parse_shape(text)


def test_pickled_weights_load_only_with_the_unsafe_flag(tiny_model, tmp_path):
    from conftest import load_tiny_module

    module = load_tiny_module().build()
    path = tmp_path / "checkpoint.pt"
    # training scripts often save their argparse arguments beside the weights: not loadable weights-only
    torch.save({"state_dict": module.state_dict(), "args": argparse.Namespace(lr=0.1)}, path)
    spec = dict(model=tiny_model["model"], weights=path, input_shape="1,1,28,28")
    with pytest.raises(UserError, match="--unsafe-allow-pickle"):
        ModelSource.from_cli(**spec).load()
    loaded = ModelSource.from_cli(**spec, allow_pickle=True).load()
    torch.testing.assert_close(loaded.state_dict(), module.state_dict())


def test_state_dict_in_pt_file_loads_weights_only(tiny_model, tmp_path):
    from conftest import load_tiny_module

    module = load_tiny_module().build()
    torch.save({"state_dict": module.state_dict()}, tmp_path / "ckpt.pt")
    loaded = ModelSource.from_cli(tiny_model["model"], tmp_path / "ckpt.pt", "1,1,28,28").load()
    torch.testing.assert_close(loaded.state_dict(), module.state_dict())


def test_pt2_program_is_a_model(tmp_path):
    from conftest import load_tiny_module

    module = load_tiny_module().build().eval()
    x = torch.rand(2, 1, 28, 28)
    batch = torch.export.Dim("batch")
    torch.export.save(torch.export.export(module, (x,), dynamic_shapes=({0: batch},)), tmp_path / "m.pt2")
    loaded = ModelSource.from_cli(str(tmp_path / "m.pt2"), None, "2,1,28,28").load()
    torch.testing.assert_close(loaded(x), module(x))
