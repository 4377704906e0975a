"""Dynamic int8 (onnx-dynamic, tflite-dynamic): int8 weights with activations quantized at run time. Where an
activation's range varies from input to input (a transformer's outlier features), one static range per tensor loses
the quiet inputs and the dynamic file does not; a layer kept in float stays a float matmul."""
import numpy as np
import pytest
import torch
from conftest import TESTS, load_model_file

import shrink_edge

RecurrentNet = load_model_file(TESTS / "models" / "recurrent_net.py").RecurrentNet


class Encoder(torch.nn.Module):
    """A transformer block over 16 tokens, then a pooled embedding."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.block = torch.nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.head = torch.nn.Linear(width, 16)

    def forward(self, x):
        return self.head(self.block(x).mean(1))


def inputs(n: int, seed: int) -> np.ndarray:
    """Token features whose loudness spans three decades from one input to the next."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 16, 32)) * 10 ** rng.uniform(-1.5, 1.5, (n, 1, 1))).astype(np.float32)


def exported(target: str, tmp_path, **kwargs) -> dict:
    torch.manual_seed(0)
    module = Encoder().eval()
    result = shrink_edge.export(module, torch.zeros(1, 16, 32), target=target, data={"x": inputs(200, 1)},
                                calibration={"x": inputs(128, 2)}, out=tmp_path / target, progress=False,
                                enforce_budget=False, **kwargs)
    return {a["format"]: a for a in result.manifest["artifacts"]}


@pytest.mark.parametrize("dynamic_target, static_target", [("onnx-dynamic", "onnx"), ("tflite-dynamic", "tflite")])
def test_dynamic_keeps_inputs_whose_range_varies(tmp_path, dynamic_target, static_target):
    dynamic = exported(dynamic_target, tmp_path)[dynamic_target]
    static = exported(static_target, tmp_path)[f"{static_target}-int8"]["metrics"]["outputs"]["output_0"]
    metrics = dynamic["metrics"]["outputs"]["output_0"]
    assert metrics["cosine_worst"] > 0.99 and metrics["cosine_worst"] > static["cosine_worst"] + 0.01
    assert metrics["sqnr_db"] > static["sqnr_db"] + 3
    assert dynamic["facts"]["weights"] == "int8, activations quantized at run time"
    assert sum(int(op.split(" x")[1]) if " x" in op else 1 for op in dynamic["facts"]["int8_ops"]) >= 5


def test_onnx_file_is_a_quarter_of_the_float_weights(tmp_path):
    artifacts = exported("onnx-dynamic", tmp_path)
    assert artifacts["onnx-dynamic"]["facts"]["int8_ops"] == ["DynamicQuantizeMatMul x5"]  # in_proj, out_proj,
    # linear1, linear2, head
    assert artifacts["onnx-dynamic"]["size_bytes"] < 0.6 * artifacts["onnx"]["size_bytes"]  # graph overhead


def test_a_layer_kept_in_float_is_a_float_matmul(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[quantize]\nkeep_float = ["block.linear1"]\n')
    facts = exported("onnx-dynamic", tmp_path, recipe=recipe)["onnx-dynamic"]["facts"]
    assert facts["int8_ops"] == ["DynamicQuantizeMatMul x4"]
    assert any(op.startswith(("MatMul", "Gemm", "FusedMatMul")) for op in facts["float_ops"])


def test_debug_refuses_a_target_with_no_static_int8_file(tmp_path):
    """debug ranks the layers of the static int8 program: a dynamic target has no file made from it."""
    from conftest import run_cli

    np.savez(tmp_path / "data.npz", x=inputs(64, 3))
    result = run_cli("debug", "--model", f"{__file__}:Encoder", "--data", tmp_path / "data.npz",
                     "--target", "onnx-dynamic")
    assert result.exit_code == 2
    assert "onnx-dynamic quantize activations at run time" in result.stderr and "--target onnx" in result.stderr


def test_a_static_file_that_loses_points_to_the_dynamic_target(tmp_path):
    from shrink_edge.errors import BudgetError

    torch.manual_seed(0)
    with pytest.raises(BudgetError, match="--target onnx-dynamic quantizes them at run time"):
        shrink_edge.export(Encoder().eval(), torch.zeros(1, 16, 32), target="onnx", data={"x": inputs(200, 1)},
                           calibration={"x": inputs(128, 2)}, out=tmp_path / "out", progress=False, strict=True)
    assert not (tmp_path / "out").exists()


def test_a_tflite_with_its_weights_after_the_flatbuffer_runs(tmp_path):
    """Over 256 KB of int8 weights, ai-edge-quantizer stores them after the flatbuffer, by offset."""
    torch.manual_seed(0)
    result = shrink_edge.export(Encoder(width=256).eval(), torch.zeros(1, 16, 256), target="tflite-dynamic",
                                data={"x": np.random.default_rng(0).standard_normal((50, 16, 256), np.float32)},
                                out=tmp_path / "out", progress=False)
    [artifact] = result.manifest["artifacts"]
    assert artifact["size_bytes"] > 256 * 1024 and artifact["metrics"]["cosine"] > 0.99


def test_the_search_turns_a_static_target_that_loses_into_its_dynamic_twin(tmp_path):
    """No static scheme holds inputs whose loudness spans three decades; onnxruntime's dynamic int8 does."""
    dynamic = {"activations": "dynamic", "targets": {"onnx": "onnx-dynamic"}}
    torch.manual_seed(0)
    result = shrink_edge.export(Encoder().eval(), torch.zeros(1, 16, 32), target="onnx", data={"x": inputs(200, 1)},
                                calibration={"x": inputs(128, 2)}, out=tmp_path / "out", progress=False)
    search = result.manifest["fallback"]
    assert [r["settings"] for r in search["remedies"]] == [{"observer": "percentile"}, {"observer": "minmax"},
                                                           {"equalize": True}, {"smooth": True},
                                                           dynamic]
    assert search["chosen"] == dynamic and search["holds"]
    assert {(a["target"], a["format"]) for a in result.manifest["artifacts"]} == {("onnx-dynamic", "onnx"),
                                                                                 ("onnx-dynamic", "onnx-dynamic")}
    assert all(a["metrics"]["cosine"] >= 0.98 for a in result.manifest["artifacts"])


def test_an_lstm_runs_as_onnxruntimes_int8_lstm(tmp_path):
    """The exporter builds each LSTM's weights by slicing the module's into ONNX's gate order; folded to constants
    first, onnxruntime's quantizer makes them DynamicQuantizeLSTM (unfolded, all three stayed float)."""
    torch.manual_seed(0)
    frames = np.random.default_rng(0).standard_normal((64, 50, 40)).astype(np.float32)
    result = shrink_edge.export(RecurrentNet(features=40, hidden=128, layers=3, out=16).eval(), torch.zeros(1, 50, 40), target="onnx-dynamic",
                                data={"x": frames}, out=tmp_path / "out", progress=False)
    artifacts = {a["format"]: a for a in result.manifest["artifacts"]}
    facts = artifacts["onnx-dynamic"]["facts"]
    assert "DynamicQuantizeLSTM x3" in facts["int8_ops"] and not any("LSTM" in op for op in facts["float_ops"])
    assert artifacts["onnx-dynamic"]["size_bytes"] < 0.35 * artifacts["onnx"]["size_bytes"]
    assert artifacts["onnx-dynamic"]["metrics"]["sqnr_db"] > 30


def test_an_int8_file_runs_its_lstms_as_onnxruntimes_int8_lstm(tmp_path):
    """PT2E leaves an LSTM float and onnxruntime has no static int8 one: the static int8 file (onnx-int8) runs each
    as DynamicQuantizeLSTM (int8 weights, activations quantized at run time), unless the recipe keeps it float."""
    from shrink_edge.config.recipe import Recipe
    from shrink_edge.config.settings import QuantizeSettings

    torch.manual_seed(0)
    frames = np.random.default_rng(0).standard_normal((64, 50, 40)).astype(np.float32)
    model = RecurrentNet(features=40, hidden=128, layers=3, out=16).eval()
    for keep, name in (((), "int8"), (("recurrent",), "kept")):
        result = shrink_edge.export(model, torch.zeros(1, 50, 40), target="onnx", data={"x": frames},
                                    recipe=Recipe(quantize=QuantizeSettings(keep_float=keep)),
                                    out=tmp_path / name, progress=False)
        artifacts = {a["format"]: a for a in result.manifest["artifacts"]}
        facts, size = artifacts["onnx-int8"]["facts"], artifacts["onnx-int8"]["size_bytes"]
        if not keep:
            assert facts["dynamic_int8_ops"] == ["DynamicQuantizeLSTM x3"]
            assert not any("LSTM" in op for op in facts["float_ops"])
            assert size < 0.35 * artifacts["onnx"]["size_bytes"]
            assert artifacts["onnx-int8"]["metrics"]["sqnr_db"] > 30
        else:
            assert "dynamic_int8_ops" not in facts and "LSTM x3" in facts["float_ops"]
            assert facts["weights"] == "float: no layer's weights int8"  # the file says so, not nothing
            assert size > 0.9 * artifacts["onnx"]["size_bytes"]
