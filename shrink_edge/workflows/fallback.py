"""`fallback = "auto"` (the default): when int8 artifacts lose accuracy beyond their budget, search, in order of
cost, what the product already has, and keep the first program whose artifacts meet it:

1. the scheme's remedies that the user left unset, one at a time: another activation observer (percentile, then
   min/max), cross-layer equalization, SmoothQuant;
2. dynamic int8 where a member's runtime has it and the model has no convolution (its static int8 target swapped for
   the runtime's dynamic one: int8 weights, activations quantized at run time, what transformers and recurrent nets
   need; a dynamic file leaves convolutions float, so a CNN would pass by not being int8);
3. then the layers the debugger ranks worst kept in float, one at a time, until the budget holds. The ranking is
   measured once, on RANK_SAMPLES samples of the program that broke the budget (layer_debug), and serves every
   target of the run; each step rebuilds every artifact from the new int8 program and verifies them all again.

No step starts after `fallback_seconds`. Each step's settings, fidelity, size, latency and wall time are recorded.
By default the search is for calibrated (PTQ) programs whose budget is enforced: a QAT program's ranges were trained,
and what its artifacts lose against it is their runtime's arithmetic; a recipe's explicit `fallback = "auto"` searches
there too (the layer steps, QAT trained again each time) and under --no-budget.
"""
from __future__ import annotations

import time
from dataclasses import replace

from ..backends import FORMATS
from ..errors import UserError
from ..files import size_bytes
from ..verify.metrics import rounded

LATENCY_RUNS = 50
RANK_SAMPLES = 32  # the search ranks the layers on these (`shrink-edge debug` on 128): each layer costs 2 runs over them
REMEDIES = ({"observer": "percentile"}, {"observer": "minmax"}, {"equalize": True}, {"smooth": True})


def fall_back(job, ctx, evaluation, cache, first, verified, settings, module):
    """Returns the attempt whose outputs hold the budget (else the last one tried) and the record of every step."""
    start = time.monotonic()
    record = {"remedies": [], "kept_float": [], "holds": False}

    def in_time() -> bool:
        return time.monotonic() - start < settings.fallback_seconds

    for remedy, step_ctx, step_job in _steps(job, ctx, settings, module):
        if not in_time():
            break
        ctx.steps.note(f"fallback: trying {_named(remedy)}")
        began = time.monotonic()
        tried = verified(step_ctx, step_job)
        record["remedies"].append({"settings": remedy, "budget_broken": tried.broken,
                                   "seconds": round(time.monotonic() - began, 1),
                                   "artifacts": [_figures(v, {}) for v in tried.verified if FORMATS[v.format].quantized]})
        if not tried.lost:
            return tried, {**record, "chosen": remedy, "holds": not tried.broken,
                           "seconds": round(time.monotonic() - start, 1)}
    chosen, layers = _layers(job, ctx, evaluation, cache, first, verified, settings.fallback_max_layers, in_time)
    return chosen, {**record, **layers, "seconds": round(time.monotonic() - start, 1)}


def _steps(job, ctx, settings, module):
    """The steps before the layers, cheapest first: (what the step changes, the run's context under it, the job it
    builds)."""
    for remedy in _remedies(job, settings):
        if any(getattr(ctx.quantization, k) != v for k, v in remedy.items()):  # not the spec's scheme already
            yield remedy, replace(ctx, quantization=replace(ctx.quantization, **remedy)), job
    if not _convolutional(module) and (swapped := _dynamic(job)):
        dynamic_job, swaps = swapped
        yield {"targets": swaps}, replace(ctx, quantization=dynamic_job.quantization()), dynamic_job


def _remedies(job, settings) -> list[dict]:
    """The scheme's remedies the user left unset, as the search tries them; none for a QAT program, whose ranges
    were trained."""
    if job.recipe.qat is not None:
        return []
    return [r for r in REMEDIES if all(getattr(settings, k) is None for k in r)]


def _convolutional(module) -> bool:
    """Whether the float model convolves: an nn.Conv layer, or a convolution op in a loaded .pt2 program."""
    from torch import nn

    graph = getattr(module, "graph", None)
    return any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules()) or graph is not None and any(
        n.op == "call_function" and "conv" in str(n.target) for n in graph.nodes)


def _dynamic(job):
    """The job with each member made from the static int8 program swapped for its runtime's dynamic target, and the
    swaps; None where no member has one. A single target keeps its own budget (a spec of the user's own holds its
    twin to it); a group's members take their twins'."""
    from ..config import targets
    from .debug import from_int8_program

    twins = {}
    for spec in targets.available().values():
        if any(FORMATS[f].activations == "dynamic" for f in spec.artifacts):
            twins.setdefault(spec.runtime, spec)
    swaps = {m.name: twins[m.runtime].name for m in job.members()
             if m.runtime in twins and any(from_int8_program(f) for f in m.artifacts)}
    if not swaps:
        return None
    if not job.spec.include:
        return replace(job, spec=replace(twins[job.spec.runtime], budget=job.spec.budget)), swaps
    include = tuple(swaps.get(name, name) for name in job.spec.include)
    return replace(job, spec=replace(job.spec, include=tuple(dict.fromkeys(include)))), swaps


def _named(remedy: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in remedy.items())


def _layers(job, ctx, evaluation, cache, first, verified, max_layers: int, in_time):
    """Keep the worst-ranked layers in float, one more at a time, until the budget holds."""
    from .debug import diagnosis

    found, caveat = diagnosis(job, ctx, evaluation, cache, samples=RANK_SAMPLES)
    candidates = [s.layer for s in found.ranked() if found.gain_db(s) > 0][:max_layers]
    keep, attempts = list(ctx.quantization.keep_float), [(tuple(ctx.quantization.keep_float), first)]
    chosen = first
    for layer in candidates:
        if not in_time():
            break
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
    return chosen, {"ranking": found.as_dict()["ranked"][:max(len(candidates), 3)], "kept_float": keep,
                    "holds": not chosen.broken, "steps": steps, **({"caveat": caveat} if caveat else {})}


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
