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

