"""Speed and memory of an LLM artifact in its own runtime, as a phone or laptop app runs it: prefill tokens/s of a
128-token prompt (its time is the time to first token), decode tokens/s at 128 and 512 tokens of context, peak
resident memory, at each thread count, on this machine or an adb device (llm_runner.py measures). Each (artifact,
threads) runs in a fresh process, so its peak RSS is its own. Decode reads every weight once per token, so memory
bandwidth bounds it: `bandwidth_fraction` is the decode speed over (this machine's copy bandwidth / the artifact's
weight bytes)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def bandwidth_bytes_per_s(megabytes: int = 256) -> float:
    """Memory copy bandwidth (bytes read + written per second), best of five copies of a buffer far larger than
    any cache."""
    source = np.ones(megabytes * 2 ** 20 // 8)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return 2 * source.nbytes / best


def weight_bytes(artifact: Path) -> int:
    """The bytes a decode step reads: the file, the IR's .bin beside its .xml, or a package folder's files."""
    if artifact.is_dir():
        return sum(f.stat().st_size for f in artifact.rglob("*") if f.is_file())
    return (artifact.with_suffix(".bin") if artifact.suffix == ".xml" else artifact).stat().st_size


def profile_llm(artifact: Path, threads: tuple[int, ...] = (1, 2), bandwidth: float | None = None,
                device: str = "local", phone_root: Path | None = None) -> dict:
    """Every thread count in a fresh process (llm_runner.py), on this machine or an adb device (the emulated phone:
    `emulator`); the artifact's size, and on this machine its bandwidth bound beside."""
    from transformers import AutoConfig

    from .profiler import EMULATED_NOTE, parse_device

    kind, serial = parse_device(device)
    config = AutoConfig.from_pretrained(artifact.parent / "tokenizer", local_files_only=True)
    weights = weight_bytes(artifact)
    shape = [str(config.vocab_size), str(config.max_position_embeddings)]
    if kind == "local":
        runs = [_run([sys.executable, "-m", "shrink_edge.profiling.llm_runner", str(artifact), str(count), *shape],
                     artifact) for count in threads]
    else:
        runs = _on_device(kind, serial, artifact, threads, shape, phone_root)
    if skipped := next((r["skipped"] for r in runs if "skipped" in r), None):  # the runtime does not run here
        return {"artifact": artifact.name, "size_bytes": weights, "device": device, "skipped": skipped}
    result = {"artifact": artifact.name, "size_bytes": weights, "device": device, "runs": runs}
    if kind != "local":
        return {**result, "emulated": kind == "emulator", **({"note": EMULATED_NOTE} if kind == "emulator" else {})}
    bandwidth = bandwidth or bandwidth_bytes_per_s()
    for run in runs:
        run["bandwidth_fraction"] = round(run["decode_tokens_per_s"] * weights / bandwidth, 3)
    return {**result, "bandwidth_bytes_per_s": round(bandwidth), "bandwidth_bound_tokens_per_s":
            round(bandwidth / weights, 1)}


def _run(command: list[str], artifact: Path) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"profiling {artifact.name} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _on_device(kind: str, serial: str | None, artifact: Path, threads, shape: list[str], phone_root) -> list[dict]:
    """The device's python3 runs llm_runner.py with the backend's standalone session beside it."""
    from contextlib import nullcontext

    from ..errors import DeviceError
    from ..workflows.generate import backend_for
    from . import llm_runner
    from .devices import phone
    from .devices.adb import Adb
    from .devices.remote import RemoteFolder

    backend = backend_for(artifact)
    module = backend.llm.device_session
    if module is None or not artifact.is_file():
        raise DeviceError(f"{artifact.name}: {backend.name}'s language models are profiled on this machine only "
                          "(no standalone session for devices yet)")
    with phone.emulated_phone(phone_root) if kind == "emulator" else nullcontext(Adb(serial)) as adb:
        adb.check()
        with RemoteFolder(adb) as folder:
            python = adb.shell(["sh", "-c", "command -v python3 || true"], "looking for python3").strip()
            if not python:
                raise DeviceError(f"device {adb.name} has no python3 to run {backend.name} on")
            adb.push(artifact, f"{folder}/{artifact.name}")
            adb.push(Path(llm_runner.__file__), f"{folder}/llm_runner.py")
            adb.push(Path(module.__file__), f"{folder}/session.py")
            return [json.loads(adb.shell([python, f"{folder}/llm_runner.py", f"{folder}/{artifact.name}", str(count),
                                          *shape, "--session", f"{folder}/session.py"],
                                         f"profiling {artifact.name}", timeout=None).strip().splitlines()[-1])
                    for count in threads]
