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


def test_a_member_over_its_budget_is_not_written_and_the_run_fails(tiny_model, tmp_path, monkeypatch):
    """A microcontroller whose RAM the model cannot fit: named with the figures, as memory and not as accuracy; the
    members that pass are written and verified; the exit status is 1."""
    from conftest import tiny_args

    from shrink_edge.config import targets

    specs = tmp_path / "targets"
    specs.mkdir()
    for name in ("onnx", "cortex-m4"):
        (specs / f"{name}.toml").write_text((targets.TARGETS_DIR / f"{name}.toml").read_text()
                                            .replace("ram_bytes = 262144", "ram_bytes = 1024"))
    monkeypatch.setattr(targets, "TARGETS_DIR", specs)
    (tmp_path / "pair.toml").write_text('description = "onnx and a microcontroller"\n'
                                        'include = ["onnx", "cortex-m4"]\n')
    result = run_cli("export", "--target", tmp_path / "pair.toml", *tiny_args(tiny_model), "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == ("error: target pair: cortex-m4 broke the budget and was not "
                                                      "written; the other members were")
    assert "cortex-m4 broke its budget, not written: tflm does not fit the device: RAM: tensor arena" in \
        " ".join(result.stdout.split())  # the table's caption, however it wraps
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    [reason] = manifest["failed"]["cortex-m4"]
    assert reason.startswith("tflm does not fit the device: RAM: tensor arena") and "> 1,024 B" in reason
    assert {a["format"] for a in manifest["artifacts"]} == {"onnx", "onnx-int8"}
    assert all(a["metrics"]["cosine"] > 0.99 for a in manifest["artifacts"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "tiny_net.int8.onnx",
                                                                     "tiny_net.onnx"]
