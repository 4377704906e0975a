"""Times an LLM artifact in its runtime's own prefill/decode loop: load, a warm-up, prefill of a 128-token prompt
(its time is the time to first token), decode tokens/s at 128 and 512 tokens of context, peak resident memory.

Standalone on purpose (numpy and the runtime only), like devices/runner.py: the host runs it as
`python -m shrink_edge.profiling.llm_runner` with the backend's session; `shrink-edge profile --device emulator|adb`
pushes it to the device with the backend's standalone session module (`--session FILE`) and runs it there. Prints
the figures as JSON on its last line, or {"skipped": reason} where the runtime does not run on this machine."""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

PROMPT = 128
CONTEXTS = (128, 512)
DECODED = 32  # tokens timed per decode measurement


def measure(open_session, threads: int, vocab: int, context: int) -> dict:
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    session = open_session(threads)
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


def _session_class(path: Path, module_file: str | None):
    """The Session of the file given (on a device), else of the backend that writes such artifacts (the host)."""
    if module_file:
        spec = importlib.util.spec_from_file_location("_shrink_edge_llm_session", module_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.Session
    from shrink_edge.workflows.generate import backend_for

    return backend_for(path).llm.session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifact", type=Path)
    parser.add_argument("threads", type=int)
    parser.add_argument("vocab", type=int)
    parser.add_argument("context", type=int)
    parser.add_argument("--session", help="a standalone module whose Session runs the artifact (on a device)")
    args = parser.parse_args()
    session = _session_class(args.artifact, args.session)
    if args.session:
        quiet = contextlib.nullcontext()
    else:
        from shrink_edge.progress import native_logs_quiet

        quiet = native_logs_quiet()
    try:
        with quiet:
            result = measure(lambda threads: session(args.artifact, threads), args.threads, args.vocab, args.context)
    except Exception as e:  # a runtime that does not run here (Core ML off macOS) says so, in one line
        if type(e).__name__ != "PredictionUnavailable":
            raise
        result = {"skipped": str(e)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
