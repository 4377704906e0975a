"""`export --target all`: every backend's artifact from one QAT checkpoint, in one verification table."""
from conftest import run_cli


def test_every_backend_artifact_is_written_and_verified(all_targets):
    out, report, artifacts = all_targets
    assert set(artifacts) == {"onnx", "onnx-int8", "tflite-int8", "tflm", "openvino-int8", "coreml-int8",
                              "coreml-w8", "executorch", "executorch-int8", "executorch-coreml-int8"}
    assert {a["target"] for a in report["artifacts"]} == {"onnx", "tflite", "cortex-m4", "openvino", "coreml",
                                                          "executorch", "executorch-coreml"}
    for a in report["artifacts"]:
        assert (out / a["file"]).exists()


def test_executorch_int8_is_as_faithful_as_litert_from_the_same_checkpoint(all_targets):
    _, _, artifacts = all_targets
    pte, tflite = artifacts["executorch-int8"]["metrics"], artifacts["tflite-int8"]["metrics"]
    assert pte["agreement"] >= tflite["agreement"] - 0.005, (pte, tflite)
    assert pte["cosine"] >= tflite["cosine"] - 0.001 and pte["error_lsb_p99"] <= tflite["error_lsb_p99"] + 1


def test_board_budget_over_ram_fails_with_a_memory_report(tiny_model, train_data, tmp_path, monkeypatch):
    from conftest import RECIPE_SMALL, tiny_args

    from shrink_edge.config import targets

    spec = (targets.TARGETS_DIR / "cortex-m4.toml").read_text().replace("ram_bytes = 262144", "ram_bytes = 1024")
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "cortex-m4.toml").write_text(spec)
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path / "targets")
    result = run_cli("export", "--target", "cortex-m4", *tiny_args(tiny_model), "--train-data", train_data,
                     *RECIPE_SMALL, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert "RAM: tensor arena" in result.stderr and "> 1,024 B" in result.stderr
    assert not (tmp_path / "out").exists()
