"""`shrink-edge inspect` on ONNX artifacts."""
import json

from conftest import run_cli


def test_inspect_int8_onnx_counts_qdq_ops(sample_export):
    out, result = sample_export
    int8 = next(a for a in result["artifacts"] if a["format"] == "onnx-int8")
    shown = run_cli("inspect", out / int8["file"], "--json")
    assert shown.exit_code == 0
    info = json.loads(shown.stdout)
    assert info["size_bytes"] == int8["size_bytes"]
    assert info["ops"]["QuantizeLinear"] > 0 and info["ops"]["DequantizeLinear"] > 0
    assert info["inputs"][0]["dtype"] == "float32" and info["inputs"][0]["shape"] == ["batch", 1, 28, 28]


def test_inspect_float_onnx_has_no_qdq(sample_export):
    out, result = sample_export
    shown = run_cli("inspect", out / "fashion_mnist.onnx", "--json")
    assert "QuantizeLinear" not in json.loads(shown.stdout)["ops"]


def test_inspect_corrupt_file(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07garbage")
    shown = run_cli("inspect", tmp_path / "m.onnx")
    assert shown.exit_code == 2 and "not a valid ONNX model" in shown.stderr


def test_inspect_unknown_kind(tmp_path):
    (tmp_path / "m.bin").write_bytes(b"x")
    shown = run_cli("inspect", tmp_path / "m.bin")
    assert shown.exit_code == 2 and "unknown kind '.bin'" in shown.stderr


def test_inspect_tflite_shows_int8_io_and_ops(all_targets):
    out, _, artifacts = all_targets
    shown = run_cli("inspect", out / artifacts["tflite-int8"]["file"], "--json")
    assert shown.exit_code == 0
    info = json.loads(shown.stdout)
    assert info["format"] == "tflite" and info["inputs"][0]["dtype"] == "int8"
    assert info["ops"]["CONV_2D"] >= 1 and "DEQUANTIZE" not in info["ops"]


def test_inspect_corrupt_tflite(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"not a flatbuffer at all")
    shown = run_cli("inspect", tmp_path / "m.tflite")
    assert shown.exit_code == 2 and "not a valid TFLite model" in shown.stderr
