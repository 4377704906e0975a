"""A target budget that an artifact breaks fails the export, says by how much, and writes nothing."""
import pytest
from conftest import run_cli

from shrink_edge.config import targets


@pytest.fixture
def strict_targets(tmp_path, monkeypatch):
    spec = (targets.TARGETS_DIR / "onnx.toml").read_text()
    spec = spec.replace("max_accuracy_drop = 1.0", "max_accuracy_drop = -100.0")  # int8 must gain 100 pt
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "onnx.toml").write_text(spec)
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path / "targets")


def test_broken_budget_fails_with_the_margin(strict_targets, tiny_model, tmp_path):
    out = tmp_path / "out"
    result = run_cli("export", "--model", tiny_model["model"], "--weights", tiny_model["weights"],
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", out, "--strict")
    assert result.exit_code == 1
    assert "budget broken" in result.stderr and "onnx-int8: accuracy drop" in result.stderr
    assert "over by" in result.stderr
    assert not out.exists()
