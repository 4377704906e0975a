"""Reads the text that TFLite's `benchmark_model` prints (stock phones have no Python; users push that binary).

Both generations of its output are understood: plain lines, and lines prefixed `INFO: ` (or logcat's `I tflite  : `)
that add p5/median/p95 to the counts. Times there are microseconds, some in exponent form (2.95e+06)."""
from __future__ import annotations

import re

from ...errors import DeviceError

_NUMBER = r"([0-9.]+(?:e[+-]?[0-9]+)?)"
_COUNTS = re.compile(r"count=(\d+)(?: first=" + _NUMBER + r")? curr=" + _NUMBER + r"(?: min=" + _NUMBER
                     + r" max=" + _NUMBER + r" avg=" + _NUMBER + r" std=" + _NUMBER + r")?(?: p5=" + _NUMBER
                     + r" median=" + _NUMBER + r" p95=" + _NUMBER + r")?")
_SUMMARY = re.compile(r"Inference timings in us: Init: " + _NUMBER + r", First inference: " + _NUMBER
                      + r", Warmup \(avg\): " + _NUMBER + r", Inference \(avg\): " + _NUMBER)
_MEMORY = re.compile(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): init="
                     + _NUMBER + r" overall=" + _NUMBER)


def parse(text: str) -> dict:
    """Figures in milliseconds; median is only in newer versions' output (else None)."""
    summary = _SUMMARY.search(text)
    counts = [m for m in _COUNTS.finditer(text) if m.group(4)]  # the timed runs' line has min/max/avg
    if summary is None or not counts:
        last = next((line for line in reversed(text.strip().splitlines()) if line.strip()), "no output")
        raise DeviceError(f"benchmark_model gave no timings: {last.strip()}")
    timed = counts[-1]
    ms = lambda group: float(group) / 1e3 if group is not None else None  # noqa: E731
    memory = _MEMORY.search(text)
    return {"runs": int(timed.group(1)), "init_ms": ms(summary.group(1)), "first_ms": ms(summary.group(2)),
            "min_ms": ms(timed.group(4)), "max_ms": ms(timed.group(5)), "avg_ms": ms(timed.group(6)),
            "std_ms": ms(timed.group(7)), "p50_ms": ms(timed.group(9)), "p95_ms": ms(timed.group(10)),
            "memory_mb": float(memory.group(2)) if memory else None}
