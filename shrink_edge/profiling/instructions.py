"""Instructions per inference, counted by valgrind's callgrind inside LiteRT's `tflite::Subgraph::Invoke()`: a
figure that does not move with the machine's load (repeatable to the instruction). It is a count of instructions,
never cycles or time. The runner is counted twice, with N and 2N runs, and the difference divided by N, so that
the first run's one-off work and everything outside Invoke drop out."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .devices import runner
from ..errors import UserError

TOGGLE = "tflite::Subgraph::Invoke()"
RUNS = 5


def _count(path: Path, runs: int, folder: Path) -> int:
    out = folder / f"callgrind.{runs}.out"
    done = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={TOGGLE}",
                           f"--callgrind-out-file={out}", sys.executable, runner.__file__, str(path), "--runs",
                           str(runs), "--warmup", "0", "--out", str(folder / "result.json"),
                           "--timing", runner.timing_modules()["litert"].__file__],
                          capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"callgrind could not run {path}: {last}")
    found = re.search(r"^summary:\s*(\d+)", out.read_text(), re.MULTILINE)
    return int(found.group(1)) if found else 0


def per_inference(path: Path) -> int:
    if path.suffix != ".tflite":
        raise UserError(f"--instructions counts LiteRT (.tflite) only, not {path.name}")
    if shutil.which("valgrind") is None:
        raise UserError("--instructions needs valgrind: apt install valgrind")
    with tempfile.TemporaryDirectory() as folder:
        once, twice = _count(path, RUNS, Path(folder)), _count(path, 2 * RUNS, Path(folder))
    if twice <= once:
        raise UserError(f"callgrind saw no {TOGGLE} calls for {path}: this LiteRT build hides the symbol")
    return round((twice - once) / RUNS)
