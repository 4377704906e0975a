"""[quantize] keep_float leaves named layers in float in the int8 program every artifact comes from: their weights
stay float, the layers reading their output run in float too, and the artifacts gain what the debugger measured."""
import json

import pytest

from conftest import run_cli


def export(fragile, tmp_path, *extra, target="onnx"):
    return run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target", target,
                   "--out", tmp_path / "out", "--json", *fragile["plain"], *extra)


def test_keeping_the_fragile_layer_in_float(fragile, tmp_path):
    plain = export(fragile, tmp_path / "plain")
    kept = export(fragile, tmp_path / "kept", "--set", 'quantize.keep_float=["fragile"]')
    assert plain.exit_code == 0 and kept.exit_code == 0, kept.stderr
    sqnr = {name: next(a["metrics"]["sqnr_db"] for a in json.loads(r.stdout)["artifacts"] if a["format"] == "onnx-int8")
            for name, r in (("plain", plain), ("kept", kept))}
    assert sqnr["plain"] < 25 and sqnr["kept"] > 40
    assert json.loads(kept.stdout)["keep_float"] == ["fragile"]


def test_an_unknown_layer_is_one_line_naming_the_layers(fragile, tmp_path):
    result = export(fragile, tmp_path, "--set", 'quantize.keep_float=["nope"]')
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "keep_float names nope" in line and "fragile" in line and "\n" not in line


@pytest.mark.parametrize("value", ['"auto2"', "3"])
def test_bad_fallback_setting(fragile, tmp_path, value):
    result = export(fragile, tmp_path, "--set", f"quantize.fallback={value}")
    assert result.exit_code == 2
    assert "[quantize] fallback" in result.stderr


@pytest.mark.parametrize("target", ["openvino", "executorch"])
def test_the_compute_budgets_allow_exactly_the_layers_kept_in_float(fragile, tmp_path, target):
    """openvino and executorch require int8 compute layers; the two kept in float (fragile, and mixer which reads
    it) are allowed, and the runtime reports exactly those two in float."""
    result = export(fragile, tmp_path, "--set", 'quantize.keep_float=["fragile"]', target=target)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    artifact = next(a for a in manifest["artifacts"] if a["format"] == f"{target}-int8")
    assert len(artifact["facts"]["float_compute_layers"]) == 2
    assert artifact["metrics"]["sqnr_db"] > 40
