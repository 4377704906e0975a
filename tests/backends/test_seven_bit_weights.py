"""7-bit weights where int8 dot products saturate on CPUs without VNNI: in the OpenVINO IR the layers whose input
holds negatives; onnxruntime saturates behind a ReLU too (why the onnx target quantizes to 7 bits)."""
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import openvino as ov
import pytest
from onnx import TensorProto, helper, numpy_helper

from shrink_edge.backends.openvino.overflow import seven_bit_weights

K, N = 64, 8
STEP = 2 / 255  # activations quantized over [-1, 1] (zero point 128) or [0, 2] (zero point 0)


def layer(name: str, zero_point: int) -> tuple[list, list]:
    """x -> Quantize/Dequantize (uint8, this zero point) -> MatMul with int8 weights of 127 (per-tensor)."""
    initializers = [numpy_helper.from_array(np.float32(STEP), f"{name}_s"),
                    numpy_helper.from_array(np.uint8(zero_point), f"{name}_z"),
                    numpy_helper.from_array(np.full((K, N), 127, np.int8), f"{name}_w"),
                    numpy_helper.from_array(np.float32(0.01), f"{name}_ws"),
                    numpy_helper.from_array(np.int8(0), f"{name}_wz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", f"{name}_s", f"{name}_z"], [f"{name}_q"]),
             helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [f"{name}_a"]),
             helper.make_node("DequantizeLinear", [f"{name}_w", f"{name}_ws", f"{name}_wz"], [f"{name}_wf"]),
             helper.make_node("MatMul", [f"{name}_a", f"{name}_wf"], [name])]
    return nodes, initializers


def two_layers() -> onnx.ModelProto:
    (a, ia), (b, ib) = layer("signed", 128), layer("relu", 0)
    graph = helper.make_graph(a + b, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, K])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4, N]) for n in ("signed", "relu")],
                              ia + ib)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def signed_input(x: np.ndarray) -> np.ndarray:
    return (np.clip(np.round(x / STEP) + 128, 0, 255) - 128) * STEP


def weights(model: onnx.ModelProto, name: str) -> tuple[np.ndarray, float]:
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return arrays[f"{name}_w"], float(arrays[f"{name}_ws"])


def openvino(model: onnx.ModelProto, x: np.ndarray, tmp_path: Path) -> dict[str, np.ndarray]:
    onnx.save(model, tmp_path / "m.onnx")
    compiled = ov.Core().compile_model(ov.convert_model(str(tmp_path / "m.onnx")), "CPU",
                                       {"INFERENCE_PRECISION_HINT": "f32"})
    results = compiled(x)
    return {next(iter(port.get_names())): np.array(results[port]) for port in compiled.outputs}


def test_only_the_layer_behind_negatives_is_halved():
    model = two_layers()
    assert seven_bit_weights(model) == 1
    values, scale = weights(model, "signed")
    assert values.max() == 63 and scale == pytest.approx(0.02)  # 127 * 0.01 -> 63 * 0.02: within one old step
    values, scale = weights(model, "relu")
    assert values.max() == 127 and scale == pytest.approx(0.01)


def test_openvino_computes_the_halved_layer_exactly(tmp_path):
    """Inputs at the top of the range (uint8 255) against weights of 127 overflow int16 pairs on CPUs without VNNI;
    with 7 bits OpenVINO gives the exact product on any CPU."""
    x = np.ones((4, K), np.float32)
    model = two_layers()
    seven_bit_weights(model)
    values, scale = weights(model, "signed")
    exact = signed_input(x) @ (values.astype(np.float32) * scale)
    np.testing.assert_allclose(openvino(model, x, tmp_path)["signed"], exact, rtol=1e-5)


def skip_on_vnni() -> None:
    if re.search(r"\b(avx512_vnni|avx_vnni|amx_int8)\b", Path("/proc/cpuinfo").read_text()):
        pytest.skip("this CPU has VNNI: its int8 dot products do not saturate")


def test_eight_bit_weights_saturate_without_vnni(tmp_path):
    """Why the halving exists: on this CPU, 8-bit weights give a wrong product (skipped where VNNI is present)."""
    skip_on_vnni()
    x = np.ones((4, K), np.float32)
    values, scale = weights(two_layers(), "signed")
    exact = signed_input(x) @ (values.astype(np.float32) * scale)
    assert np.abs(openvino(two_layers(), x, tmp_path)["signed"] - exact).max() > 0.05 * np.abs(exact).max()


def onnxruntime(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x})))


def relu_input(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x / STEP), 0, 255) * STEP


def test_onnxruntime_saturates_behind_a_relu_unless_the_weights_have_7_bits():
    """onnxruntime's u8s8 kernels read the raw uint8 values: 255 x 127 pairs overflow even with the zero point at
    the bottom (skipped where VNNI is present); with weights of 63 the product is exact."""
    x = np.full((4, K), 2.0, np.float32)  # uint8 255 on the relu layer's grid
    for top in (63, 127):
        model = two_layers()
        weight = next(i for i in model.graph.initializer if i.name == "relu_w")
        weight.CopyFrom(numpy_helper.from_array(np.full((K, N), top, np.int8), "relu_w"))
        values, scale = weights(model, "relu")
        exact = relu_input(x) @ (values.astype(np.float32) * scale)
        error = np.abs(onnxruntime(model, x)["relu"] - exact).max()
        if top == 63:
            assert error <= 1e-5 * np.abs(exact).max()
        else:
            skip_on_vnni()
            assert error > 0.05 * np.abs(exact).max()


def random_layer(rng: np.random.Generator) -> onnx.ModelProto:
    """A MatMul behind a signed input (zero point 128) with random int8 weights, one scale per output column."""
    (nodes, initializers) = layer("signed", 128)
    initializers[2] = numpy_helper.from_array(rng.integers(-127, 128, (K, N)).astype(np.int8), "signed_w")
    initializers[3] = numpy_helper.from_array(rng.uniform(0.005, 0.02, N).astype(np.float32), "signed_ws")
    initializers[4] = numpy_helper.from_array(np.zeros(N, np.int8), "signed_wz")
    nodes[2].attribute.append(helper.make_attribute("axis", 1))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, K])],
                              [helper.make_tensor_value_info("signed", TensorProto.FLOAT, [None, N])], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_calibration_samples_round_the_halved_weights_to_move_the_output_least():
    """GPTQ's rounding, fitted on calibration inputs whose columns are correlated, keeps the halved layer closer to
    its 8-bit output on other inputs than rounding each weight to the nearest 7-bit value."""
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(K, K)) / np.sqrt(K)
    calibration, heldout = (np.clip(0.4 * rng.normal(size=(n, K)) @ mixing + 0.2, -1, 1).astype(np.float32)
                            for n in (512, 256))
    eight_bits = onnxruntime(random_layer(np.random.default_rng(1)), heldout)["signed"]
    errors = {}
    for name, inputs in (("nearest", None), ("gptq", {"x": calibration})):
        model = random_layer(np.random.default_rng(1))
        assert seven_bit_weights(model, inputs) == 1
        values = next(numpy_helper.to_array(i) for i in model.graph.initializer if i.name == "signed_w")
        assert values.min() >= -64 and values.max() <= 63
        errors[name] = np.sqrt(np.mean((onnxruntime(model, heldout)["signed"] - eight_bits) ** 2))
    assert errors["gptq"] < 0.8 * errors["nearest"]
