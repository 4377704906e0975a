"""Latency and memory of artifacts on the host runtimes: warm-up, then timed runs, interleaved when several
artifacts are compared so that drift on a shared machine hits them all alike; the conditions go with the figures."""
from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import UserError
from .versions import tool_versions

NOISY_SPREAD = 0.25  # (p90 - p50) / p50 above this: the figure is flagged as noisy


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _random_input(shape, dtype) -> np.ndarray:
    shape = [int(d) if int(d) > 0 else 1 for d in shape]
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.random(shape, dtype=np.float32)


def _litert(path: Path, threads: int) -> Callable[[], None]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], _random_input(detail["shape"], detail["dtype"]))
    return interpreter.invoke


def _onnxruntime(path: Path, threads: int) -> Callable[[], None]:
    from .runtimes.onnxruntime_runner import session

    sess = session(path, threads)
    inp = sess.get_inputs()[0]
    feed = {inp.name: _random_input([d if isinstance(d, int) else 1 for d in inp.shape], np.float32)}
    return lambda: sess.run(None, feed)


def _openvino(path: Path, threads: int) -> Callable[[], None]:
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path / "model.xml" if path.is_dir() else path)), "CPU",
                                  {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    shape = [d.get_length() if d.is_static else 1 for d in compiled.input(0).get_partial_shape()]
    x = _random_input(shape, np.float32)
    return lambda: request.infer({0: x})


def _tflm(path: Path, threads: int) -> Callable[[], None]:
    import json

    from tflite_micro import runtime

    info = json.loads((path / "tflm.json").read_text())
    interpreter = runtime.Interpreter.from_bytes((path / "model.tflite").read_bytes(), arena_size=info["arena_bytes"])
    detail = interpreter.get_input_details(0)
    interpreter.set_input(_random_input(detail["shape"], detail["dtype"]), 0)
    return interpreter.invoke


def loader(path: Path) -> tuple[str, Callable[[Path, int], Callable[[], None]]]:
    """Which runtime runs this file, by its kind."""
    if path.suffix == ".tflite":
        return "litert", _litert
    if path.suffix == ".onnx":
        return "onnxruntime", _onnxruntime
    if path.suffix == ".xml" or (path / "model.xml").is_file():
        return "openvino", _openvino
    if (path / "tflm.json").is_file():
        return "tflm", _tflm
    raise UserError(f"cannot profile {path}: give a .tflite, .onnx, OpenVINO IR (.xml or its folder) or a .tflm bundle")


def conditions(threads: int) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"device": "local", "cpu": cpu, "cores": os.cpu_count(), "threads": threads,
            "load_average": [round(v, 2) for v in os.getloadavg()], "versions": tool_versions(),
            "python": platform.python_version()}


def profile(paths: list[Path], runs: int = 50, warmup: int = 10, threads: int = 1) -> dict:
    """Profile one or more artifacts; with several, rounds rotate through them and ratios are to the first."""
    if runs < 5 or warmup < 0:
        raise UserError(f"--runs {runs} / --warmup {warmup}: give at least 5 runs and a non-negative warm-up")
    entries = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise UserError(f"artifact not found: {path}")
        runtime, load = loader(path)
        before = _rss_mb()
        start = time.perf_counter()
        try:
            run = load(path, threads)
            loaded = time.perf_counter()
            run()
        except UserError:
            raise
        except Exception as e:  # the runtime's own words: corrupt or unsupported file
            first = (str(e).strip().splitlines() or [""])[0]
            raise UserError(f"{runtime} cannot run {path}: {type(e).__name__}: {first}") from None
        entries.append({"artifact": str(path), "runtime": runtime, "run": run,
                        "init_ms": (loaded - start) * 1e3, "first_ms": (time.perf_counter() - loaded) * 1e3,
                        "memory_mb": _rss_mb() - before, "times": []})
    for entry in entries:
        for _ in range(warmup):
            entry["run"]()
    for r in range(runs):
        for entry in entries[r % len(entries):] + entries[:r % len(entries)]:
            start = time.perf_counter()
            entry["run"]()
            entry["times"].append((time.perf_counter() - start) * 1e3)
    results = []
    for entry in entries:
        times = sorted(entry["times"])
        p50, p90 = float(np.percentile(times, 50)), float(np.percentile(times, 90))
        results.append({"artifact": entry["artifact"], "runtime": entry["runtime"], "runs": runs, "warmup": warmup,
                        "init_ms": round(entry["init_ms"], 3), "first_ms": round(entry["first_ms"], 3),
                        "min_ms": round(times[0], 4), "p50_ms": round(p50, 4), "p90_ms": round(p90, 4),
                        "std_ms": round(statistics.stdev(times), 4),
                        "memory_mb": round(entry["memory_mb"], 1), "noisy": (p90 - p50) / p50 > NOISY_SPREAD})
    for result in results[1:]:
        result["p50_ratio_to_first"] = round(result["p50_ms"] / results[0]["p50_ms"], 3)
    return {"conditions": conditions(threads), "results": results}
