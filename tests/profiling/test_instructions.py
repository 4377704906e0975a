"""`profile --instructions`: callgrind's count per LiteRT inference, identical from one run to the next."""
import json
import shutil

import pytest
from conftest import run_cli

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind (apt install valgrind)")


def test_count_is_repeatable(all_targets):
    out, _, artifacts = all_targets
    model = out / artifacts["tflite-int8"]["file"]
    counts = []
    for _ in range(2):
        shown = run_cli("profile", model, "--instructions", "--runs", "5", "--json")
        assert shown.exit_code == 0, shown.stderr
        [result] = json.loads(shown.stdout)["profiles"][0]["results"]
        counts.append(result["instructions"])
    assert counts[0] == counts[1] > 1000


def test_only_tflite_on_the_host(all_targets):
    out, _, artifacts = all_targets
    shown = run_cli("profile", out / artifacts["onnx-int8"]["file"], "--instructions")
    assert shown.exit_code == 2 and "counts LiteRT (.tflite) on --device local only" in shown.stderr
