"""Each kind of bad input: one clear line, exit code 2, and nothing written to the output folder."""
import gzip

import numpy as np
import pytest
import torch
from conftest import run_cli

from shrink_edge.model import sample


def bad(tmp_path, tiny_model, kind):
    """Arguments for one bad case, and a fragment the message must contain."""
    m = dict(tiny_model)
    if kind == "missing model file":
        m["model"] = f"{tmp_path}/nope.py:build"
        expect = "model file not found"
    elif kind == "missing weights":
        m["weights"] = tmp_path / "nope.safetensors"
        expect = "weights file not found"
    elif kind == "corrupt weights":
        m["weights"] = tmp_path / "w.safetensors"
        m["weights"].write_bytes(tiny_model["weights"].read_bytes()[:100])
        expect = "cannot read weights"
    elif kind == "weights of another model":
        m["weights"] = sample.SAMPLE_DIR / "weights.safetensors"
        expect = "do not fit"
    elif kind == "pickled objects in weights":
        m["weights"] = tmp_path / "w.pt"
        torch.save({"model": torch.nn.Linear(2, 2)}, m["weights"])
        expect = "--unsafe-allow-pickle"
    elif kind == "wrong input shape":
        m["input_shape"] = "1,3,28"
        expect = "fails on inputs x 1,3,28 float32"
    elif kind == "unparseable input shape":
        m["input_shape"] = "one,two"
        expect = "bad --input-shape"
    elif kind == "missing data":
        m["data"] = tmp_path / "nope.npz"
        expect = "data not found"
    elif kind == "corrupt data":
        m["data"] = tmp_path / "d.npz"
        m["data"].write_bytes(b"PK\x03\x04 not really a zip")
        expect = "cannot read"
    elif kind == "labels out of range":
        m["data"] = tmp_path / "d.npz"
        np.savez(m["data"], x=np.zeros((20, 1, 28, 28), np.float32), y=np.full(20, 12))
        expect = "has 10 outputs"
    elif kind == "labels and inputs differ in count":
        m["data"] = tmp_path / "d.npz"
        np.savez(m["data"], x=np.zeros((20, 1, 28, 28), np.float32), y=np.zeros(19, np.int64))
        expect = "20 inputs but 19 labels"
    elif kind == "data of another shape":
        m["data"] = tmp_path / "d.npz"
        np.savez(m["data"], x=np.zeros((20, 1, 32, 32), np.float32), y=np.zeros(20, np.int64))
        expect = "shape (1, 32, 32) per sample"
    elif kind == "truncated IDX data":
        m["data"] = tmp_path / "idx"
        m["data"].mkdir()
        with gzip.open(m["data"] / "t10k-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100))
        with gzip.open(m["data"] / "t10k-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(10))
        expect = "truncated or corrupt"
    else:
        raise AssertionError(kind)
    args = ["export", "--model", m["model"], "--weights", m["weights"], "--input-shape", m["input_shape"],
            "--data", m["data"]]
    return args, expect


CASES = ["missing model file", "missing weights", "corrupt weights", "weights of another model",
         "pickled objects in weights", "wrong input shape", "unparseable input shape", "missing data", "corrupt data",
         "labels out of range", "labels and inputs differ in count", "data of another shape", "truncated IDX data"]


@pytest.mark.parametrize("kind", CASES)
def test_bad_user_input(kind, tmp_path, tiny_model):
    args, expect = bad(tmp_path, tiny_model, kind)
    out = tmp_path / "out"
    result = run_cli(*args, "--out", out)
    assert result.exit_code == 2
    assert expect in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unknown_target(tmp_path):
    result = run_cli("export", "--target", "gameboy", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "unknown target 'gameboy'" in result.stderr and "onnx" in result.stderr
    assert not (tmp_path / "out").exists()


def test_model_without_factory(tmp_path, tiny_model):
    result = run_cli("export", "--model", str(tiny_model["model"]).replace(":build", ":missing"),
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "has no callable 'missing'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_model_that_torch_export_cannot_capture(tmp_path, tiny_model):
    source = tmp_path / "branchy.py"
    source.write_text(
        "import torch\n"
        "class Branchy(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.head = torch.nn.Linear(784, 10)\n"
        "    def forward(self, x):\n"
        "        x = x.flatten(1)\n"
        "        return self.head(x) if x.sum() > 0 else -self.head(x)  # data-dependent control flow\n")
    result = run_cli("export", "--model", f"{source}:Branchy", "--input-shape", "1,1,28,28",
                     "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "torch.export cannot capture the model" in result.stderr
    assert not (tmp_path / "out").exists()


def bad_signature(tmp_path, two_heads, kind):
    """Arguments for a model with two named inputs given data or a model that does not fit, and the message."""
    with np.load(two_heads["labelled"]) as f:
        image, tokens = f["image"][:50], f["tokens"][:50]
    data, model, extra = tmp_path / "d.npz", two_heads["model"], []
    if kind == "data missing an input":
        np.savez(data, image=image)
        expect = "missing tokens"
    elif kind == "names that do not match forward()":
        np.savez(data, img=image, tokens=tokens)
        expect = "no input named img"
    elif kind == "wrong dtype":
        np.savez(data, image=image, tokens=tokens.astype(np.float32))
        expect = "the model fails on inputs image 1,1,28,28 float32; tokens 1,8 float32"
    elif kind == "wrong shape of one input":
        np.savez(data, image=image, tokens=np.zeros((50, 9), np.int64))
        extra = ["--input-shape", "image=1,1,28,28", "--input-shape", "tokens=1,8"]
        expect = "tokens of shape (9,) per sample but the model takes (8,)"
    elif kind == "an output that is not a tensor":
        source = tmp_path / "not_a_tensor.py"
        source.write_text("import torch\n"
                          "class M(torch.nn.Module):\n"
                          "    def forward(self, image, tokens):\n"
                          "        return image.mean(), 'a string'\n")
        model = f"{source}:M"
        np.savez(data, image=image, tokens=tokens)
        expect = "the model returned a tuple holding str"
    else:
        raise AssertionError(kind)
    weights = [] if kind == "an output that is not a tensor" else ["--weights", two_heads["weights"]]
    return ["export", "--model", model, *weights, "--data", data, *extra], expect


SIGNATURE_CASES = ["data missing an input", "names that do not match forward()", "wrong dtype",
                   "wrong shape of one input", "an output that is not a tensor"]


@pytest.mark.parametrize("kind", SIGNATURE_CASES)
def test_bad_data_or_outputs_for_named_inputs(kind, tmp_path, two_heads):
    args, expect = bad_signature(tmp_path, two_heads, kind)
    out = tmp_path / "out"
    result = run_cli(*args, "--out", out)
    assert result.exit_code == 2, result.stderr
    assert expect in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
