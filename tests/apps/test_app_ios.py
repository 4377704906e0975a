"""iOS: the .mlpackage and metadata for Xcode, and the Run Script build phase executed for real."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

CLI = str(Path(sys.executable).with_name("shrink-edge"))


@pytest.fixture(scope="module")
def ios(tmp_path_factory):
    project = tmp_path_factory.mktemp("ios")
    out = tmp_path_factory.mktemp("ios_out") / "out"
    result = run_cli("export", "--target", "coreml", "--ios-project", project, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return project, json.loads(result.stdout)


def test_resources_swift_helper_and_file_lists(ios):
    project, report = ios
    resources = project / "ShrinkEdge/Resources"
    assert (resources / "fashion_mnist.int8.mlpackage/Manifest.json").is_file()
    meta = json.loads((resources / "fashion_mnist.metadata.json").read_text())
    assert meta["format"] == "coreml-int8" and meta["labels"][0] == "T-shirt/top"
    assert "fashion_mnist.metadata" in (project / "ShrinkEdge/ShrinkEdgeModel.swift").read_text()
    inputs = (project / "shrink-edge-inputs.xcfilelist").read_text().split()
    outputs = (project / "shrink-edge-outputs.xcfilelist").read_text().split()
    assert any(p.endswith("weights.safetensors") for p in inputs)
    assert sorted(Path(p).name for p in outputs) == ["fashion_mnist.int8.mlpackage", "fashion_mnist.metadata.json"]
    for p in inputs + outputs:
        assert (project / p.replace("$(SRCROOT)/", "")).exists()


def test_build_phase_script_runs_and_is_a_no_op(ios):
    project, _ = ios
    before = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()}
    done = subprocess.run(["/bin/sh", str(project / "shrink-edge-build-phase.sh"), "--json"],
                          env={**os.environ, "SHRINK_EDGE": CLI}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reused"] is True
    assert {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file()} == before


def test_bad_ios_project_path(tmp_path):
    (tmp_path / "file").write_text("")
    result = run_cli("export", "--target", "coreml", "--ios-project", tmp_path / "file", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "is not a folder" in result.stderr


def test_a_float16_package_lands_with_its_metadata(tmp_path):
    """--target coreml-fp16: the float16 .mlpackage is the one the project gets, its float inputs described."""
    result = run_cli("export", "--target", "coreml-fp16", "--ios-project", tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    meta = json.loads((tmp_path / "ShrinkEdge/Resources/fashion_mnist.metadata.json").read_text())
    assert meta["format"] == "coreml-fp16" and meta["model"] == "fashion_mnist.fp16.mlpackage"
    assert (tmp_path / "ShrinkEdge/Resources/fashion_mnist.fp16.mlpackage/Manifest.json").is_file()
    assert meta["inputs"][0]["dtype"] == "float32"
