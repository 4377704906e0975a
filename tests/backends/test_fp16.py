"""Float16 files (the fp16 group: onnx-fp16, tflite-fp16, openvino-fp16, coreml-fp16): half the float file, held to
a near-float budget in their real runtimes, each saying how many float16 weights it holds and where it computes in
float32; the same export twice gives the same bytes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli


@pytest.fixture(scope="module")
def fp16(two_heads, tmp_path_factory):
    """TwoHeads (an image and token ids in; scores and an embedding out) through `--target fp16` with its budget."""
    out = tmp_path_factory.mktemp("fp16") / "out"
    result = run_cli("export", "--model", two_heads["model"], "--weights", two_heads["weights"], "--data",
                     two_heads["labelled"], "--target", "fp16", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return out, {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}


def test_every_float16_file_is_half_the_float_one_and_keeps_its_outputs(fp16):
    artifacts = fp16[1]
    assert set(artifacts) == {"onnx", "onnx-fp16", "tflite-fp16", "openvino-fp16", "coreml-fp16"}
    out, float_bytes = fp16[0], artifacts["onnx"]["size_bytes"]
    for fmt in ("onnx-fp16", "tflite-fp16"):
        assert artifacts[fmt]["size_bytes"] < 0.62 * float_bytes, fmt
    for fmt, weights in (("openvino-fp16", "model.bin"), ("coreml-fp16", "Data/com.apple.CoreML/weights/weight.bin")):
        assert (out / artifacts[fmt]["file"] / weights).stat().st_size < 0.55 * float_bytes, fmt  # the rest: about
        # 20 KB of XML or spec at this size
    for fmt in ("onnx-fp16", "tflite-fp16", "openvino-fp16", "coreml-fp16"):
        assert artifacts[fmt]["facts"]["weights"].startswith("float16 x"), fmt
    for fmt in ("onnx-fp16", "tflite-fp16", "openvino-fp16"):
        for name, output in artifacts[fmt]["metrics"]["outputs"].items():
            assert output["cosine_worst"] > 0.9999 and 45 < output["sqnr_db"] < 100, (fmt, name)  # rounded, not float
        assert artifacts[fmt]["metrics"]["agreement"] >= 0.99


def test_core_ml_is_checked_at_spec_level_on_linux(fp16):
    facts = fp16[1]["coreml-fp16"]["facts"]
    assert "needs macOS" in facts["verification_skipped"] and facts["quantize_ops"] == 0
    assert int(facts["weights"].removeprefix("float16 x")) >= 4  # two convolutions' or linears' weights at least


def test_onnx_says_which_ops_this_cpu_widens_to_float32(fp16):
    facts = fp16[1]["onnx-fp16"]["facts"]
    counted = [op for op in facts["float16_ops"] + facts["float32_ops"]]
    assert any(op.startswith(("Conv", "FusedConv")) for op in counted) and any("Gemm" in op or "MatMul" in op
                                                                               for op in counted)


def test_the_same_export_gives_the_same_bytes(two_heads, fp16, tmp_path):
    """A second export in a fresh process with its own cache writes every float16 file byte for byte again."""
    out = tmp_path / "again"
    done = subprocess.run([str(Path(sys.executable).with_name("shrink-edge")), "export", "--model", two_heads["model"],
                           "--weights", str(two_heads["weights"]), "--data", str(two_heads["labelled"]), "--target",
                           "fp16", "--out", str(out), "--json"], capture_output=True, text=True,
                          env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    again = {a["format"]: a["sha256"] for a in json.loads(done.stdout)["artifacts"]}
    assert again == {fmt: a["sha256"] for fmt, a in fp16[1].items()}



def test_a_float16_vit_runs_in_onnxruntime_on_x86(tmp_path):
    """onnxruntime's NCHWc transformer kills an x86 CPU session of a float16 ViT (microsoft/onnxruntime#28392): the
    session that verifies and times it leaves that transformer out. In a process of its own, so a crash fails the
    test instead of the run."""
    import numpy as np

    np.savez(tmp_path / "data.npz", image=np.random.default_rng(0).standard_normal((8, 3, 32, 32), np.float32))
    zoo = Path(__file__).resolve().parents[2] / "zoo" / "transformers.py"
    done = subprocess.run([str(Path(sys.executable).with_name("shrink-edge")), "export", "--target", "onnx-fp16",
                           "--model", f"{zoo}:build", "--data", str(tmp_path / "data.npz"), "--out",
                           str(tmp_path / "out"), "--json"], capture_output=True, text=True,
                          env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-2000:]
    half = next(a for a in json.loads(done.stdout)["artifacts"] if a["format"] == "onnx-fp16")
    assert half["metrics"]["outputs"]["output_0"]["sqnr_db"] > 45
