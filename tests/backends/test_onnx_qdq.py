"""The int8 ONNX is rewritten so onnxruntime fuses every convolution, add and matmul, keeping its numbers."""
import platform

import onnx
from conftest import TESTS, fused_ops, load_model_file

RecurrentNet = load_model_file(TESTS / "models" / "recurrent_net.py").RecurrentNet


def test_onnxruntime_fuses_every_conv_add_and_gemm(all_targets, tmp_path):
    out, _, artifacts = all_targets
    path = out / artifacts["onnx-int8"]["file"]
    convs = sum(n.op_type == "Conv" for n in onnx.load(path).graph.node)
    ops = fused_ops(path)
    assert ops["QLinearConv"] == convs == 4
    assert ops["Conv"] == 0 and ops["Add"] == 0 and ops["Gemm"] == 0 and ops["MatMul"] == 0
    assert ops["QLinearAdd"] == 1


def test_rewritten_onnx_agrees_with_the_qat_reference(all_targets):
    """`all` shares one 8-bit checkpoint: on a CPU whose u8s8 products are exact (x86 with VNNI, arm64) the onnx
    member stores its weights as int8 (u8s8 kernels, fast), elsewhere as uint8 (u8u8 kernels, exact, slower)."""
    from shrink_edge.backends.onnxruntime.export import u8s8_exact

    artifact = all_targets[2]["onnx-int8"]
    weights = "int8 (8 bits: exact on x86 with VNNI and arm64, saturates on x86 without VNNI)" if u8s8_exact() \
        else "uint8"
    assert artifact["facts"] == {"weights": weights, "float_ops": []}
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


def test_which_cpus_multiply_u8_by_s8_exactly():
    from shrink_edge.backends.onnxruntime.export import u8s8_exact

    if platform.machine().lower() in ("aarch64", "arm64"):
        assert u8s8_exact({})
        return
    assert u8s8_exact({"avx2": True, "avx512_f": True, "avx512_vnni": True})
    assert u8s8_exact({"avx2": True, "avx_vnni": True, "avx512_vnni": False})
    assert not u8s8_exact({"avx2": True, "avx512_f": True, "avx512_vnni": False, "avx_vnni": False})


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
    artifact = result.manifest["artifacts"][1]
    assert artifact["facts"] == {"weights": "int8 (7 bits)", "float_ops": []}  # weight_bits = 7: u8s8 kernels
    ops = fused_ops(tmp_path / "out" / artifact["file"])
    assert ops["QLinearConv"] == 3
    assert ops["Clip"] == ops["FusedConv"] == ops["Conv"] == ops["DequantizeLinear"] - 1 == 0  # one at the output


def test_ops_left_in_float_are_named(tmp_path):
    """onnxruntime has no int8 GELU: it runs between a dequantize and a quantize, while both linears fuse."""
    import numpy as np
    import torch

    import shrink_edge

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.Linear(32, 8)).eval()
    data = {"x": np.random.default_rng(0).normal(size=(160, 16)).astype(np.float32)}
    result = shrink_edge.export(module, (torch.zeros(1, 16),), target="onnx", data=data, out=tmp_path / "out",
                                progress=False, enforce_budget=False)
    floats = result.manifest["artifacts"][1]["facts"]["float_ops"]
    assert floats and not any(op.split()[0] in ("Gemm", "MatMul", "FusedMatMul", "FusedGemm") for op in floats)
    assert "facts" not in result.manifest["artifacts"][0]  # the float file: none


def test_shape_arithmetic_does_not_make_int8_ops_float(tmp_path):
    """A GRU's output reshaped to a computed shape (Shape -> Gather -> Concat) and read by an int8 linear layer:
    the shape arithmetic reads dimensions, not values, so the QGemm after it is not counted as float (it was)."""
    import numpy as np
    import torch

    import shrink_edge

    torch.manual_seed(0)
    data = {"x": np.random.default_rng(0).normal(size=(64, 20, 10)).astype(np.float32)}
    result = shrink_edge.export(RecurrentNet(torch.nn.GRU, features=10).eval(), (torch.zeros(1, 20, 10),), target="onnx", data=data,
                                out=tmp_path / "out", progress=False, enforce_budget=False)
    floats = [op.split()[0] for op in result.manifest["artifacts"][1]["facts"]["float_ops"]]
    assert "GRU" in floats and not {"QGemm", "Shape"} & set(floats), floats  # onnxruntime has no int8 GRU
