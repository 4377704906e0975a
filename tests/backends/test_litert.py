"""TFLite full-int8 from the QAT checkpoint: int8 everywhere, agrees with the QAT reference in LiteRT."""
import numpy as np
import pytest
import torch
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


class Recurrent(torch.nn.Module):
    """Two stacked LSTM layers over 20 frames of 16 features, and a GRU after them, the last state to 8 values."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(16, 64, num_layers=2, batch_first=True)
        self.gru = torch.nn.GRU(64, 32, batch_first=True)
        self.head = torch.nn.Linear(32, 8)

    def forward(self, x):
        return self.head(self.gru(self.lstm(x)[0])[0][:, -1])


def test_an_int8_file_runs_its_recurrent_layers_with_int8_weights(tmp_path):
    """litert-torch unrolls an LSTM or a GRU into float FULLY_CONNECTED ops: LiteRT's int8 file gives them int8
    weights (its hybrid kernel quantizes their inputs at run time) unless the recipe keeps the layer float, while
    TFLite Micro, which has no hybrid kernel, builds from the static file."""
    import shrink_edge
    from shrink_edge.config.recipe import Recipe
    from shrink_edge.config.settings import QuantizeSettings

    group = tmp_path / "group.toml"
    group.write_text('description = "LiteRT and TFLite Micro"\ninclude = ["tflite", "cortex-m7"]\n')
    torch.manual_seed(0)
    model = Recurrent().eval()
    frames = np.random.default_rng(0).standard_normal((64, 20, 16)).astype(np.float32)
    found = {}
    for keep in ((), ("gru",), ("lstm", "gru")):
        result = shrink_edge.export(model, torch.zeros(1, 20, 16), target=str(group), data={"x": frames},
                                    recipe=Recipe(quantize=QuantizeSettings(keep_float=keep)),
                                    out=tmp_path / "-".join(keep or ["int8"]), progress=False, enforce_budget=False)
        found[keep] = {a["format"]: a for a in result.manifest["artifacts"]}
    int8, kept = found[()]["tflite-int8"], found[("lstm", "gru")]["tflite-int8"]
    assert int8["facts"]["dynamic_int8_ops"] == ["FULLY_CONNECTED x60"]  # 2 LSTM layers, 1 GRU: a per step
    assert not any(op.startswith("FULLY_CONNECTED") for op in int8["facts"]["float_ops"])
    assert int8["metrics"]["sqnr_db"] > 30
    assert found[("gru",)]["tflite-int8"]["facts"]["dynamic_int8_ops"] == ["FULLY_CONNECTED x40"]
    assert "dynamic_int8_ops" not in kept["facts"] and "FULLY_CONNECTED x60" in kept["facts"]["float_ops"]
    assert int8["size_bytes"] < 0.6 * kept["size_bytes"]  # 3/4 of the weights; the unrolled graph stays
    micro = found[()]["tflm"]
    assert micro["metrics"]["sqnr_db"] > 30  # from the file without hybrid kernels, which TFLite Micro runs
    assert micro["facts"]["model_bytes"] > kept["size_bytes"] * 0.9
