"""Artifacts are written with the user's umask, so that an app build run as another user can read them."""
import os
import stat

from conftest import run_cli, tiny_args


def modes(folder):
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def test_files_and_folders_follow_the_umask(tmp_path, tiny_model):
    old = os.umask(0o027)
    try:
        result = run_cli("export", "--target", "cortex-m4", *tiny_args(tiny_model), "--out", tmp_path / "out")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    found = modes(tmp_path / "out")
    assert found["manifest.json"] == 0o640
    assert found["tiny_net.tflm"] == 0o750  # a folder artifact
    assert found["tiny_net.tflm/model.tflite"] == 0o640
    assert set(found.values()) == {0o640, 0o750}
