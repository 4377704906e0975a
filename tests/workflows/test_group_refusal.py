"""A group target whose member cannot run the model still builds the others, and says which refused and why: also
when a recipe trains, where the member is dropped before training."""
import json

from conftest import RECIPE_SMALL, run_cli

GELU_NET = '''
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.GELU(), nn.Linear(32, 10)).eval()
'''


def test_a_member_that_refuses_is_named_and_the_others_are_written(tiny_model, tmp_path):
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    (tmp_path / "pair.toml").write_text('description = "onnx and a microcontroller"\n'
                                        'include = ["onnx", "cortex-m4"]\n')
    result = run_cli("export", "--target", str(tmp_path / "pair.toml"), "--model", f"{tmp_path / 'gelu_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert "GELU" in manifest["refused"]["cortex-m4"]  # TFLite Micro has no GELU kernel
    assert {a["format"] for a in manifest["artifacts"]} == {"onnx", "onnx-int8"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["gelu_net.int8.onnx", "gelu_net.onnx",
                                                                     "manifest.json"]


def test_a_plain_target_that_refuses_fails_with_one_line(tiny_model, tmp_path):
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    result = run_cli("export", "--target", "cortex-m4", "--model", f"{tmp_path / 'gelu_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "GELU" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_a_member_refused_before_training_is_dropped_and_the_others_trained(tiny_model, train_data, tmp_path):
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    (tmp_path / "pair.toml").write_text('description = "onnx and a microcontroller"\n'
                                        'include = ["onnx", "cortex-m4"]\n')
    result = run_cli("export", "--target", str(tmp_path / "pair.toml"), "--model", f"{tmp_path / 'gelu_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--train-data", train_data,
                     *RECIPE_SMALL, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["refused"] == {"cortex-m4": "TFLite Micro has no kernel for GELU (in the float model as "
                                                "litert-torch writes it)"}
    [int8] = [a for a in manifest["artifacts"] if a["format"] == "onnx-int8"]
    assert int8["metrics"]["max_error_lsb"] is not None  # checked against the QAT program: it was trained
