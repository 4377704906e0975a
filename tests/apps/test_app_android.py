"""Android: the .tflite and its metadata land in the app's assets; the Gradle task's command keeps them in sync."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from conftest import run_cli

from shrink_edge.model import sample

CLI = str(Path(sys.executable).with_name("shrink-edge"))


@pytest.fixture(scope="module")
def android(tmp_path_factory):
    project = tmp_path_factory.mktemp("android")
    out = tmp_path_factory.mktemp("android_out") / "out"
    result = run_cli("export", "--target", "tflite", "--android-project", project, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return project, json.loads(result.stdout)


def gradle_command(project: Path) -> tuple[Path, list[str]]:
    """The working directory and command line the generated Gradle task runs."""
    snippet = (project / "shrink-edge.gradle.kts").read_text()
    workdir = re.search(r'workingDir = rootProject.file\("(.*)"\)', snippet).group(1)
    command = re.findall(r'"((?:[^"\\]|\\.)*)"', re.search(r"commandLine\(listOf\((.*)\)\)", snippet).group(1))
    return (project / workdir).resolve(), [CLI, *command[1:]]


def test_assets_hold_the_model_and_its_metadata(android):
    project, report = android
    assets = project / "app/src/main/assets"
    meta = json.loads((assets / "fashion_mnist.metadata.json").read_text())
    tflite = next(a for a in report["artifacts"] if a["format"] == "tflite-int8")
    assert (assets / "fashion_mnist.int8.tflite").read_bytes() == (Path(tflite["path"])).read_bytes()
    assert meta["sha256"] == tflite["sha256"] and meta["run_key"] == report["run_key"]
    assert meta["labels"][9] == "Ankle boot" and meta["normalization"]["scale"] == pytest.approx(1 / 255)
    assert meta["inputs"][0]["dtype"] == "int8" and meta["outputs"][0]["shape"] == [1, 10]
    assert "torch" in meta["versions"]
    kotlin = (project / "app/src/main/java/dev/shrinkedge/ShrinkEdgeModel.kt").read_text()
    assert '"fashion_mnist.metadata.json"' in kotlin and "org.tensorflow.lite.Interpreter" in kotlin


def test_metadata_quantization_gives_the_verified_answers(android):
    """Feed raw pixels the way the Kotlin helper does, only with the metadata's numbers."""
    project, report = android
    assets = project / "app/src/main/assets"
    meta = json.loads((assets / "fashion_mnist.metadata.json").read_text())
    inp, out, norm = meta["inputs"][0], meta["outputs"][0], meta["normalization"]
    interpreter = Interpreter(model_path=str(assets / meta["model"]))
    interpreter.allocate_tensors()
    with np.load(sample.HELDOUT) as f:
        pixels, labels = f["x"].astype(np.float32), f["y"]
    hits = 0
    for x, y in zip(pixels, labels):
        q = np.clip(np.round((x * norm["scale"] + norm["offset"]) / inp["scale"]) + inp["zero_point"], -128, 127)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], q.astype(np.int8)[None])
        interpreter.invoke()
        raw = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0].astype(np.float32)
        scores = (raw - out["zero_point"]) * out["scale"]
        hits += int(scores.argmax() == y)
    tflite = next(a for a in report["artifacts"] if a["format"] == "tflite-int8")
    assert hits / len(labels) == tflite["metrics"]["accuracy"]


def test_gradle_task_command_is_a_no_op_when_nothing_changed(android):
    project, _ = android
    before = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    workdir, command = gradle_command(project)
    done = subprocess.run(command + ["--json"], cwd=workdir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reused"] is True
    assert {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()} == before


def test_changed_checkpoint_is_re_exported(tiny_model, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    weights = tmp_path / "w.safetensors"
    weights.write_bytes(tiny_model["weights"].read_bytes())
    args = ["export", "--target", "tflite", "--model", tiny_model["model"], "--weights", weights,
            "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--android-project", tmp_path,
            "--out", tmp_path / "out"]
    assert run_cli(*args).exit_code == 0
    asset = tmp_path / "app/src/main/assets/tiny_net.int8.tflite"
    first = asset.read_bytes()
    assert run_cli(*args).exit_code == 0 and asset.read_bytes() == first  # unchanged: not rewritten
    state = load_file(weights)
    state["head.bias"] = state["head.bias"] + torch.linspace(-0.5, 0.5, 10)
    save_file(state, weights)
    assert run_cli(*args).exit_code == 0
    assert asset.read_bytes() != first


@pytest.mark.parametrize("flag", ["--android-project", "--assets-dir"])
def test_bad_project_path(flag, tmp_path):
    result = run_cli("export", "--target", "tflite", flag, tmp_path / "missing", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "is not a folder" in result.stderr
    assert not (tmp_path / "out").exists()


def test_target_without_a_tflite_is_refused(tmp_path):
    result = run_cli("export", "--target", "onnx", "--android-project", tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "need a .tflite" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: a read-only folder cannot be shown as root")
def test_project_without_write_permission(tmp_path):
    project = tmp_path / "readonly"
    project.mkdir(mode=0o555)
    result = run_cli("export", "--target", "tflite", "--android-project", project, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "is not writable" in result.stderr


@pytest.mark.parametrize("target", ["tflite-dynamic", "tflite-fp16"])
def test_a_tflite_with_float_io_lands_with_it_in_its_metadata(tmp_path, target):
    """tflite-dynamic and tflite-fp16 keep float inputs and outputs: the metadata tells the app to feed floats,
    unquantized."""
    assets = tmp_path / "assets"
    assets.mkdir()
    result = run_cli("export", "--target", target, "--assets-dir", assets, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    meta = json.loads((assets / "fashion_mnist.metadata.json").read_text())
    suffix = target.removeprefix("tflite-")
    assert meta["format"] == target and (assets / meta["model"]).name == f"fashion_mnist.{suffix}.tflite"
    assert meta["inputs"][0]["dtype"] == "float32" and meta["inputs"][0]["scale"] == 0.0
    assert meta["outputs"][0]["dtype"] == "float32" and meta["outputs"][0]["shape"] == [1, 10]
