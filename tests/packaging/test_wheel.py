"""The wheel is the product: built from this checkout and installed into a fresh virtual environment with the core
dependencies only (torch first, from the local CPU build, as scripts/setup.sh does), it lists its targets and exports
and verifies the bundled sample from a folder outside the checkout, and refuses a target whose extra it lacks."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "out",
                              ".bench*", ".peers")


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The `shrink-edge` command of a fresh environment holding the wheel and its core dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(ROOT, source, ignore=SKIP)  # a clean copy: no stale build/ folder leaks into the wheel
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root / "dist",
                source, cwd=root)
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("shrink_edge-*.whl")
    base = Path(getattr(sys, "_base_executable", sys.executable))
    venv = root / "venv"
    for step in ([base, "-m", "venv", venv],
                 [venv / "bin/python", "-m", "pip", "install", "-q", "torch==2.13.0"],
                 [venv / "bin/python", "-m", "pip", "install", "-q", wheel]):
        done = run(*step, cwd=root)
        assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin" / "shrink-edge"


def test_the_wheel_holds_the_core_only(installed):
    listed = run(installed.parent / "python", "-m", "pip", "list", "--format=json", cwd=installed.parent)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"onnxruntime", "torchao", "litert-torch"} <= names
    assert not names & {"openvino", "coremltools", "executorch", "tflite-micro", "ethos-u-vela"}


def test_the_wheel_lists_its_targets_and_what_each_needs(installed, tmp_path):
    done = run(installed, "targets", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    needs = {name: spec["needs_extras"] for name, spec in json.loads(done.stdout).items()}
    assert needs["onnx"] == [] and needs["tflite"] == []
    assert needs["openvino"] == ["openvino"] and needs["cortex-m4"] == ["mcu"] and needs["coreml"] == ["coreml"]


def test_the_wheel_exports_and_verifies_the_sample_outside_the_checkout(installed, tmp_path):
    done = run(installed, "export", "--target", "onnx", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no converter banner
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    int8 = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert int8["metrics"]["agreement"] > 0.95 and (tmp_path / "out" / int8["file"]).is_file()
    assert "fashion_mnist.int8.onnx" in done.stdout  # the table, whole, though stdout is a pipe
    assert "SQNR" in done.stdout and "…" not in done.stdout


def test_the_wheel_refuses_a_target_whose_extra_it_lacks(installed, tmp_path):
    done = run(installed, "export", "--target", "openvino", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: target openvino needs: pip install 'shrink-edge[openvino]'"
    assert not (tmp_path / "out").exists()
