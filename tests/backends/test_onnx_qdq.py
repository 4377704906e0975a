"""The int8 ONNX is rewritten so onnxruntime fuses every convolution, add and matmul, keeping its numbers."""
import json

import onnx
from conftest import RECIPE_SMALL, fused_ops, run_cli, tiny_args

from shrink_edge import targets


def test_onnxruntime_fuses_every_conv_add_and_gemm(all_targets, tmp_path):
    out, _, artifacts = all_targets
    path = out / artifacts["onnx-int8"]["file"]
    convs = sum(n.op_type == "Conv" for n in onnx.load(path).graph.node)
    ops = fused_ops(path, tmp_path)
    assert ops["QLinearConv"] == convs == 4
    assert ops["Conv"] == 0 and ops["Add"] == 0 and ops["Gemm"] == 0 and ops["MatMul"] == 0
    assert ops["QLinearAdd"] == 1


def test_the_onnx_target_stores_seven_bit_weights(all_targets):
    """reduce_range re-rounds the QAT checkpoint's weights to 7 bits: close to its reference, no longer exact."""
    artifact = all_targets[2]["onnx-int8"]
    assert artifact["facts"] == {"weights": "int8 (7 bits)"}
    assert artifact["metrics"]["agreement"] >= 0.9 and artifact["metrics"]["sqnr_db"] >= 25


def test_with_uint8_weights_the_rewritten_onnx_agrees_with_the_qat_reference(all_targets, tiny_model, train_data,
                                                                             tmp_path):
    """uint8 weights at 8 bits run onnxruntime's u8u8 kernels: the int8 program's arithmetic on any CPU. The same
    recipe as all_targets, so the QAT checkpoint comes from the cache."""
    spec = (targets.TARGETS_DIR / "onnx.toml").read_text()
    spec = spec.replace('weights = "int8"\nreduce_range = true', 'weights = "uint8"\nreduce_range = false')
    assert "reduce_range = false" in spec
    (tmp_path / "exact.toml").write_text(spec)
    result = run_cli("export", "--target", tmp_path / "exact.toml", *tiny_args(tiny_model), "--train-data", train_data,
                     *RECIPE_SMALL, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    artifact = next(a for a in json.loads(result.stdout)["artifacts"] if a["format"] == "onnx-int8")
    assert artifact["facts"] == {"weights": "uint8"}
    metrics = artifact["metrics"]
    assert metrics["agreement"] >= 0.99 and metrics["max_error_lsb"] <= 1  # same arithmetic, up to rounding


def test_inner_names_are_numbered_and_io_names_kept(all_targets):
    """The exporter's torch-derived names are a sixth of the bytes: inner values become v<i>, nodes n<i>."""
    import re

    out, _, artifacts = all_targets
    graph = onnx.load(out / artifacts["onnx-int8"]["file"]).graph
    io_names = {v.name for v in [*graph.input, *graph.output]}
    assert [v.name for v in graph.input] == [v.name for v in onnx.load(out / artifacts["onnx"]["file"]).graph.input]
    inner = {n for node in graph.node for n in [*node.input, *node.output] if n} - io_names
    assert inner and all(re.fullmatch(r"v\d+", n) for n in inner)
    assert all(re.fullmatch(r"n\d+", node.name) for node in graph.node)


def test_relu6_layers_run_fused_in_int8(tmp_path):
    """MobileNetV2's conv -> BN -> ReLU6 blocks: every conv a QLinearConv, no ReLU6 left in float."""
    import numpy as np
    import torch

    import shrink_edge

    def block(cin, cout):
        return [torch.nn.Conv2d(cin, cout, 3, padding=1), torch.nn.BatchNorm2d(cout), torch.nn.ReLU6()]

    torch.manual_seed(0)
    module = torch.nn.Sequential(*block(3, 8), *block(8, 8), torch.nn.Conv2d(8, 4, 1)).eval()
    images = np.random.default_rng(0).normal(size=(160, 3, 16, 16)).astype(np.float32)
    result = shrink_edge.export(module, (torch.zeros(1, 3, 16, 16),), target="onnx", data={"x": images},
                                out=tmp_path / "out", progress=False, enforce_budget=False)
    ops = fused_ops(tmp_path / "out" / result.manifest["artifacts"][1]["file"], tmp_path)
    assert ops["QLinearConv"] == 3
    assert ops["Clip"] == ops["FusedConv"] == ops["Conv"] == ops["DequantizeLinear"] - 1 == 0  # one at the output
