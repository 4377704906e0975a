"""The IR is compacted (scalar FakeQuantize ranges, repeated FakeQuantizes dropped) with the same outputs, and its
concatenations read quantized inputs; activations that hold negatives get symmetric int8 steps."""
import json

import numpy as np
import onnx
import openvino as ov
import pytest
from openvino import opset13 as ops

from conftest import TESTS, run_cli
from shrink_edge.backends.shared.qdq import unshared_weight_parameters, weights_as
from shrink_edge.backends.openvino.ir import compact


def fake_quantize(x, low: float, high: float):
    ranges = [ops.constant(np.full((1, 1, 1, 1), v, np.float32)) for v in (low, high, low, high)]
    return ops.fake_quantize(x, *ranges, 256)


def pooled_twice(second_high: float) -> ov.Model:
    """x -> FakeQuantize -> MaxPool -> FakeQuantize(0, second_high) -> x 3: the second repeats the first at 1.0."""
    x = ops.parameter([1, 2, 8, 8], np.float32, name="x")
    pooled = ops.max_pool(fake_quantize(x, 0.0, 1.0), [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)
    y = ops.multiply(fake_quantize(pooled, 0.0, second_high), ops.constant(np.float32(3.0)))
    return ov.Model([y], [x])


def run(model: ov.Model, x: np.ndarray) -> np.ndarray:
    return ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]


def count(model: ov.Model, kind: str) -> int:
    return sum(op.get_type_name() == kind for op in model.get_ops())


@pytest.mark.parametrize("second_high, kept", [(1.0, 1), (0.5, 2)])
def test_a_repeated_fake_quantize_is_dropped_and_a_different_one_kept(second_high, kept):
    x = np.random.default_rng(0).uniform(-0.2, 1.2, (1, 2, 8, 8)).astype(np.float32)
    model = pooled_twice(second_high)
    before = run(model, x)
    changes = compact(model)
    assert changes == {"scalar_ranges": 8, "repeated_fake_quantizes": 2 - kept, "concatenations_on_one_grid": 0}
    assert count(model, "FakeQuantize") == kept
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6)  # a FakeQuantize of values on its grid: ±1 ulp


def skip_connection(concatenated_high: float) -> ov.Model:
    """As OpenVINO's ONNX frontend writes a U-Net's skip connection: the skip reaches the Concat in float beside its
    FakeQuantize for the next layer, the upsampled map through its own, and the Concat's inputs' rounding folded
    into one FakeQuantize after it (the same ranges as the skip's at 1.0)."""
    x = ops.parameter([1, 2, 8, 8], np.float32, name="x")
    skip = ops.add(x, ops.constant(np.float32(0.25))).output(0)
    down = ops.max_pool(fake_quantize(skip, 0.0, 1.0), [2, 2], [1, 1], [0, 0], [0, 0], [2, 2]).output(0)
    up = ops.interpolate(fake_quantize(down, 0.0, 1.0), ops.constant(np.float32([2, 2])), "nearest", "scales",
                         axes=ops.constant(np.int64([2, 3])))
    joined = ops.concat([up, skip], 1)
    y = ops.multiply(fake_quantize(joined, 0.0, concatenated_high), ops.constant(np.float32(3.0)))
    return ov.Model([y], [x])


@pytest.mark.parametrize("concatenated_high, rewritten", [(1.0, 1), (0.5, 0)])
def test_a_concatenation_on_its_inputs_grid_reads_them_quantized(concatenated_high, rewritten):
    """The zoo's U-Net on OpenVINO: 0.85 ms -> 0.74 ms (NNCF's IR: 0.79), the same outputs bit for bit."""
    x = np.random.default_rng(0).uniform(-0.5, 1.2, (1, 2, 8, 8)).astype(np.float32)
    model = skip_connection(concatenated_high)
    before = run(model, x)
    assert compact(model)["concatenations_on_one_grid"] == rewritten
    [concat] = [op for op in model.get_ops() if op.get_type_name() == "Concat"]
    users = {t.get_node().get_type_name() for t in concat.output(0).get_target_inputs()}
    sources = [concat.input_value(i).get_node().get_type_name() for i in range(2)]
    assert (users, sources) == (({"Multiply"}, ["Interpolate", "FakeQuantize"]) if rewritten else
                                ({"FakeQuantize"}, ["Interpolate", "Add"]))
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6)


def test_exported_ir_has_scalar_ranges_and_the_outputs_of_the_plain_conversion(all_targets, tmp_path):
    out, _, artifacts = all_targets
    core = ov.Core()
    ir = core.read_model(out / artifacts["openvino-int8"]["file"] / "model.xml")
    proto = onnx.load(out / artifacts["onnx-int8"]["file"])  # the group's 8-bit weights: uint8
    weights_as(proto, "int8")
    unshared_weight_parameters(proto)
    onnx.save(proto, tmp_path / "unshared.onnx")
    plain = ov.convert_model(str(tmp_path / "unshared.onnx"))
    shapes = [list(op.input_value(i).get_node().get_output_shape(0)) for op in ir.get_ops()
              if op.get_type_name() == "FakeQuantize" for i in range(1, 5)]
    assert shapes and all(s == [] or max(s) > 1 for s in shapes)  # scalars, or one value per channel
    ov.save_model(plain, str(tmp_path / "plain.xml"), compress_to_fp16=False)
    compacted = (out / artifacts["openvino-int8"]["file"] / "model.xml").stat().st_size
    assert compacted < 0.9 * (tmp_path / "plain.xml").stat().st_size
    assert [list(port.get_shape()) for port in ir.inputs] == [[1, 1, 28, 28]]  # static (shapes.py): one sample a call
    x = np.random.default_rng(1).random((16, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(np.concatenate([run(ir, x[i:i + 1]) for i in range(16)]), run(plain, x))


def test_activations_that_hold_negatives_get_symmetric_int8_steps(tiny_model, tmp_path):
    """OpenVINO runs an int8 matmul or convolution whose input has a zero point on a slower path: activations that
    hold negatives (SiLU's here) get signed steps around zero, those without (ReLU's) keep their unsigned ones, the
    output its own."""
    result = run_cli("export", "--target", "openvino", "--model", f"{TESTS / 'models' / 'gated_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    [artifact] = json.loads(result.stdout)["artifacts"]
    ir = ov.Core().read_model(tmp_path / "out" / artifact["file"] / "model.xml")
    ranges = [tuple(float(op.input_value(i).get_node().get_data().ravel()[0]) for i in (1, 2)) for op in ir.get_ops()
              if op.get_type_name() == "FakeQuantize"
              and "Result" not in {t.get_node().get_type_name() for t in op.output(0).get_target_inputs()}]
    signed = [(low, high) for low, high in ranges if low < 0]
    assert len(signed) >= 3 and all(abs(low / high + 128 / 127) < 1e-4 for low, high in signed), ranges
    assert any(low == 0 for low, _ in ranges)
    assert artifact["metrics"]["cosine"] >= 0.99
