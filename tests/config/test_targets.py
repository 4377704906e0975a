"""Target specs: listed by the CLI, parsed strictly."""
import json

import pytest
from conftest import run_cli

from shrink_edge.config import targets
from shrink_edge.errors import UserError


def test_cli_lists_the_onnx_target():
    shown = run_cli("targets", "--json")
    assert shown.exit_code == 0
    onnx = json.loads(shown.stdout)["onnx"]
    assert onnx["runtime"] == "onnxruntime" and onnx["artifacts"] == ["onnx", "onnx-int8"]
    assert onnx["budget"]["max_accuracy_drop"] == 1.0


def test_spec_with_unknown_field_is_refused(tmp_path):
    (tmp_path / "x.toml").write_text('description = "d"\nruntime = "r"\nartifacts = []\n[budget]\nmax_drop = 1\n')
    with pytest.raises(UserError, match="invalid target spec"):
        targets.available(tmp_path)


def test_weight_bits_other_than_7_or_8_are_refused(tmp_path):
    (tmp_path / "x.toml").write_text('description = "d"\nruntime = "r"\nartifacts = []\n[quantization]\n'
                                     'weight_bits = 4\n')
    with pytest.raises(UserError, match="weight_bits = 4; give 8 or 7"):
        targets.available(tmp_path)
