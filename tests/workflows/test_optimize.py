"""`shrink-edge optimize` and `export --recipe` on a user model: pruned, distilled, QAT'd, cached, verified."""
import json

import numpy as np
import pytest
from conftest import RECIPE_SMALL as SMALL
from conftest import run_cli
from conftest import tiny_args as model_args


@pytest.fixture(scope="session")
def optimized(tiny_model, train_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("optimized") / "out"
    result = run_cli("optimize", *model_args(tiny_model), "--train-data", train_data, *SMALL, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_optimize_prunes_and_writes_float_and_qat_checkpoints(optimized):
    out, report = optimized
    stages = report["stages"]
    assert stages["optimized_float"]["params"] < stages["original"]["params"] / 2.5
    assert stages["optimized_float"]["macs"] < stages["original"]["macs"] / 2.5
    files = {a["stage"]: a["file"] for a in report["artifacts"]}
    assert files == {"optimized_float": "tiny_net.optimized.safetensors", "qat_int8": "tiny_net.qat.int8.pt2"}
    assert all((out / f).is_file() for f in files.values())
    assert abs(stages["qat_int8"]["accuracy"] - stages["optimized_float"]["accuracy"]) <= 0.1


def test_export_with_recipe_reuses_the_optimized_models(optimized, tiny_model, train_data, tmp_path):
    from shrink_edge.engine.cache import default_cache_dir

    cache = default_cache_dir()
    before = {kind: len(list(cache.rglob(kind))) for kind in ("artifact.int8.pt2", "artifact.safetensors")}
    result = run_cli("export", *model_args(tiny_model), "--train-data", train_data, *SMALL,
                     "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reference"]["runtime"] == "torch (QAT int8)"
    metrics = {a["format"]: a["metrics"] for a in report["artifacts"]}
    assert metrics["onnx-int8"]["agreement"] >= 0.99
    # no new int8 program (no PTQ, no second QAT) and no new pruned or distilled checkpoint: all reused
    assert {kind: len(list(cache.rglob(kind))) for kind in before} == before


@pytest.mark.parametrize("override, message", [
    ("prune.ratio=1.5", "out of range"),
    ("prune.ratio=abc", "should be a float"),
    ("prune.speed=2", "unknown settings ['speed']"),
    ("fold.ratio=2", "bad --set"),
])
def test_bad_recipe_settings(override, message, tiny_model, train_data, tmp_path):
    result = run_cli("optimize", *model_args(tiny_model), "--train-data", train_data, "--set", override,
                     "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_too_little_training_data(tiny_model, tmp_path):
    small = tmp_path / "small.npz"
    np.savez(small, x=np.zeros((50, 1, 28, 28), np.float32), y=np.zeros(50, np.int64))
    result = run_cli("optimize", *model_args(tiny_model), "--train-data", small, *SMALL, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "too few to fine-tune" in result.stderr
    assert not (tmp_path / "out").exists()


def test_recipe_file_not_found(tmp_path):
    result = run_cli("optimize", "--recipe", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "recipe not found" in result.stderr
