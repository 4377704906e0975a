"""ExecuTorch's Core ML delegate: `--target executorch-coreml` writes the int8 program as one Core ML model inside a
.pte (nothing left on the portable kernels, int8 weights and activations), checks that model at spec level and says
why it is not run here; an iOS project gets it with its metadata; the profiler does not claim it."""
import json

from conftest import run_cli, tiny_args


def test_int8_program_is_one_coreml_model_in_the_pte(tiny_model, tmp_path):
    ios = tmp_path / "ios"
    ios.mkdir()
    result = run_cli("export", "--target", "executorch-coreml", *tiny_args(tiny_model), "--ios-project", ios,
                     "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    [artifact] = json.loads(result.stdout)["artifacts"]
    assert artifact["file"].endswith(".coreml.int8.pte") and artifact["metrics"] is None
    facts = artifact["facts"]
    assert facts["delegate_calls"] == {"CoreMLBackend": 1} and facts["undelegated_ops"] == {}
    [model] = facts["coreml_models"]
    assert model["quantize_ops"] > 0 and model["int8_weight_ops"] > 0 and model["spec_version"] >= 8  # iOS 17
    assert "Apple devices only" in facts["verification_skipped"]
    resources = ios / "ShrinkEdge/Resources"
    assert (resources / artifact["file"]).read_bytes() == (tmp_path / "out" / artifact["file"]).read_bytes()
    [metadata] = resources.glob("*.metadata.json")
    meta = json.loads(metadata.read_text())
    assert meta["format"] == "executorch-coreml-int8" and meta["inputs"][0]["shape"] == [1, 1, 28, 28]
    shown = run_cli("profile", tmp_path / "out" / artifact["file"])
    assert shown.exit_code == 2 and "no runtime here runs it" in shown.stderr
