"""TFLite Micro bundle: C array, op resolver, a measured minimal arena, and answers in the TFLM interpreter."""
import json

from shrink_edge.backends.tflm.bundle import arena_fits, resolver_method


def test_bundle_files_and_c_array(all_targets):
    out, _, artifacts = all_targets
    bundle = out / artifacts["tflm"]["file"]
    model = (bundle / "model.tflite").read_bytes()
    source = (bundle / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_model[]" in source
    assert f"g_model_len = {len(model)};" in source
    assert source.count("0x") == len(model)
    resolver = (bundle / "op_resolver.h").read_text()
    info = json.loads((bundle / "tflm.json").read_text())
    assert f"MicroMutableOpResolver<{len(info['ops'])}>" in resolver
    assert "resolver.AddConv2D()" in resolver and "resolver.AddDepthwiseConv2D()" in resolver


def test_arena_is_the_measured_minimum_plus_margin(all_targets):
    out, _, artifacts = all_targets
    bundle = out / artifacts["tflm"]["file"]
    info = json.loads((bundle / "tflm.json").read_text())
    model = bundle / "model.tflite"
    measured = info["arena_bytes_measured"]
    assert arena_fits(model, measured) and not arena_fits(model, measured - 64)
    assert measured * 1.1 <= info["arena_bytes"] < measured * 1.1 + 1024
    assert artifacts["tflm"]["facts"]["arena_bytes"] == info["arena_bytes"]


def test_tflm_answers_like_the_qat_reference(all_targets):
    _, _, artifacts = all_targets
    metrics = artifacts["tflm"]["metrics"]
    # TFLM's reference kernels round a little differently from XNNPACK; the tiny test model has low margins
    assert metrics["agreement"] >= 0.97 and metrics["error_lsb_p99"] <= 2 and metrics["max_error_lsb"] <= 4


def test_resolver_method_names():
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert resolver_method("AVERAGE_POOL_2D") == "AddAveragePool2D"


def test_a_concatenation_wider_than_tflm_takes_is_split(tmp_path):
    """TFLite Micro's CONCATENATION takes at most 10 inputs; the unrolled GRU's 16-input one becomes a tree of them
    (concat.py) and the bundle runs, close to the float model."""
    import numpy as np
    from conftest import TESTS, run_cli

    from shrink_edge.backends.shared.tflite_io import inspector
    from shrink_edge.backends.tflm.concat import MAX_INPUTS

    data = tmp_path / "frames.npz"
    np.savez(data, frames=np.random.default_rng(0).normal(size=(64, 16, 8)).astype(np.float32))
    result = run_cli("export", "--target", "cortex-m4", "--model", f"{TESTS / 'models' / 'step_net.py'}:build",
                     "--input-shape", "1,16,8", "--data", data, "--out", tmp_path / "out", "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    artifact, = json.loads(result.stdout)["artifacts"]
    ops = inspector(tmp_path / "out" / artifact["file"] / "model.tflite")._get_ops_details()
    widths = [len(op["inputs"]) for op in ops if op["op_name"] == "CONCATENATION"]
    assert len(widths) >= 2 and max(widths) <= MAX_INPUTS, widths
    assert artifact["metrics"]["cosine"] >= 0.99, artifact["metrics"]
