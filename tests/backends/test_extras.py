"""A target whose backend's extra is not installed: one line naming the pip install, exit 2, nothing written; a group
builds the members this install can run and names the others. The backend's import is made to fail in a subprocess,
as it fails where the extra was never installed."""
import json
import subprocess
import sys

from conftest import tiny_args

BLOCKED = "import sys\nfor name in {modules!r}: sys.modules[name] = None  # as if never installed\n" \
          "from shrink_edge.cli import app\napp({args!r})\n"


def run_without(modules: list[str], *args, cwd=None) -> subprocess.CompletedProcess:
    code = BLOCKED.format(modules=modules, args=[str(a) for a in args])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)


def test_a_target_without_its_extra_is_refused_in_one_line(tmp_path):
    out = tmp_path / "out"
    done = run_without(["openvino"], "export", "--target", "openvino", "--out", out)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: target openvino needs: pip install 'shrink-edge[openvino]'"
    assert not out.exists()


def test_targets_lists_what_this_install_lacks():
    done = run_without(["tflite_micro"], "targets", "--json")
    assert done.returncode == 0, done.stderr
    needs = {name: spec["needs_extras"] for name, spec in json.loads(done.stdout).items()}
    assert needs["cortex-m4"] == ["mcu"] and needs["all"] == ["mcu"]
    assert needs["onnx"] == [] and needs["tflite"] == []


def test_a_group_builds_the_members_it_can_and_names_the_others(tmp_path, tiny_model):
    group = tmp_path / "pair.toml"
    group.write_text('description = "onnx and openvino"\ninclude = ["onnx", "openvino"]\n')
    out = tmp_path / "out"
    done = run_without(["openvino"], "export", "--target", group, *tiny_args(tiny_model), "--out", out, "--json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["refused"] == {"openvino": "needs: pip install 'shrink-edge[openvino]'"}
    assert {a["format"] for a in manifest["artifacts"]} == {"onnx", "onnx-int8"}
