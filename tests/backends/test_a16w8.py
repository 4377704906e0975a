"""tflite-a16w8 (LiteRT's 16x8 mode: int8 weights, int16 activations with calibrated ranges): where one int8 scale
per activation tensor leaves most of its channels a handful of levels (FragileNet's outlier channel), int16 keeps
them at the size of int8 weights."""
import json

from conftest import FRAGILE, run_cli

PLAIN = ["--set", "quantize.equalize=false", "--set", "quantize.observer=histogram", "--set", "quantize.smooth=false"]


def exported(fragile, tmp_path, target: str, *extra) -> dict:
    result = run_cli("export", "--model", f"{FRAGILE}:build", "--data", fragile["data"], "--target", target,
                     "--out", tmp_path / "out" / target.replace("/", "_"), "--json", *PLAIN, *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_int16_activations_keep_what_int8_ones_lose(fragile, tmp_path):
    [wide] = exported(fragile, tmp_path, "tflite-a16w8")["artifacts"]
    [narrow] = exported(fragile, tmp_path, "tflite", "--no-budget")["artifacts"]
    assert narrow["metrics"]["sqnr_db"] < 25 and wide["metrics"]["sqnr_db"] > narrow["metrics"]["sqnr_db"] + 15
    assert wide["facts"]["activations"] == "int16" and wide["facts"]["float_ops"] == []
    assert any(op.startswith("CONV_2D") for op in wide["facts"]["int16_ops"])
    assert wide["size_bytes"] < 1.3 * narrow["size_bytes"]  # int8 weights: only the I/O and biases grow


def test_tflite_micro_runs_the_16x8_file_in_its_int16_kernels(fragile, tmp_path):
    """cortex-m7-a16w8: the 16x8 file as a TFLite Micro bundle, run in TFLM's reference interpreter; its arena holds
    int16 activations (about twice int8's), its flash int8 weights."""
    [wide] = exported(fragile, tmp_path, "cortex-m7-a16w8")["artifacts"]
    [narrow] = exported(fragile, tmp_path, "cortex-m7", "--no-budget")["artifacts"]
    assert wide["format"] == "tflm-a16w8" and wide["facts"]["activations"] == "int16"
    assert narrow["metrics"]["sqnr_db"] < 25 and wide["metrics"]["sqnr_db"] > narrow["metrics"]["sqnr_db"] + 15
    assert 1.5 * narrow["facts"]["arena_bytes"] < wide["facts"]["arena_bytes"] < 3 * narrow["facts"]["arena_bytes"]
    assert wide["facts"]["model_bytes"] < 1.3 * narrow["facts"]["model_bytes"]


def test_onnxruntime_s_int16_activations_keep_what_int8_ones_lose(fragile, tmp_path):
    """onnx-a16w8: onnxruntime's own calibration, int16 QDQ at opset 21, int8 per-channel weights; onnxruntime
    computes between the QDQ pairs in float, and facts say so."""
    import onnx

    artifacts = {a["format"]: a for a in exported(fragile, tmp_path, "onnx-a16w8")["artifacts"]}
    wide, plain = artifacts["onnx-a16w8"], artifacts["onnx"]
    narrow = next(a for a in exported(fragile, tmp_path, "onnx", "--no-budget")["artifacts"]
                  if a["format"] == "onnx-int8")
    assert narrow["metrics"]["sqnr_db"] < 25 and wide["metrics"]["sqnr_db"] > narrow["metrics"]["sqnr_db"] + 15
    assert wide["facts"]["activations"] == "int16" and "int8" in wide["facts"]["weights"]
    assert any(op.startswith("Conv") for op in wide["facts"]["float_ops"])
    assert wide["size_bytes"] < 0.5 * plain["size_bytes"]
    model = onnx.load(wide["path"])
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 21
