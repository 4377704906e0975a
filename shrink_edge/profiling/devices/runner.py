"""Times models in their runtime: load, first run, warm-up, then timed runs in which the models take turns, in blocks
of BLOCK calls and an order that rotates every round, so that drift on a shared machine hits them all alike while
each call finds the caches as an app calling one model does (with turns of one call, each of 8 digits models ran
22-34% slower on onnxruntime).

Every runtime is timed the same way, as LiteRT's benchmark_model and onnxruntime_perf_test do: the input is set
once and each timed call is the inference alone. Passing the input on every call (`sess.run(None, feed)`,
`request.infer({0: x})`) adds Python's conversion of feed and results: 3.5-10 µs a call on onnxruntime and 110-180
µs on OpenVINO (a new input tensor each call), measured on the digits models: up to a small model's whole inference.

Standalone on purpose (numpy and the runtimes only): `shrink-edge profile --device adb` pushes this file and the
backends' timing modules to the device and runs it there with the device's python3, naming them with --timing; the
host runs the same code in-process, with the modules the backends' registry declares (shrink_edge.backends).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

BLOCK = 10  # consecutive timed calls per model and round
# The CPU features int8 kernels use, as /proc/cpuinfo names them (x86: VNNI dot products, AVX-512; arm64: dot
# product and int8 matrix multiply): int8 speed-ups differ by machine with them more than with anything else.
INT8_ISA = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm", "sve")


class RunnerError(Exception):
    """A model that its runtime cannot load or run; the message is the runtime's own first line."""


def _memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def random_input(shape, dtype, quantized: bool = True) -> np.ndarray:
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


def timing_modules() -> dict:
    """Runtime -> the module that loads its files for timing, as the backends declare them (on the host only: a
    device's runner is given the files with --timing)."""
    from shrink_edge.backends import timing_modules as registered

    return registered()


def load_timing(files: list[Path]) -> dict:
    """The timing modules pushed beside this file on a device, by runtime."""
    modules = {}
    for file in files:
        spec = importlib.util.spec_from_file_location(f"_shrink_edge_timing_{file.stem}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[module.RUNTIME] = module
    return modules


def runtime_of(path: Path, modules: dict | None = None) -> str | None:
    """Which runtime runs this file, by its kind; None if no runtime here does."""
    return next((name for name, module in (modules or timing_modules()).items() if module.claims(path)), None)


@contextlib.contextmanager
def silenced():
    """Runtimes print on file descriptors 1 and 2 while loading (ExecuTorch's XNNPACK probing the CPU, TFLM asked
    for an input past its last): silenced, so that the runner's output is its own; failures still raise."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def measure(paths: list[Path], runs: int, warmup: int, threads: int, modules: dict | None = None) -> list[dict]:
    """Raw timings per model, in milliseconds."""
    modules, entries = modules or timing_modules(), []
    for path in paths:
        runtime = runtime_of(path, modules)
        before = _memory_mb("VmRSS")
        start = time.perf_counter()
        try:
            with silenced():
                run = modules[runtime].load(path, threads, random_input)
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


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """This CPU's features as /proc/cpuinfo (or the `cpuinfo` text given) lists them: x86 "flags", arm64
    "Features"; none where it cannot be read."""
    lines = (_cpuinfo() if cpuinfo is None else cpuinfo).splitlines()
    return next((line.split(":", 1)[1].split() for line in lines if line.split(":")[0].strip() in ("flags",
                                                                                               "Features")), [])


def facts(threads: int, modules: dict | None = None) -> dict:
    """What the figures depend on: CPU, cores, threads, load and runtime versions."""
    cpuinfo = _cpuinfo()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                if line.split(":")[0].strip() in ("model name", "Hardware", "Processor")), "") or platform.processor()
    flags = cpu_flags(cpuinfo)
    versions = {}
    for package in (module.PACKAGE for module in (modules or timing_modules()).values()):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"machine": platform.machine(), "cpu": cpu or platform.machine(), "cores": os.cpu_count(),
            "int8_isa": [flag for flag in INT8_ISA if flag in flags],
            "threads": threads, "load_average": [round(v, 2) for v in os.getloadavg()],
            "python": platform.python_version(), "versions": versions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--timing", type=Path, action="append", required=True, help="a backend's timing module")
    args = parser.parse_args(argv)
    modules = load_timing(args.timing)
    try:
        entries = measure(args.models, args.runs, args.warmup, args.threads, modules)
    except RunnerError as e:
        print(e, file=sys.stderr)  # the caller reports this last line
        return 1
    args.out.write_text(json.dumps({"facts": facts(args.threads, modules), "entries": entries}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
