"""`shrink-edge profile`: latency and memory on the host runtimes, with the conditions; bad input is one line."""
import json

import pytest
from conftest import run_cli


def test_profiles_each_runtime_with_conditions(all_targets):
    out, _, artifacts = all_targets
    files = [out / artifacts[f]["file"] for f in ("onnx", "onnx-int8", "tflite-int8", "openvino-int8", "tflm")]
    shown = run_cli("profile", *files, "--runs", "10", "--warmup", "2", "--json")
    assert shown.exit_code == 0, shown.stderr
    [report] = json.loads(shown.stdout)["profiles"]
    assert report["conditions"]["threads"] == 1 and report["conditions"]["cores"] >= 1
    assert report["conditions"]["device"] == "local" and not report["conditions"]["emulated"]
    assert "onnxruntime" in report["conditions"]["versions"]
    results = report["results"]
    assert [r["runtime"] for r in results] == ["onnxruntime", "onnxruntime", "litert", "openvino", "tflm"]
    for r in results:
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"]
        assert r["init_ms"] > 0 and r["runs"] == 10 and isinstance(r["noisy"], bool)
        assert r["peak_memory_mb"] > 0
    assert all(r["p50_ratio_to_first"] > 0 for r in results[1:])


def test_table_output(all_targets):
    out, _, artifacts = all_targets
    shown = run_cli("profile", out / artifacts["tflite-int8"]["file"], "--runs", "5", "--warmup", "0")
    assert shown.exit_code == 0 and "p50" in shown.stdout and "5 runs after 0 warm-up" in shown.stdout


@pytest.mark.parametrize("name, content, message", [
    ("missing.tflite", None, "artifact not found"),
    ("broken.tflite", b"not a flatbuffer", "litert cannot run"),
    ("broken.onnx", b"\x08\x07garbage", "onnxruntime cannot run"),
    ("model.bin", b"x", "cannot profile"),
])
def test_bad_artifacts(name, content, message, tmp_path):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    shown = run_cli("profile", tmp_path / name, "--runs", "5")
    assert shown.exit_code == 2 and message in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1


def test_unknown_device(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"x")
    shown = run_cli("profile", tmp_path / "m.tflite", "--device", "phone")
    assert shown.exit_code == 2 and "unknown --device 'phone'" in shown.stderr


def test_third_party_files(third_party):
    shown = run_cli("profile", *third_party, "--runs", "25", "--json")  # turns of 10 calls, the last one short
    assert shown.exit_code == 0, shown.stderr
    [report] = json.loads(shown.stdout)["profiles"]
    assert [r["runtime"] for r in report["results"]] == ["onnxruntime", "litert"]
    assert all(r["p50_ms"] > 0 and r["runs"] == 25 for r in report["results"])
