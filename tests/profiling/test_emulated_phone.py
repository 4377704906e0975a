"""`shrink-edge profile --device emulator`: the arm64 phone (Debian arm64 + adbd under qemu-user) profiles LiteRT,
onnxruntime and ExecuTorch (its C timer, compiled in the phone) over adb. Builds the phone first if this machine has
none, or one built for other runtimes (~4 min, as root)."""
import json
import os
import shutil

import pytest
from conftest import run_cli

from shrink_edge.profiling.devices import phone
from shrink_edge.errors import DeviceError

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("mmdebstrap") and shutil.which("adb") and phone.QEMU_RULE.exists()),
    reason="needs root, mmdebstrap, adb and qemu-user-static (bookworm-backports): scripts/setup.sh as root")


@pytest.fixture(scope="module")
def phone_root():
    try:
        phone.ensure_binfmt()
    except DeviceError as e:  # a container that may not register binfmt_misc handlers cannot emulate arm64
        pytest.skip(str(e))
    root = phone.default_root()
    if not (root / phone.MARKER).is_file() or phone.missing_wheels(root):  # none yet, or built for other runtimes
        phone.create(root)
    return root


def test_profiles_on_the_emulated_phone(phone_root, all_targets):
    out, _, artifacts = all_targets
    files = [out / artifacts[f]["file"] for f in ("tflite-int8", "onnx-int8", "executorch-int8")]
    shown = run_cli("profile", *files, "--device", "emulator", "--runs", "5", "--warmup", "1", "--json")
    assert shown.exit_code == 0, shown.stderr
    [report] = json.loads(shown.stdout)["profiles"]
    c = report["conditions"]
    assert c["machine"] == "aarch64" and c["abi"] == "aarch64" and c["emulated"] and "not the latency" in c["note"]
    assert [r["runtime"] for r in report["results"]] == ["litert", "onnxruntime", "executorch"]
    assert all(r["p50_ms"] > 0 and r["runs"] == 5 for r in report["results"])
    assert set(c["versions"]) >= {"ai-edge-litert", "onnxruntime", "executorch"}, c["versions"]


def test_missing_phone_is_one_line(tmp_path, monkeypatch, all_targets):
    out, _, artifacts = all_targets
    monkeypatch.setenv("SHRINK_EDGE_PHONE_ROOT", str(tmp_path / "nowhere"))
    shown = run_cli("profile", out / artifacts["tflite-int8"]["file"], "--device", "emulator")
    assert shown.exit_code == 3 and "shrink-edge device create" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1


def test_profiles_language_models_on_the_emulated_phone(phone_root, tiny_lm, tmp_path):
    """An LLM artifact's own prefill/decode loop (profiling/llm_runner.py with the backend's standalone session) on
    the phone's python3: onnxruntime and LiteRT."""
    for target in ("llm-onnx", "llm-litert"):
        exported = run_cli("export", "--target", target, "--model", tiny_lm, "--out", tmp_path / target)
        assert exported.exit_code == 0, exported.output
    shown = run_cli("profile", tmp_path / "llm-onnx" / "tiny.int4-g32-gptq.onnx",
                    tmp_path / "llm-litert" / "tiny.int4-g32-gptq.tflite", "--device", "emulator", "--json")
    assert shown.exit_code == 0, shown.output
    results = json.loads(shown.stdout)["artifacts"]
    assert [r["artifact"] for r in results] == ["tiny.int4-g32-gptq.onnx", "tiny.int4-g32-gptq.tflite"]
    for r in results:
        assert r["device"] == "emulator" and r["emulated"] and "not the latency" in r["note"]
        assert [run["threads"] for run in r["runs"]] == [1, 2]
        assert all(run["prefill_tokens_per_s"] > 0 and run["decode_tokens_per_s"] > 0 for run in r["runs"])
        assert "bandwidth_fraction" not in r["runs"][0]  # the host's bandwidth says nothing of the phone's
