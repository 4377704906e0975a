"""A model with two named inputs of two dtypes (an image, token ids) and a dict of two outputs goes through every
runtime that runs here: each artifact keeps the names, and every output is verified on its own."""
import json

import onnxruntime as ort
import pytest
from ai_edge_litert.interpreter import Interpreter
from conftest import run_cli

TARGETS = "onnx", "tflite", "openvino", "cortex-m4"


@pytest.fixture(scope="module")
def exported(two_heads, tmp_path_factory):
    runs = {}
    for target in TARGETS:
        out = tmp_path_factory.mktemp(target) / "out"
        result = run_cli("export", "--target", target, "--model", two_heads["model"], "--weights",
                         two_heads["weights"], "--data", two_heads["labelled"], "--out", out, "--json")
        assert result.exit_code == 0, result.stderr
        runs[target] = (out, json.loads(result.stdout))
    return runs


def test_shapes_and_dtypes_come_from_the_data(exported):
    _, manifest = exported["onnx"]
    assert manifest["signature"] == {
        "inputs": [{"name": "image", "shape": [1, 1, 28, 28], "dtype": "float32"},
                   {"name": "tokens", "shape": [1, 8], "dtype": "int64"}],
        "outputs": ["scores", "embedding"], "class_output": "scores"}


def test_every_output_is_verified_on_its_own(exported):
    for target, (_, manifest) in exported.items():
        for artifact in manifest["artifacts"]:
            outputs = artifact["metrics"]["outputs"]
            assert list(outputs) == ["scores", "embedding"], target
            for name, m in outputs.items():
                assert m["cosine"] >= 0.98 and m["cosine_worst"] <= m["cosine"], (target, name, m)
                assert m["sqnr_db"] is None or m["sqnr_db"] > 10, (target, name, m)
            assert artifact["metrics"]["accuracy"] is not None  # labels given: measured on the scores


def test_onnx_keeps_the_names(exported):
    out, manifest = exported["onnx"]
    for artifact in manifest["artifacts"]:
        sess = ort.InferenceSession(str(out / artifact["file"]), providers=["CPUExecutionProvider"])
        assert [i.name for i in sess.get_inputs()] == ["image", "tokens"]
        assert [o.name for o in sess.get_outputs()] == ["scores", "embedding"]
        assert sess.get_inputs()[1].type == "tensor(int64)"


def test_tflite_signature_keeps_the_names(exported):
    out, manifest = exported["tflite"]
    [artifact] = manifest["artifacts"]
    signature = Interpreter(model_path=str(out / artifact["file"])).get_signature_list()["serving_default"]
    assert sorted(signature["inputs"]) == ["image", "tokens"]
    assert sorted(signature["outputs"]) == ["embedding", "scores"]


def test_openvino_keeps_the_names(exported):
    import openvino as ov

    out, manifest = exported["openvino"]
    [artifact] = manifest["artifacts"]
    model = ov.Core().read_model(out / artifact["file"] / "model.xml")
    assert [sorted(i.get_names()) for i in model.inputs] == [["image"], ["tokens"]]
    assert ["scores", "embedding"] == [next(iter(sorted(o.get_names()))) for o in model.outputs]


def test_ops_that_stay_float_are_reported(exported):
    """The token lookup has no int8 kernel in LiteRT: said per artifact, not hidden."""
    _, manifest = exported["tflite"]
    [artifact] = manifest["artifacts"]
    assert "EMBEDDING_LOOKUP" in artifact["facts"]["float_ops"]


def test_unlabelled_data_verifies_every_output(two_heads, tmp_path):
    result = run_cli("export", "--target", "onnx", "--model", two_heads["model"], "--weights", two_heads["weights"],
                     "--data", two_heads["unlabelled"], "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["reference"]["accuracy"] is None and manifest["signature"]["class_output"] is None
    int8 = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")["metrics"]
    assert int8["accuracy"] is None and int8["agreement"] is None
    assert int8["cosine"] == min(m["cosine"] for m in int8["outputs"].values()) >= 0.98


def test_input_shape_by_name(two_heads, tmp_path):
    result = run_cli("export", "--target", "onnx", "--model", two_heads["model"], "--weights", two_heads["weights"],
                     "--input-shape", "image=1,1,28,28", "--input-shape", "tokens=1,8",
                     "--data", two_heads["unlabelled"], "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    assert [i["shape"] for i in json.loads(result.stdout)["signature"]["inputs"]] == [[1, 1, 28, 28], [1, 8]]
