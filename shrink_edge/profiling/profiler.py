"""Latency and memory of artifacts on the host runtimes and on adb devices (phones, boards, the emulated phone).
Several artifacts are measured interleaved in one run and compared as ratios; several devices run in parallel,
then the host alone, so that its figures are not disturbed. The conditions go with every figure."""
from __future__ import annotations

import statistics
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .devices import runner
from ..errors import UserError
from ..engine.versions import tool_versions

NOISY_SPREAD = 0.25  # (p90 - p50) / p50 above this: the figure is flagged as noisy
EMULATED_NOTE = "emulated by qemu-user: proves the path works; the times are not the latency of any real device"


def parse_device(spec: str) -> tuple[str, str | None]:
    kind, _, serial = spec.partition(":")
    if kind in ("local", "emulator") and not serial or kind == "adb":
        return kind, serial or None
    raise UserError(f"unknown --device '{spec}': use local, emulator, adb (the only attached device) or adb:SERIAL")


def _summarize(entry: dict, warmup: int) -> dict:
    times = sorted(entry["times_ms"])
    p50, p90 = float(np.percentile(times, 50)), float(np.percentile(times, 90))
    return {"artifact": entry["artifact"], "runtime": entry["runtime"], "runs": len(times), "warmup": warmup,
            "init_ms": round(entry["init_ms"], 3), "first_ms": round(entry["first_ms"], 3),
            "min_ms": round(times[0], 4), "p50_ms": round(p50, 4), "p90_ms": round(p90, 4),
            "std_ms": round(statistics.stdev(times), 4), "memory_mb": round(entry["memory_mb"], 1),
            "peak_memory_mb": round(entry["peak_memory_mb"], 1), "noisy": (p90 - p50) / p50 > NOISY_SPREAD}


def _local(paths: list[Path], runs: int, warmup: int, threads: int) -> tuple[dict, list[dict]]:
    try:
        entries = runner.measure(paths, runs, warmup, threads)
    except runner.RunnerError as e:
        raise UserError(str(e)) from None
    facts = runner.facts(threads)
    facts["versions"] = {**tool_versions(), **facts["versions"]}
    return facts, entries


def _on_adb(kind: str, serial: str | None, paths, runs, warmup, threads, benchmark_model, phone_root):
    from .devices import phone, remote
    from .devices.adb import Adb

    with phone.emulated_phone(phone_root) if kind == "emulator" else nullcontext(Adb(serial)) as adb:
        adb.check()
        if benchmark_model is not None:
            return remote.run_benchmark_model(adb, Path(benchmark_model), paths, runs, warmup, threads)
        return remote.run_runner(adb, paths, runs, warmup, threads)


def _profile_one(spec: str, paths, runs, warmup, threads, benchmark_model, phone_root, instructions) -> dict:
    kind, serial = parse_device(spec)
    if kind == "local":
        facts, entries = _local(paths, runs, warmup, threads)
    else:
        facts, entries = _on_adb(kind, serial, paths, runs, warmup, threads, benchmark_model, phone_root)
    results = [_summarize(e, warmup) if "times_ms" in e else e for e in entries]
    if instructions:  # profile() allows it on the host only
        from .instructions import per_inference

        for result in results:
            result["instructions"] = per_inference(Path(result["artifact"]))
    if all(r.get("p50_ms") for r in results):
        for result in results[1:]:
            result["p50_ratio_to_first"] = round(result["p50_ms"] / results[0]["p50_ms"], 3)
    conditions = {"device": spec, **facts, "emulated": kind == "emulator"}
    if kind == "emulator":
        conditions["note"] = EMULATED_NOTE
    return {"conditions": conditions, "results": results}


def profile(paths: list[Path], devices: tuple[str, ...] = ("local",), runs: int = 50, warmup: int = 10,
            threads: int = 1, benchmark_model: Path | None = None, phone_root: Path | None = None,
            instructions: bool = False) -> dict:
    """Profile artifacts on each device; adb devices in parallel, then the host on its own. `instructions` adds
    callgrind's count per inference for .tflite files on the host."""
    if runs < 5 or warmup < 0:
        raise UserError(f"--runs {runs} / --warmup {warmup}: give at least 5 runs and a non-negative warm-up")
    paths, devices = [Path(p) for p in paths], tuple(dict.fromkeys(devices))
    for path in paths:
        if not path.exists():
            raise UserError(f"artifact not found: {path}")
        if runner.runtime_of(path) is None:
            raise UserError(f"cannot profile {path}: no runtime here runs it; give a file of "
                            f"{', '.join(runner.timing_modules())} (.tflite, .onnx, .pte, OpenVINO IR, a .tflm bundle)")
    kinds = [parse_device(spec)[0] for spec in devices]
    if benchmark_model is not None and "local" in kinds:
        raise UserError("--benchmark-model runs on adb devices; profile --device local without it")
    if instructions and (kinds != ["local"] or any(path.suffix != ".tflite" for path in paths)):
        raise UserError("--instructions counts LiteRT (.tflite) on --device local only")
    remote = [spec for spec, kind in zip(devices, kinds) if kind != "local"]
    args = (paths, runs, warmup, threads, benchmark_model, phone_root, instructions)
    with ThreadPoolExecutor(max_workers=max(1, len(remote))) as pool:
        futures = {spec: pool.submit(_profile_one, spec, *args) for spec in remote}
        profiles = {spec: future.result() for spec, future in futures.items()}
    for spec in devices:
        if spec not in profiles:
            profiles[spec] = _profile_one(spec, *args)
    return {"profiles": [profiles[spec] for spec in devices]}



def profile_run(out: Path, manifest: dict, devices: tuple[str, ...], **options) -> dict:
    """Profile an export's artifacts on each device and record the figures in its manifest. adb devices get the
    files they can run (.tflite, .onnx, .pte); the host runs every kind."""
    from ..engine import manifest as manifest_io
    from .devices.remote import runs_on_devices

    files = [out / a["file"] for a in manifest["artifacts"] if runner.runtime_of(out / a["file"])]
    pushable = [f for f in files if f.is_file() and runs_on_devices(f)]
    remote = tuple(d for d in devices if parse_device(d)[0] != "local")
    profiles = profile(pushable, remote, **options)["profiles"] if remote else []
    if "local" in devices:
        profiles += profile(files, ("local",), **options)["profiles"]
    manifest["profiles"] = profiles
    manifest_io.write(out, manifest)
    return {"profiles": profiles}
