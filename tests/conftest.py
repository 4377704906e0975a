"""Shared fixtures: an isolated cache, a CLI runner, the sample's export and a small trained user model."""
from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from shrink_edge.config import targets
from shrink_edge.model import sample
from shrink_edge.cli.commands import app

TESTS = Path(__file__).resolve().parent
TINY_MODEL = TESTS / "models" / "tiny_net.py"
TWO_HEADS = TESTS / "models" / "two_heads.py"
FRAGILE = TESTS / "models" / "fragile_net.py"


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Each test session uses its own cache, never the user's. Session-wide and autouse, so it is in place before
    any session or module fixture exports."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    yield
    mp.undo()


def run_cli(*args: str):
    """Invoke the CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def sample_export(tmp_path_factory):
    """`shrink-edge export --target onnx --json` on the bundled sample, once per session."""
    out = tmp_path_factory.mktemp("sample") / "out"
    result = run_cli("export", "--target", "onnx", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def load_model_file(path):
    spec = importlib.util.spec_from_file_location(f"{path.stem}_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tiny_module():
    return load_model_file(TINY_MODEL)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """TinyNet trained for a few seconds on the sample's calibration slice and 600 held-out images;
    its data: the other 400 held-out images."""
    root = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    net = load_tiny_module().build()
    with np.load(sample.CALIBRATION) as cal, np.load(sample.HELDOUT) as held:
        x = torch.from_numpy(np.concatenate([cal["x"], held["x"][400:]]).astype(np.float32) / 255)
        y = torch.from_numpy(np.concatenate([cal["y"], held["y"][400:]]).astype(np.int64))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(12):
        for i in range(0, len(x), 64):
            loss = torch.nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    weights = root / "tiny.safetensors"
    save_file(net.eval().state_dict(), weights)
    with np.load(sample.HELDOUT) as f:
        data = root / "tiny_data.npz"
        np.savez(data, x=f["x"][:400], y=f["y"][:400])
    return {"model": f"{TINY_MODEL}:build", "weights": weights, "data": data, "input_shape": "1,1,28,28"}


@pytest.fixture(scope="session")
def two_heads(tmp_path_factory):
    """TwoHeads (an image and token ids in; class scores and an embedding out) trained for a few seconds on the
    sample's images, with 8 token ids per image (random, but the first names the class); its data: 400 held-out images with
    tokens, as labelled.npz and unlabelled.npz."""
    root = tmp_path_factory.mktemp("two_heads")
    torch.manual_seed(0)
    net = load_model_file(TWO_HEADS).build()
    rng = np.random.default_rng(0)
    with np.load(sample.CALIBRATION) as cal, np.load(sample.HELDOUT) as held:
        images = np.concatenate([cal["x"], held["x"]])
        labels = np.concatenate([cal["y"], held["y"]]).astype(np.int64)
    tokens = rng.integers(0, 32, (len(images), 8))
    tokens[:, 0] = 16 + labels  # the first token names the class, so the scores are decisive
    x, t, y = torch.from_numpy(images[400:].astype(np.float32) / 255), torch.from_numpy(tokens[400:]), \
        torch.from_numpy(labels[400:])
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(10):
        for i in range(0, len(x), 64):
            out = net(x[i:i + 64], t[i:i + 64])
            loss = torch.nn.functional.cross_entropy(out["scores"], y[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    weights = root / "two_heads.safetensors"
    save_file(net.eval().state_dict(), weights)
    np.savez(root / "labelled.npz", image=images[:400], tokens=tokens[:400], y_scores=labels[:400])  # for "scores"
    np.savez(root / "unlabelled.npz", image=images[:400], tokens=tokens[:400])
    return {"model": f"{TWO_HEADS}:build", "weights": weights, "labelled": root / "labelled.npz",
            "unlabelled": root / "unlabelled.npz"}


@pytest.fixture(scope="session")
def fragile(tmp_path_factory):
    """FragileNet (one layer with an outlier channel) with 600 unlabelled sample images, the onnx target's spec with a
    budget it breaks in plain int8 (every output's SQNR >= 30 dB; it gets about 19), and the recipe settings of
    plain int8, explicit: without cross-layer equalization, which takes the outlier away (48 dB)."""
    root = tmp_path_factory.mktemp("fragile")
    with np.load(sample.HELDOUT) as held:
        np.savez(root / "data.npz", x=held["x"][:600])
    spec = (targets.TARGETS_DIR / "onnx.toml").read_text()
    (root / "strict.toml").write_text(spec.replace("min_sqnr_db = 10", "min_sqnr_db = 30", 1))
    assert "min_sqnr_db = 30" in (root / "strict.toml").read_text()
    (root / "plain.toml").write_text("[quantize]\nequalize = false\n")
    return {"model": f"{FRAGILE}:build", "data": root / "data.npz", "strict": root / "strict.toml",
            "plain": ["--set", "quantize.equalize=false"], "plain_recipe": root / "plain.toml"}


RECIPE_SMALL = ["--set", "prune.ratio=0.5", "--set", "prune.round_to=8", "--set", "distill.epochs=1",
                "--set", "distill.batch_size=64", "--set", "qat.epochs=1", "--set", "qat.batch_size=64"]


@pytest.fixture(scope="session")
def train_data(tmp_path_factory):
    """1,112 labelled images for fine-tuning the tiny model."""
    path = tmp_path_factory.mktemp("train") / "train.npz"
    with np.load(sample.CALIBRATION) as cal, np.load(sample.HELDOUT) as held:
        np.savez(path, x=np.concatenate([cal["x"], held["x"][400:]]), y=np.concatenate([cal["y"], held["y"][400:]]))
    return path


def tiny_args(tiny_model):
    return ["--model", tiny_model["model"], "--weights", tiny_model["weights"], "--input-shape", "1,1,28,28",
            "--data", tiny_model["data"]]


@pytest.fixture(scope="session")
def all_targets(tiny_model, train_data, tmp_path_factory):
    """`export --target all` of the pruned + distilled + QAT tiny model: every backend from one checkpoint."""
    out = tmp_path_factory.mktemp("all") / "out"
    result = run_cli("export", "--target", "all", *tiny_args(tiny_model), "--train-data", train_data,
                     *RECIPE_SMALL, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    return out, report, {a["format"]: a for a in report["artifacts"]}


@pytest.fixture(scope="session")
def third_party(tmp_path_factory):
    """Files no shrink-edge pass wrote: an ONNX graph made with onnx.helper (dynamic batch) and a float .tflite
    straight from litert-torch."""
    import litert_torch
    import numpy as np
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    folder = tmp_path_factory.mktemp("third_party")
    weight = numpy_helper.from_array(np.random.default_rng(0).random((16, 4), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
                              "hand_made", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "hand_made.onnx")
    module = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU()).eval()
    litert_torch.convert(module, (torch.zeros(1, 16),)).export(str(folder / "float.tflite"))
    return [folder / "hand_made.onnx", folder / "float.tflite"]


def fused_ops(path) -> Counter:
    """The op types onnxruntime's CPU provider runs after its graph optimizations."""
    from shrink_edge.backends.onnxruntime.session import fused_graph

    return Counter(n.op_type for n in fused_graph(path).node)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """A tiny Llama-style language model trained here in seconds (llm/train.py), as a Hugging Face folder."""
    from shrink_edge.llm import train

    return train.train(tmp_path_factory.mktemp("lm") / "tiny", train.TINY, steps=60, batch=8, sequence=64)
