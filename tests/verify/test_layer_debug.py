"""`shrink-edge debug` ranks the layers of the int8 model by what they lose: a layer with an outlier channel comes
first, and keeping it alone in float brings back what plain int8 lost."""
import json

import shrink_edge

from conftest import run_cli


def test_the_fragile_layer_ranks_first(fragile):
    result = shrink_edge.debug(fragile["model"], target="onnx", data=fragile["data"], samples=64, progress=False,
                               recipe=fragile["plain_recipe"])
    ranked = result["ranked"]
    assert ranked[0]["layer"] == "fragile"
    assert {r["layer"] for r in ranked} >= {"stem", "fragile", "mixer", "head", "input x"}
    # alone in float it recovers most of what int8 lost; no other layer alone gains even 3 dB
    assert ranked[0]["gain_db"] > 20
    assert all(r["gain_db"] < 3 for r in ranked[1:])
    # alone in int8 it loses as much as the whole int8 model
    assert abs(ranked[0]["alone_int8_db"] - result["int8_sqnr_db"]) < 1
    assert result["int8_sqnr_db"] < 25


def test_cli_prints_the_ranking_as_json_and_table(fragile):
    args = ["debug", "--model", fragile["model"], "--data", fragile["data"], "--samples", "32", *fragile["plain"]]
    as_json = run_cli(*args, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    assert json.loads(as_json.stdout)["ranked"][0]["layer"] == "fragile"
    table = run_cli(*args, "--top", "2")
    assert table.exit_code == 0
    rows = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 2 and "fragile" in rows[0]


def test_bad_sample_count_is_one_line(fragile):
    result = run_cli("debug", "--model", fragile["model"], "--data", fragile["data"], "--samples", "0")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: --samples 0")


def test_each_layer_is_read_in_the_artifacts_runtime(fragile):
    """The .tflite's and the QDQ .onnx's own tensors, layer by layer: each matches the int8 program within a step
    or two (over 40 dB) and shows the same loss against float as the program does."""
    for target, fmt in (("tflite", "tflite-int8"), ("onnx", "onnx-int8")):
        result = shrink_edge.debug(fragile["model"], target=target, data=fragile["data"], samples=32, progress=False,
                                   recipe=fragile["plain_recipe"])
        assert result["artifacts"] == [fmt]
        for layer in result["ranked"]:
            found = layer["artifacts"][fmt]  # every layer's tensor found in the artifact
            assert found["vs_int8_db"] is None or found["vs_int8_db"] > 40, (layer["layer"], found)
            if layer["output_sqnr_db"] is not None and found["sqnr_db"] is not None:
                assert abs(found["sqnr_db"] - layer["output_sqnr_db"]) < 1


def test_equalized_nothing_is_fragile(fragile, tmp_path):
    """With cross-layer equalization the outlier channel is gone, and keeping `fragile` in float gains nothing worth
    its cost."""
    (tmp_path / "equalize.toml").write_text("[quantize]\nequalize = true\n")
    result = shrink_edge.debug(fragile["model"], target="onnx", data=fragile["data"], samples=32, progress=False,
                               runtimes=False, recipe=tmp_path / "equalize.toml")
    assert result["int8_sqnr_db"] > 40
    assert next(r for r in result["ranked"] if r["layer"] == "fragile")["gain_db"] < 3
