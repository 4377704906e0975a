"""Gates in int8 (quant/gates.py): SiLU and squeeze-excite's sigmoid and multiply run in each runtime's int8
kernels, not as float islands between dequantize and quantize; OpenVINO, whose quantized gate is slower, takes the
sigmoid's output in float; every file still verifies."""
import json

from conftest import TESTS, run_cli


def test_silu_and_squeeze_excite_gates_run_in_int8(tiny_model, tmp_path):
    group = tmp_path / "four.toml"
    group.write_text('description = "four runtimes"\ninclude = ["onnx", "tflite", "openvino", "executorch"]\n')
    result = run_cli("export", "--target", group, "--model", f"{TESTS / 'models' / 'gated_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    floats = {f: " ".join(artifacts[f]["facts"]["float_ops"]) for f in ("onnx-int8", "tflite-int8")}
    assert "Sigmoid" not in floats["onnx-int8"] and "Mul" not in floats["onnx-int8"], floats
    assert "LOGISTIC" not in floats["tflite-int8"] and "MUL" not in floats["tflite-int8"], floats
    assert artifacts["executorch-int8"]["facts"]["undelegated_ops"] == {}
    for name in ("onnx-int8", "tflite-int8", "openvino-int8", "executorch-int8"):
        assert artifacts[name]["metrics"]["cosine"] >= 0.99, (name, artifacts[name]["metrics"])
