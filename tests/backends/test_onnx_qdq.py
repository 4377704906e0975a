"""The int8 ONNX is rewritten so onnxruntime fuses every convolution, add and matmul, keeping its numbers."""
import onnx
from conftest import fused_ops


def test_onnxruntime_fuses_every_conv_add_and_gemm(all_targets, tmp_path):
    out, _, artifacts = all_targets
    path = out / artifacts["onnx-int8"]["file"]
    convs = sum(n.op_type == "Conv" for n in onnx.load(path).graph.node)
    ops = fused_ops(path, tmp_path)
    assert ops["QLinearConv"] == convs == 4
    assert ops["Conv"] == 0 and ops["Add"] == 0 and ops["Gemm"] == 0 and ops["MatMul"] == 0
    assert ops["QLinearAdd"] == 1


def test_rewritten_onnx_agrees_with_the_qat_reference(all_targets):
    metrics = all_targets[2]["onnx-int8"]["metrics"]
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
