"""`shrink-edge export --target onnx` on the bundled sample: verified float and int8 ONNX, manifest, no-op rerun."""
import json

from conftest import run_cli

from shrink_edge.files import sha256_file


def test_writes_float_and_int8_onnx_with_metrics(sample_export):
    out, result = sample_export
    formats = {a["format"]: a for a in result["artifacts"]}
    assert set(formats) == {"onnx", "onnx-int8"}
    for a in formats.values():
        assert (out / a["file"]).stat().st_size == a["size_bytes"] > 0
        assert set(a["metrics"]) == {"accuracy", "agreement", "sqnr_db", "cosine", "max_abs_error", "max_error_lsb",
                                 "error_lsb_p99", "outputs"}
    assert list(a["metrics"]["outputs"]) == ["output_0"]
    float_acc, int8_acc = formats["onnx"]["metrics"]["accuracy"], formats["onnx-int8"]["metrics"]["accuracy"]
    assert float_acc == result["reference"]["accuracy"]
    assert formats["onnx"]["metrics"]["max_abs_error"] < 1e-3
    assert float_acc - int8_acc <= 0.01
    assert formats["onnx-int8"]["size_bytes"] < formats["onnx"]["size_bytes"] / 2


def test_manifest_records_inputs_versions_and_artifacts(sample_export):
    out, result = sample_export
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_key"] == result["run_key"]
    assert set(manifest["inputs"]) == {"model", "data", "calibration", "train_data"}
    assert manifest["versions"]["torch"].startswith("2.13")
    for a in manifest["artifacts"]:
        assert sha256_file(out / a["file"]) == a["sha256"]


def test_rerun_with_nothing_changed_does_no_work(sample_export):
    out, result = sample_export
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run_cli("export", "--target", "onnx", "--out", out, "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["reused"] is True
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_changed_artifact_is_rebuilt(sample_export, tmp_path):
    out, result = sample_export
    copy = tmp_path / "out"
    copy.mkdir()
    for p in out.iterdir():
        copy.joinpath(p.name).write_bytes(p.read_bytes())
    int8 = next(a for a in result["artifacts"] if a["format"] == "onnx-int8")
    (copy / int8["file"]).write_bytes(b"tampered")
    again = run_cli("export", "--target", "onnx", "--out", copy, "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["reused"] is False
    assert sha256_file(copy / int8["file"]) == int8["sha256"]


def test_table_output_lists_each_artifact(sample_export):
    out, _ = sample_export
    shown = run_cli("export", "--target", "onnx", "--out", out)
    assert shown.exit_code == 0
    assert "fashion_mnist.onnx" in shown.stdout and "fashion_mnist.int8.onnx" in shown.stdout
    assert "PyTorch reference" in shown.stdout
