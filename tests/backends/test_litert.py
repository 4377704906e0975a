"""TFLite full-int8 from the QAT checkpoint: int8 everywhere, agrees with the QAT reference in LiteRT."""
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from shrink_edge.errors import UserError
from shrink_edge.backends.litert.session import float_ops


def test_every_tensor_and_the_io_are_int8(all_targets):
    out, _, artifacts = all_targets
    path = out / artifacts["tflite-int8"]["file"]
    assert float_ops(path) == []
    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED"} <= ops
    assert not ops & {"QUANTIZE", "DEQUANTIZE"}


def test_agrees_with_the_qat_reference_within_1_lsb(all_targets):
    """XNNPACK's int8 arithmetic is the reference's, biases on their int32 grid included, up to rounding."""
    _, report, artifacts = all_targets
    assert report["reference"]["runtime"] == "torch (QAT int8)"
    metrics = artifacts["tflite-int8"]["metrics"]
    assert metrics["agreement"] >= 0.99 and metrics["max_error_lsb"] <= 1


def test_uint8_io_is_refused_clearly(tmp_path):
    from shrink_edge.passes.base import Context
    from shrink_edge.backends.litert.export import TfliteExport

    ctx = Context(model=None, calibration=None, quantization=None, steps=None, options={"io_dtype": "uint8"})
    with pytest.raises(UserError, match="uint8 I/O needs TensorFlow's converter"):
        TfliteExport().run(tmp_path / "in.pt2", tmp_path / "out.tflite", ctx)


def test_inner_tensor_names_are_short_and_buffers_aligned(all_targets):
    from ai_edge_litert import schema_py_generated as schema

    out, _, artifacts = all_targets
    model = schema.Model.GetRootAs((out / artifacts["tflite-int8"]["file"]).read_bytes(), 0)
    graph = model.Subgraphs(0)
    io = {graph.Inputs(0), graph.Outputs(0)}
    names = {i: graph.Tensors(i).Name().decode() for i in range(graph.TensorsLength())}
    assert all(name == f"t{i}" for i, name in names.items() if i not in io)
    assert all(names[i].startswith("serving_default") for i in io)  # what apps look up stays
    data = [model.Buffers(i) for i in range(model.BuffersLength()) if model.Buffers(i).DataLength()]
    assert data and all(b._tab.Vector(b._tab.Offset(4)) % 16 == 0 for b in data)
