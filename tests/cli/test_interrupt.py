"""Ctrl-C during an export: one line, exit code 130, and nothing written to the output folder."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CLI = Path(sys.executable).with_name("shrink-edge")


def test_ctrl_c_says_so_and_writes_nothing(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    process = subprocess.Popen([str(CLI), "export", "--target", "onnx", "--out", str(out)],
                               env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(cache)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not cache.exists() and time.monotonic() < deadline:  # the first pass has started
        time.sleep(0.05)
    assert cache.exists(), "the export never reached its first pass"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["error: interrupted: nothing was written (the output folder holds what it "
                                           "held before)"]
    assert not out.exists()
