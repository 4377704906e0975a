"""Core ML packages: W8A8 and weight-only int8; the spec loads and holds the quantization ops.
Prediction needs macOS: elsewhere verification is skipped with that reason, never faked."""
import platform

import numpy as np
import pytest
import torch
from conftest import TESTS, load_model_file

import shrink_edge

RecurrentNet = load_model_file(TESTS / "models" / "recurrent_net.py").RecurrentNet


def test_w8a8_package_holds_quantize_and_int8_weight_ops(all_targets):
    _, _, artifacts = all_targets
    facts = artifacts["coreml-int8"]["facts"]
    assert facts["quantize_ops"] > 0 and facts["dequantize_ops"] > 0
    assert facts["int8_weight_ops"] >= 5


def test_weight_only_package_has_int8_weights_and_float_activations(all_targets):
    facts = all_targets[2]["coreml-w8"]["facts"]
    assert facts["int8_weight_ops"] >= 5 and facts["quantize_ops"] == 0


def test_packages_hold_only_the_model_and_its_weights(all_targets):
    """coremltools' ExecuTorch debug mapping (larger than the model) is left out."""
    out, _, artifacts = all_targets
    for fmt in ("coreml-int8", "coreml-w8"):
        package = out / artifacts[fmt]["file"]
        files = sorted(str(f.relative_to(package)) for f in package.rglob("*") if f.is_file())
        assert files == ["Data/com.apple.CoreML/model.mlmodel", "Data/com.apple.CoreML/weights/weight.bin",
                         "Manifest.json"]


@pytest.mark.skipif(platform.system() == "Darwin", reason="on macOS the packages are verified by prediction")
def test_prediction_is_skipped_with_the_reason_off_macos(all_targets):
    for fmt in ("coreml-int8", "coreml-w8"):
        artifact = all_targets[2][fmt]
        assert artifact["metrics"] is None
        assert "needs macOS" in artifact["facts"]["verification_skipped"]


@pytest.mark.skipif(platform.system() != "Darwin", reason="Core ML prediction needs macOS")
def test_prediction_agrees_on_macos(all_targets):
    assert all_targets[2]["coreml-int8"]["metrics"]["agreement"] >= 0.99


def test_same_program_same_package_bytes(tiny_model, tmp_path):
    """coremltools' random UUIDs, conversion date and hash-ordered maps are normalised: two fresh runs with
    different hash seeds write identical packages."""
    import hashlib
    import os
    import subprocess
    import sys

    from conftest import tiny_args

    digests = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "SHRINK_EDGE_CACHE_DIR": str(tmp_path / f"cache{seed}")}
        done = subprocess.run([sys.executable, "-m", "shrink_edge.cli", "export", "--target", "coreml",
                               *map(str, tiny_args(tiny_model)), "--out", str(out)], env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
        digests.append({str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest()
                        for f in sorted(out.rglob("*")) if f.is_file() and ".mlpackage" in str(f)})
    assert digests[0] == digests[1] and len(digests[0]) >= 6


def test_the_int8_package_holds_recurrent_weights_in_int8(tmp_path):
    """PT2E leaves an LSTM float, so the int8 package held its weights in float16; now int8 per channel like the
    rest: its four weight matrices and the head's."""
    frames = np.random.default_rng(0).standard_normal((32, 12, 8)).astype(np.float32)
    result = shrink_edge.export(RecurrentNet(layers=2).eval(), torch.zeros(1, 12, 8), target="coreml", data={"x": frames},
                                out=tmp_path / "out", progress=False)
    facts = {a["format"]: a["facts"] for a in result.manifest["artifacts"]}
    assert facts["coreml-int8"]["int8_weight_ops"] == 5, facts["coreml-int8"]
