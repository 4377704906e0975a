"""Times models in their runtime: load, first run, warm-up, then timed runs in which the models take turns, in blocks
of BLOCK calls and an order that rotates every round, so that drift on a shared machine hits them all alike while
each call finds the caches as an app calling one model does (with turns of one call, each of 8 digits models ran
22-34% slower on onnxruntime).

Every runtime is timed the same way, as LiteRT's benchmark_model and onnxruntime_perf_test do: the input is set
once and each timed call is the inference alone. Passing the input on every call (`sess.run(None, feed)`,
`request.infer({0: x})`) adds Python's conversion of feed and results: 3.5-10 µs a call on onnxruntime and 110-180
µs on OpenVINO (a new input tensor each call), measured on the digits models: up to a small model's whole inference.

Standalone on purpose (numpy and the runtimes only, no shrink_edge imports): `shrink-edge profile --device adb`
pushes this file to the device and runs it there with the device's python3; the host runs the same code in-process.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

BLOCK = 10  # consecutive timed calls per model and round
RUNTIME_PACKAGES = {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime", "openvino": "openvino",
                    "tflm": "tflite-micro"}


class RunnerError(Exception):
    """A model that its runtime cannot load or run; the message is the runtime's own first line."""


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _random_input(shape, dtype, quantized: bool = True) -> np.ndarray:
    """Random values for a float or quantized input; zeros for token ids, lengths and masks (random ones could
    index past an embedding table), True for a bool mask."""
    shape = [int(d) if int(d) > 0 else 1 for d in shape]
    rng = np.random.default_rng(0)
    if dtype == np.bool_:
        return np.ones(shape, np.bool_)
    if np.issubdtype(dtype, np.integer):
        if not quantized:
            return np.zeros(shape, dtype)
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.random(shape, dtype=np.float32).astype(dtype)


def _litert(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        quantized = detail["quantization"][0] != 0
        interpreter.set_tensor(detail["index"], _random_input(detail["shape"], detail["dtype"], quantized))
    return interpreter.invoke


def ort_session(path: Path, threads: int = 1):
    """An onnxruntime CPU session with `threads` intra-op threads (also what verification runs on the host)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnxruntime(path: Path, threads: int):
    sess = ort_session(path, threads)
    types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}
    binding = sess.io_binding()
    for inp in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        binding.bind_cpu_input(inp.name, _random_input(shape, types.get(inp.type, np.float32), quantized=False))
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    return lambda: sess.run_with_iobinding(binding)


def _openvino(path: Path, threads: int):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path / "model.xml" if path.is_dir() else path)), "CPU",
                                  {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    for i, port in enumerate(compiled.inputs):
        shape = [d.get_length() if d.is_static else 1 for d in port.get_partial_shape()]
        request.set_input_tensor(i, ov.Tensor(_random_input(shape, port.get_element_type().to_dtype(), False)))
    return request.infer


def _tflm(path: Path, threads: int):
    from tflite_micro import runtime

    info = json.loads((path / "tflm.json").read_text())
    interpreter = runtime.Interpreter.from_bytes((path / "model.tflite").read_bytes(), arena_size=info["arena_bytes"])
    for i, detail in enumerate(_tflm_inputs(interpreter)):
        quantized = len(detail["quantization_parameters"]["scales"]) > 0
        interpreter.set_input(_random_input(detail["shape"], detail["dtype"], quantized), i)
    return interpreter.invoke


def _tflm_inputs(interpreter) -> list[dict]:
    """Every input's details: TFLM has no input count, so ask until it says there is no such input (which it also
    prints on fd 1 and 2: silenced)."""
    details = []
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            while True:
                try:
                    details.append(interpreter.get_input_details(len(details)))
                except (IndexError, RuntimeError, ValueError):
                    return details
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


LOADERS = {"litert": _litert, "onnxruntime": _onnxruntime, "openvino": _openvino, "tflm": _tflm}


def runtime_of(path: Path) -> str | None:
    """Which runtime runs this file, by its kind; None if no runtime here does."""
    if path.suffix == ".tflite":
        return "litert"
    if path.suffix == ".onnx":
        return "onnxruntime"
    if path.suffix == ".xml" or (path / "model.xml").is_file():
        return "openvino"
    if (path / "tflm.json").is_file():
        return "tflm"
    return None


def measure(paths: list[Path], runs: int, warmup: int, threads: int) -> list[dict]:
    """Raw timings per model, in milliseconds."""
    entries = []
    for path in paths:
        runtime = runtime_of(path)
        before = _memory_mb("VmRSS")
        start = time.perf_counter()
        try:
            run = LOADERS[runtime](path, threads)
            loaded = time.perf_counter()
            run()
        except Exception as e:  # the runtime's own words: corrupt or unsupported file, or a missing runtime
            first = (str(e).strip().splitlines() or [""])[0]
            raise RunnerError(f"{runtime} cannot run {path}: {type(e).__name__}: {first}") from None
        entries.append({"artifact": str(path), "runtime": runtime, "run": run,
                        "init_ms": (loaded - start) * 1e3, "first_ms": (time.perf_counter() - loaded) * 1e3,
                        "memory_mb": _memory_mb("VmRSS") - before, "times_ms": []})
    for entry in entries:
        for _ in range(warmup):
            entry["run"]()
    for r in range(-(-runs // BLOCK)):
        for entry in entries[r % len(entries):] + entries[:r % len(entries)]:
            for _ in range(min(BLOCK, runs - r * BLOCK)):
                start = time.perf_counter()
                entry["run"]()
                entry["times_ms"].append((time.perf_counter() - start) * 1e3)
    peak = _memory_mb("VmHWM")
    for entry in entries:
        del entry["run"]
        entry["peak_memory_mb"] = peak
    return entries


def facts(threads: int) -> dict:
    """What the figures depend on: CPU, cores, threads, load and runtime versions."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        cpuinfo = []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.split(":")[0].strip() in ("model name", "Hardware", "Processor")), "") or platform.processor()
    versions = {}
    for package in RUNTIME_PACKAGES.values():
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"machine": platform.machine(), "cpu": cpu or platform.machine(), "cores": os.cpu_count(),
            "threads": threads, "load_average": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(), "versions": versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        entries = measure(args.models, args.runs, args.warmup, args.threads)
    except RunnerError as e:
        print(e, file=sys.stderr)  # the caller reports this last line
        return 1
    args.out.write_text(json.dumps({"facts": facts(args.threads), "entries": entries}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
