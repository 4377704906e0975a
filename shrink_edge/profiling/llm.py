"""Speed and memory of an LLM artifact in its own runtime, as a phone or laptop app runs it: prefill tokens/s of a
128-token prompt (its time is the time to first token), decode tokens/s at 128 and 512 tokens of context, peak
resident memory, at each thread count. Each (artifact, threads) runs in a fresh process, so its peak RSS is its
own. Decode reads every weight once per token, so memory bandwidth bounds it: `bandwidth_fraction` is the decode
speed over (this machine's copy bandwidth / the artifact's weight bytes)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROMPT = 128
CONTEXTS = (128, 512)
DECODED = 32  # tokens timed per decode measurement


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


def measure(artifact: Path, threads: int, vocab: int, context: int) -> dict:
    """In this process: load, a warm-up, then prefill and decode timings."""
    from ..workflows.generate import backend_for

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    session = backend_for(artifact).llm.session(artifact, threads)
    figures = {"threads": threads, "load_ms": round(1000 * (time.perf_counter() - start), 1)}
    prompt = rng.integers(0, vocab, PROMPT).tolist()
    session.reset()
    session.prefill(prompt[:16])  # warm-up: kernels chosen, buffers allocated
    session.decode(1)
    session.reset()
    start = time.perf_counter()
    session.prefill(prompt)
    prefill = time.perf_counter() - start
    figures.update(prefill_tokens_per_s=round(PROMPT / prefill, 1), time_to_first_token_ms=round(1000 * prefill, 1))
    for length in CONTEXTS:
        if length > context:
            figures[f"decode_tokens_per_s_at_{length}"] = None
            continue
        session.reset()
        session.prefill(rng.integers(0, vocab, length - DECODED).tolist())
        start = time.perf_counter()
        token = 1
        for _ in range(DECODED):
            token = int(session.decode(token).argmax())
        figures[f"decode_tokens_per_s_at_{length}"] = round(DECODED / (time.perf_counter() - start), 1)
    figures["decode_tokens_per_s"] = figures[f"decode_tokens_per_s_at_{CONTEXTS[0]}"]
    figures["peak_rss_bytes"] = _peak_rss()
    return figures


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def profile_llm(artifact: Path, threads: tuple[int, ...] = (1, 2), bandwidth: float | None = None) -> dict:
    """Every thread count in a fresh process; the artifact's size, bits and bandwidth bound beside."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(artifact.parent / "tokenizer", local_files_only=True)
    bandwidth = bandwidth or bandwidth_bytes_per_s()
    weights = weight_bytes(artifact)
    runs = []
    for count in threads:
        command = [sys.executable, "-m", "shrink_edge.profiling.llm", str(artifact), str(count),
                   str(config.vocab_size), str(config.max_position_embeddings)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode:
            raise RuntimeError(f"profiling {artifact.name} failed: {done.stderr.strip().splitlines()[-1:]}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        if "skipped" in run:  # the runtime does not run on this machine
            return {"artifact": artifact.name, "size_bytes": weights, "skipped": run["skipped"]}
        run["bandwidth_fraction"] = round(run["decode_tokens_per_s"] * weights / bandwidth, 3)
        runs.append(run)
    return {"artifact": artifact.name, "size_bytes": weights, "bandwidth_bytes_per_s": round(bandwidth),
            "bandwidth_bound_tokens_per_s": round(bandwidth / weights, 1), "runs": runs}


if __name__ == "__main__":  # one measurement, JSON on the last line of stdout
    from ..progress import native_logs_quiet

    path, count, vocab, context = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    from ..errors import PredictionUnavailable

    try:
        with native_logs_quiet():
            result = measure(path, count, vocab, context)
    except PredictionUnavailable as e:
        result = {"skipped": str(e)}
    print(json.dumps(result))
