"""The Python API takes a live nn.Module, example inputs and arrays in memory, as the CLI takes files."""
import numpy as np
import pytest
import torch
from conftest import TWO_HEADS, load_model_file
from safetensors.torch import load_file

import shrink_edge
from shrink_edge import UserError


@pytest.fixture(scope="module")
def live(two_heads):
    module = load_model_file(TWO_HEADS).build()
    module.load_state_dict(load_file(two_heads["weights"]))
    with np.load(two_heads["labelled"]) as f:
        arrays = {name: f[name] for name in f.files}
    return module.eval(), arrays


def test_live_module_with_example_inputs_and_arrays(live, tmp_path):
    module, arrays = live
    example = (torch.zeros(1, 1, 28, 28), torch.zeros(1, 8, dtype=torch.long))
    result = shrink_edge.export(module, example, target="onnx", data=arrays, out=tmp_path / "out", progress=False)
    assert not result.reused
    signature = result.manifest["signature"]
    assert [i["name"] for i in signature["inputs"]] == ["image", "tokens"] and signature["class_output"] == "scores"
    assert {a["file"] for a in result.manifest["artifacts"]} == {"twoheads.onnx", "twoheads.int8.onnx"}
    assert all((tmp_path / "out" / a["file"]).is_file() for a in result.manifest["artifacts"])
    again = shrink_edge.export(module, example, target="onnx", data=arrays, out=tmp_path / "out", progress=False)
    assert again.reused


def test_batches_without_labels_and_no_example(live, tmp_path):
    module, arrays = live
    batches = [{"image": arrays["image"][i:i + 100], "tokens": arrays["tokens"][i:i + 100]} for i in range(0, 400, 100)]
    result = shrink_edge.export(module, target="onnx", data=batches, out=tmp_path / "out", progress=False)
    assert result.manifest["reference"]["samples"] == 320  # the first 80 calibrate
    assert result.manifest["signature"]["class_output"] is None
    assert [i["shape"] for i in result.manifest["signature"]["inputs"]] == [[1, 1, 28, 28], [1, 8]]


def test_changed_weights_are_a_new_run(live, tmp_path):
    module, arrays = live
    first = shrink_edge.export(module, target="onnx", data=arrays, out=tmp_path / "out", progress=False)
    changed = load_model_file(TWO_HEADS).build().eval()
    changed.load_state_dict(module.state_dict())
    with torch.no_grad():
        changed.scores.bias += 0.5
    second = shrink_edge.export(changed, target="onnx", data=arrays, out=tmp_path / "out", progress=False)
    assert not second.reused and second.manifest["run_key"] != first.manifest["run_key"]


def test_not_a_module_is_refused(tmp_path):
    with pytest.raises(UserError, match="takes an nn.Module"):
        shrink_edge.export(object(), target="onnx", data={"x": np.zeros((10, 2), np.float32)}, out=tmp_path)
