"""Profiling on an adb device: push the models and a runner into a fresh folder under /data/local/tmp, run it there,
pull the result back, and always remove the folder."""
from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path

from ...errors import DeviceError
from . import benchmark_model, runner
from .adb import Adb

REMOTE_BASE = "/data/local/tmp"


class RemoteFolder:
    def __init__(self, adb: Adb):
        self.adb, self.path = adb, f"{REMOTE_BASE}/shrink-edge-{secrets.token_hex(4)}"

    def __enter__(self) -> str:
        self.adb.shell(["mkdir", "-p", self.path], "creating a work folder")
        return self.path

    def __exit__(self, *exc) -> None:
        try:
            self.adb.shell(["rm", "-rf", self.path], "removing the work folder", timeout=60)
        except DeviceError:
            if exc[0] is None:
                raise  # else the first error is the one worth reporting


def runs_on_devices(path: Path) -> bool:
    from ...backends import phone_timings

    return any(t.module.claims(path) for t in phone_timings())


def _push_models(adb: Adb, paths: list[Path], folder: str) -> list[str]:
    from ...backends import phone_timings

    remote = []
    for i, path in enumerate(paths):
        if not path.is_file() or not runs_on_devices(path):
            raise DeviceError(f"cannot run {path} on an adb device: only files of "
                              f"{', '.join(t.module.RUNTIME for t in phone_timings())} are pushed")
        target = f"{folder}/{i}-{path.name}"
        adb.push(path, target)
        remote.append(target)
    return remote


def run_runner(adb: Adb, paths: list[Path], runs: int, warmup: int, threads: int) -> tuple[dict, list[dict]]:
    """The device's python3 runs the profiler's runner.py with the backends' timing modules beside it: the same
    measurement as on the host, interleaved."""
    from ...backends import phone_timings

    abi = adb.abi()
    with RemoteFolder(adb) as folder:
        python = adb.shell(["sh", "-c", "command -v python3 || true"], "looking for python3").strip()
        if not python:
            raise DeviceError(f"device {adb.name} ({abi}) has no python3: push TFLite's benchmark_model and pass "
                              "--benchmark-model PATH")
        models = _push_models(adb, paths, folder)
        adb.push(Path(runner.__file__), f"{folder}/runner.py")
        timing = []
        for module in (t.module for t in phone_timings()):
            timing += ["--timing", f"{folder}/timing_{module.RUNTIME}.py"]
            adb.push(Path(module.__file__), timing[-1])
        result = f"{folder}/result.json"
        adb.shell([python, f"{folder}/runner.py", *models, "--runs", str(runs), "--warmup", str(warmup),
                   "--threads", str(threads), "--out", result, *timing], "running the models", timeout=None)
        with tempfile.TemporaryDirectory() as local:
            adb.pull(result, Path(local) / "result.json")
            payload = json.loads((Path(local) / "result.json").read_text())
    for entry, path in zip(payload["entries"], paths):
        entry["artifact"] = str(path)
    return {**payload["facts"], "abi": abi}, payload["entries"]


def run_benchmark_model(adb: Adb, binary: Path, paths: list[Path], runs: int, warmup: int,
                        threads: int) -> tuple[dict, list[dict]]:
    """A user's `benchmark_model` binary: one model at a time (it cannot interleave), its summary parsed."""
    if any(path.suffix != ".tflite" for path in paths):
        raise DeviceError("benchmark_model runs .tflite files only: profile .onnx files with the device's python3")
    if not binary.is_file():
        raise DeviceError(f"--benchmark-model {binary}: no such file (build or download TFLite's benchmark_model "
                          "for the device's ABI)")
    abi = adb.abi()
    results = []
    with RemoteFolder(adb) as folder:
        tool = f"{folder}/benchmark_model"
        adb.push(binary, tool)
        adb.shell(["chmod", "755", tool], "making benchmark_model executable")
        for path, model in zip(paths, _push_models(adb, paths, folder)):
            text = adb.shell([tool, f"--graph={model}", f"--num_threads={threads}", f"--num_runs={runs}",
                              f"--warmup_runs={warmup}", "--min_secs=0"], f"benchmark_model on {path.name}",
                             timeout=None)
            results.append({"artifact": str(path), "runtime": "benchmark_model", "warmup": warmup,
                            **benchmark_model.parse(text)})
    return {"abi": abi, "threads": threads, "runner": "benchmark_model"}, results
