"""Labels go to the output they describe: `y_<output>` in the data or --labels-output binds them by name; a plain `y`
binds only where exactly one output can hold class scores for them, else one line asks which, naming the candidates
with their shapes."""
import json

import numpy as np
import pytest
from conftest import TESTS, run_cli

FACE = f"{TESTS / 'models' / 'face_heads.py'}:build"


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """120 images with face / not-face labels, once as y and once as y_face."""
    root, rng = tmp_path_factory.mktemp("faces"), np.random.default_rng(0)
    image, labels = rng.random((120, 1, 28, 28), np.float32), rng.integers(0, 2, 120)
    np.savez(root / "y.npz", image=image, y=labels)
    np.savez(root / "y_face.npz", image=image, y_face=labels)
    return root


def export(data, tmp_path, *extra):
    return run_cli("export", "--target", "onnx", "--model", FACE, "--data", data, "--out", tmp_path / "out", "--json",
                   *extra)


def test_a_plain_y_that_fits_several_outputs_asks_which(faces, tmp_path):
    result = export(faces / "y.npz", tmp_path)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "could be for boxes (1, 4), landmarks (1, 10), face (1, 2)" in line
    assert "y_<output>" in line and "--labels-output" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["y_face in the data", "--labels-output face"])
def test_labels_bind_to_the_output_they_name(faces, tmp_path, how):
    data, extra = (faces / "y_face.npz", ()) if how.startswith("y_") else (faces / "y.npz", ("--labels-output", "face"))
    result = export(data, tmp_path, *extra)
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["signature"]["class_output"] == "face"
    int8 = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert int8["metrics"]["agreement"] is not None  # top-1 agreement is measured on the face scores


def test_a_name_that_is_no_output_is_one_line(faces, tmp_path):
    result = export(faces / "y.npz", tmp_path, "--labels-output", "logits")
    assert result.exit_code == 2
    assert "labels are for an output named logits, but the model returns boxes (1, 4)" in result.stderr


def test_a_plain_y_binds_to_the_only_output_that_holds_every_class(faces, tmp_path):
    """Labels 0..5 fit landmarks (10) alone of the three heads (boxes: 4, face: 2)."""
    with np.load(faces / "y.npz") as f:
        np.savez(tmp_path / "six.npz", image=f["image"], y=np.arange(len(f["image"])) % 6)
    result = export(tmp_path / "six.npz", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["signature"]["class_output"] == "landmarks"
