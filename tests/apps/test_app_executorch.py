"""ExecuTorch in the apps: `--target executorch` puts the verified .pte and its metadata into an Android project
(Kotlin helper on org.pytorch.executorch, the Gradle dependency in the generated script) and an iOS project (Swift
helper on the ExecuTorch package); the metadata alone reproduces the verified answers; a rebuild is a no-op."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli

from shrink_edge.model import sample

CLI = str(Path(sys.executable).with_name("shrink-edge"))


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    android, ios = tmp_path_factory.mktemp("android"), tmp_path_factory.mktemp("ios")
    out = tmp_path_factory.mktemp("executorch_out") / "out"
    result = run_cli("export", "--target", "executorch", "--android-project", android, "--ios-project", ios,
                     "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return android, ios, json.loads(result.stdout)


def test_android_project_gets_the_pte_helper_and_dependency(apps):
    android, _, report = apps
    assets = android / "app/src/main/assets"
    pte = next(a for a in report["artifacts"] if a["format"] == "executorch-int8")
    assert (assets / "fashion_mnist.int8.pte").read_bytes() == Path(pte["path"]).read_bytes()
    meta = json.loads((assets / "fashion_mnist.metadata.json").read_text())
    assert meta["format"] == "executorch-int8" and meta["sha256"] == pte["sha256"]
    assert meta["inputs"] == [{"name": "x", "shape": [1, 1, 28, 28], "dtype": "float32", "scale": None,
                               "zero_point": None}]
    assert meta["outputs"][0]["shape"] == [1, 10] and meta["labels"][0] == "T-shirt/top"
    kotlin = (android / "app/src/main/java/dev/shrinkedge/ShrinkEdgeModel.kt").read_text()
    assert "org.pytorch.executorch.Module" in kotlin and '"fashion_mnist.metadata.json"' in kotlin
    gradle = (android / "shrink-edge.gradle.kts").read_text()
    assert 'add("implementation", "org.pytorch:executorch-android:' in gradle


def test_metadata_gives_the_verified_answers(apps):
    """Feed raw pixels the way the Kotlin helper does (normalized as the metadata says, in its shape)."""
    from executorch.runtime import Runtime

    android, _, report = apps
    assets = android / "app/src/main/assets"
    meta = json.loads((assets / "fashion_mnist.metadata.json").read_text())
    norm, shape = meta["normalization"], meta["inputs"][0]["shape"]
    method = Runtime.get().load_program(str(assets / meta["model"])).load_method("forward")
    with np.load(sample.HELDOUT) as f:
        pixels, labels = f["x"].astype(np.float32), f["y"]
    hits = 0
    for x, y in zip(pixels, labels):
        feed = torch.from_numpy((x * norm["scale"] + norm["offset"]).reshape(shape).astype(np.float32))
        hits += int(method.execute([feed])[0].numpy().argmax() == y)
    pte = next(a for a in report["artifacts"] if a["format"] == "executorch-int8")
    assert hits / len(labels) == pte["metrics"]["accuracy"]


def test_ios_project_gets_the_pte_and_the_swift_helper(apps):
    _, ios, _ = apps
    assert (ios / "ShrinkEdge/Resources/fashion_mnist.int8.pte").is_file()
    swift = (ios / "ShrinkEdge/ShrinkEdgeModel.swift").read_text()
    assert "import ExecuTorch" in swift and '"fashion_mnist.metadata"' in swift
    outputs = (ios / "shrink-edge-outputs.xcfilelist").read_text().split()
    assert sorted(Path(p).name for p in outputs) == ["fashion_mnist.int8.pte", "fashion_mnist.metadata.json"]


def test_the_gradle_command_with_nothing_changed_touches_no_file(apps):
    android, ios, _ = apps
    snippet = (android / "shrink-edge.gradle.kts").read_text()
    workdir = re.search(r'workingDir = rootProject.file\("(.*)"\)', snippet).group(1)
    command = re.findall(r'"((?:[^"\\]|\\.)*)"', re.search(r"commandLine\(listOf\((.*)\)\)", snippet).group(1))
    before = {p: p.stat().st_mtime_ns for p in [*android.rglob("*"), *ios.rglob("*")] if p.is_file()}
    done = subprocess.run([CLI, *command[1:], "--json"], cwd=(android / workdir).resolve(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reused"] is True
    assert {p: p.stat().st_mtime_ns for p in [*android.rglob("*"), *ios.rglob("*")] if p.is_file()} == before
