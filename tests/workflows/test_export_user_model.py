"""A user's own model given with --model/--weights/--data exports and verifies like the sample."""
import json

from conftest import run_cli


def export_tiny(tiny_model, out, *extra):
    return run_cli("export", "--model", tiny_model["model"], "--weights", tiny_model["weights"],
                   "--input-shape", tiny_model["input_shape"], "--data", tiny_model["data"], "--out", out, *extra)


def test_user_model_exports_verified_onnx(tiny_model, tmp_path):
    result = export_tiny(tiny_model, tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "tiny_net"
    # no calibration file given: the first fifth calibrates, the other 320 samples verify
    assert report["reference"]["samples"] == 320
    metrics = {a["format"]: a["metrics"] for a in report["artifacts"]}
    assert metrics["onnx"]["agreement"] == 1.0
    assert metrics["onnx-int8"]["agreement"] >= 0.95
    assert report["reference"]["accuracy"] - metrics["onnx-int8"]["accuracy"] <= 0.01
    assert (tmp_path / "out" / "tiny_net.int8.onnx").is_file()


def test_same_inputs_give_the_same_bytes(tiny_model, tmp_path, monkeypatch):
    first = export_tiny(tiny_model, tmp_path / "a", "--json")
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "fresh-cache"))
    second = export_tiny(tiny_model, tmp_path / "b", "--json")
    assert first.exit_code == second.exit_code == 0
    hashes = [{a["file"]: a["sha256"] for a in json.loads(r.stdout)["artifacts"]} for r in (first, second)]
    assert hashes[0] == hashes[1]
