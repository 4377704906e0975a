"""A factory given without --weights builds new random weights on every call: each run verifies the model it
converted (the reference and every pass share one set of weights), never artifacts of an earlier run's weights."""
import json

from conftest import TESTS, run_cli


def test_each_run_of_an_unseeded_factory_verifies_its_own_weights(tiny_model, tmp_path):
    files = []
    for run in ("first", "second"):
        result = run_cli("export", "--target", "onnx", "--model", f"{TESTS / 'models' / 'tiny_net.py'}:build",
                         "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / run,
                         "--no-budget", "--json")
        assert result.exit_code == 0, result.stderr
        [float_onnx] = [a for a in json.loads(result.stdout)["artifacts"] if a["format"] == "onnx"]
        assert float_onnx["metrics"]["cosine"] > 0.9999, (run, float_onnx["metrics"])
        files.append(float_onnx["sha256"])
    assert files[0] != files[1]  # two different random models, two artifacts
