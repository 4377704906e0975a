"""`fallback = "auto"`: when int8 artifacts break their budget, keep the layers the debugger ranks worst in float,
one at a time, until the budget holds, and measure what each step costs in size and latency.

The ranking is measured once, on the program that broke the budget (layer_debug); each step adds the next layer
that gains anything to keep_float, rebuilds every artifact from the new int8 program and verifies them all again.
"""
from __future__ import annotations

from dataclasses import replace

from ..backends import FORMATS
from ..errors import UserError
from ..files import size_bytes
from ..verify.metrics import rounded

LATENCY_RUNS = 50


def fall_back(job, ctx, evaluation, cache, first, verified, max_layers: int):
    """Returns the attempt whose outputs hold the budget (else the last one tried) and the record of every step."""
    from .debug import diagnosis

    found, caveat = diagnosis(job, ctx, evaluation, cache)
    candidates = [s.layer for s in found.ranked() if found.gain_db(s) > 0][:max_layers]
    keep, attempts = list(ctx.quantization.keep_float), [(tuple(ctx.quantization.keep_float), first)]
    chosen = first
    for layer in candidates:
        keep.append(layer)
        ctx.steps.note(f"fallback: keeping {', '.join(keep)} in float")
        chosen = verified(replace(ctx, quantization=replace(ctx.quantization, keep_float=tuple(keep))))
        attempts.append((tuple(keep), chosen))
        if not chosen.lost:
            break
    latencies = _latencies([a for _, a in attempts], ctx.steps)
    steps = [{"keep_float": list(kept), "budget_broken": a.broken,
              "artifacts": [_figures(v, latencies) for v in a.verified if FORMATS[v.format].quantized]}
             for kept, a in attempts]
    record = {"ranking": found.as_dict()["ranked"][:max(len(candidates), 3)], "kept_float": keep,
              "holds": not chosen.broken, "steps": steps, **({"caveat": caveat} if caveat else {})}
    return chosen, record


def _figures(v, latencies: dict) -> dict:
    figures = {"target": v.spec.name, "format": v.format, "size_bytes": size_bytes(v.artifact.path)}
    if v.metrics is not None:
        figures.update(cosine=rounded(v.metrics.worst("cosine")), sqnr_db=rounded(v.metrics.worst("sqnr_db")),
                       agreement=rounded(v.metrics.agreement))
    if (p50 := latencies.get(str(v.artifact.path))) is not None:
        figures["p50_ms"] = round(p50, 4)
    return figures


def _latencies(attempts, steps) -> dict[str, float]:
    """p50 latency of every int8 artifact of every step that a host runtime times, in one interleaved run (1
    thread), so that the steps compare on equal terms."""
    import numpy as np

    from ..profiling.devices import runner

    paths = list(dict.fromkeys(v.artifact.path for a in attempts for v in a.verified
                               if FORMATS[v.format].quantized and runner.runtime_of(v.artifact.path)))
    if not paths:
        return {}
    with steps.step(f"timing {len(paths)} artifacts of the fallback's steps"):
        try:
            entries = runner.measure(paths, LATENCY_RUNS, 5, threads=1)
        except runner.RunnerError as e:
            raise UserError(f"timing the fallback's artifacts: {e}") from None
    return {e["artifact"]: float(np.percentile(e["times_ms"], 50)) for e in entries}
