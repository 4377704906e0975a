"""`fallback = "auto"` (the default): when int8 artifacts lose accuracy beyond their budget, search, in order of
cost, what the product already has, and keep the first step whose artifacts meet it. A group's members search
apart: a member whose artifacts hold keeps them, the others go on to the next step.

1. the scheme's remedies that the user left unset, one at a time: another activation observer (percentile, then
   min/max), cross-layer equalization, SmoothQuant; a remedy whose int8 program itself (in PyTorch) misses every
   pending member's budget by a margin is not built for the runtimes;
2. dynamic int8 where a member's runtime has it and the model has no convolution (its static int8 target swapped for
   the runtime's dynamic one: int8 weights, activations quantized at run time, what transformers and recurrent nets
   need; a dynamic file leaves convolutions float, so a CNN would pass by not being int8);
3. int16 activations with int8 weights where a member's runtime has them (tflite-a16w8: LiteRT's 16x8 kernels;
   onnx-a16w8: onnxruntime computes in float between int16 QDQ pairs; cortex-m7-a16w8: TFLite Micro's int16
   kernels, under the member's RAM and flash): the size of int8, activations 256 times
   finer. By default (`fallback_int16 = "fast"`) an int16 file is kept only if it runs within INT16_MAX_SLOWDOWN of
   its runtime's float file: on CPUs it rarely does (the zoo's pitch model: onnxruntime 2.8x float, LiteRT 34x),
   and keeping layers in float costs size, not speed. "size" keeps any that holds; "off" skips the step;
4. then the layers the debugger ranks worst kept in float, one at a time, until the budget holds. The ranking is
   measured once, on RANK_SAMPLES samples of the program that broke the budget (layer_debug), and serves every
   member still searching; each step rebuilds their artifacts from the new int8 program and verifies them again.
   A member that holds there is timed against its runtime's float file, and a note says where it is slower.

No step starts after `fallback_seconds`. Each step's settings, fidelity, size, latency and wall time are recorded.
By default the search is for calibrated (PTQ) programs whose budget is enforced: a QAT program's ranges were trained,
and what its artifacts lose against it is their runtime's arithmetic; a recipe's explicit `fallback = "auto"` searches
there too (the layer steps, QAT trained again each time) and under --no-budget.
"""
from __future__ import annotations

import time
from dataclasses import replace

from ..backends import FORMATS, owner
from ..errors import UserError
from ..files import size_bytes
from ..verify.metrics import rounded

LATENCY_RUNS = 50
PROGRAM_MARGIN_DB = 3.0  # a remedy's artifacts are built unless its int8 program misses the SQNR budget by more (the
# cosine budget: by twice its allowed loss); the zoo's artifacts differ from one another by up to 6.6 dB (detector)
AGAINST_FLOAT_RUNS = 20  # runs of a file and its runtime's float file (an int16 one: whether it is fast enough to keep)
INT16_MAX_SLOWDOWN = 1.5  # an int16 file slower than this times its runtime's float file is not kept by default
RANK_SAMPLES = 32  # the search ranks the layers on these (`shrink-edge debug` on 128): each layer costs 2 runs over them
REMEDIES = ({"observer": "percentile"}, {"observer": "minmax"}, {"equalize": True}, {"smooth": True})


def fall_back(job, ctx, evaluation, cache, first, verified, settings, module):
    """Returns the attempt to write (each member's artifacts from the step where its outputs held, else from the last
    step tried) and the record of every step. A group's members search apart: only those still breaking their
    budget go on to the next step."""
    start = time.monotonic()
    record = {"remedies": [], "kept_float": [], "holds": False}
    pending = [name for name, o in first.outcomes.items() if o.lost]
    ended = {name: (name, o) for name, o in first.outcomes.items() if not o.lost}  # member -> (target built, outcome)
    chose, last, timed = {}, first, []  # timed: (a step's record, its attempt)

    def in_time() -> bool:
        return time.monotonic() - start < settings.fallback_seconds

    def settle(tried, swaps: dict[str, str], step: dict) -> list[str]:
        """The members whose outputs held at this step leave the search; returns their names."""
        held = []
        for name, built in swaps.items():
            if (o := tried.outcomes.get(built)) is not None and not o.lost:
                ended[name], chose[name] = (built, o), step
                pending.remove(name)
                held.append(name)
        return held

    def fast(tried, swaps: dict[str, str]) -> dict[str, str]:
        """The swapped members whose int16 file runs within INT16_MAX_SLOWDOWN of float; the others recorded."""
        kept = {}
        for name, built in swaps.items():
            if (o := tried.outcomes.get(built)) is None or o.lost:
                continue
            wide = next(v for v in o.verified if FORMATS[v.format].activations == "int16")
            timed_against = _against_float(wide, ctx, cache, first.optimized)
            if timed_against and timed_against["p50_ms"] > INT16_MAX_SLOWDOWN * timed_against["float_p50_ms"]:
                record["remedies"][-1].setdefault("too_slow", {})[name] = timed_against
            else:
                kept[name] = built
        return kept

    for remedy, step_ctx, swaps in _steps(job, ctx, settings, module, pending):
        if not in_time():
            break
        ctx.steps.note(f"fallback: trying {named(remedy)}")
        began = time.monotonic()
        if "targets" not in remedy and (misses := _program_misses(job, step_ctx, evaluation, cache, first, pending)):
            record["remedies"].append({"settings": remedy, "program_misses": misses,
                                       "seconds": round(time.monotonic() - began, 1)})
            continue
        try:
            tried = verified(step_ctx, _narrowed(job, swaps))
        except UserError as e:  # a swapped target that refuses the model: the search goes on without it
            record["remedies"].append({"settings": remedy, "refused": str(e),
                                       "seconds": round(time.monotonic() - began, 1)})
            continue
        record["remedies"].append({"settings": remedy, "budget_broken": tried.broken,
                                   "seconds": round(time.monotonic() - began, 1)})
        timed.append((record["remedies"][-1], tried))
        int16_fast = remedy.get("activations") == "int16" and settings.fallback_int16 == "fast"
        record["remedies"][-1]["held"] = settle(tried, fast(tried, swaps) if int16_fast else swaps, remedy)
        if not pending:
            break
    keep = first.keep_float
    if pending and in_time():
        last, layers = _layers(job, ctx, evaluation, cache, first, verified, settings.fallback_max_layers, in_time,
                               pending, settle)
        timed += zip(layers["steps"], [first, *layers.pop("attempts")])
        record.update(layers)
        keep = last.keep_float
    latencies = _latencies([a for _, a in timed], ctx.steps)
    for entry, tried in timed:
        entry["artifacts"] = [_figures(v, latencies) for v in tried.verified if FORMATS[v.format].quantized]
    if chose and not pending and all(c == next(iter(chose.values())) for c in chose.values()):
        record["chosen"] = next(iter(chose.values()))
    if job.spec.include:
        record["members"] = {name: {"target": ended[name][0] if name in ended else name, "step": chose.get(name)}
                             for name, o in first.outcomes.items() if o.lost}
    if timed_float := _against_float_kept({n: ended[n][1] for n, step in chose.items() if "keep_float" in step}, ctx,
                                          cache, first.optimized):
        record["against_float"] = timed_float
    outcomes = dict(ended[name] if name in ended else (name, last.outcomes.get(name, first.outcomes[name]))
                    for name in first.outcomes)
    chosen = replace(first, keep_float=keep, outcomes=outcomes)
    return chosen, {**record, "holds": not chosen.broken, "seconds": round(time.monotonic() - start, 1)}


def _steps(job, ctx, settings, module, pending: list[str]):
    """The steps before the layers, cheapest first: (what the step changes, the run's context under it, the members
    it builds: the job's member -> the target built in its place). `pending` (the members whose outputs still break
    their budget) is read at each step."""
    for remedy in _remedies(job, settings):
        if any(getattr(ctx.quantization, k) != v for k, v in remedy.items()):  # not the spec's scheme already
            yield remedy, replace(ctx, quantization=replace(ctx.quantization, **remedy)), {n: n for n in pending}
    twins = [*(["dynamic"] if not _convolutional(module) else []),
             *(["int16"] if settings.fallback_int16 != "off" else [])]
    for activations in twins:
        if swaps := _twins(job, pending, activations):
            yield ({"activations": activations, "targets": swaps},
                   replace(ctx, quantization=_narrowed(job, swaps).quantization()), swaps)


def _program_misses(job, step_ctx, evaluation, cache, first, pending: list[str]) -> list[str]:
    """What a remedy's int8 program itself (in PyTorch, on the held-out data) misses of the SQNR and cosine budgets
    of every pending member, each loosened by PROGRAM_MARGIN_DB; nothing where it holds one of them. The artifacts
    follow their program to within their runtime's arithmetic, so a program that misses every budget by more is not
    built and verified for every runtime (minutes per step on a large model)."""
    from ..config.targets import Budget
    from ..engine.graph import build
    from ..model.predict import predict_torch
    from ..model.source import load_program
    from ..verify.metrics import compare, fidelity_violations

    program = build(first.optimized.float_model, "pt2-int8", step_ctx, cache)
    metrics = compare(predict_torch(load_program(program.path).module(), evaluation.arrays()), first.reference,
                      step_ctx.model.outputs)
    misses = []
    for spec in (m for m in job.members() if m.name in pending):
        b = spec.budget
        loose = Budget(min_sqnr_db=None if b.min_sqnr_db is None else b.min_sqnr_db - PROGRAM_MARGIN_DB,
                       min_cosine=None if b.min_cosine is None else 1 - 2 * (1 - b.min_cosine))
        if not (missed := fidelity_violations(metrics, None, loose)):
            return []
        misses += [f"{spec.name}: {m}" for m in missed]
    return misses


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


def _twins(job, pending: list[str], activations: str) -> dict[str, str]:
    """The pending members made from the static int8 program whose runtime has a target with `activations`
    ("dynamic": quantized at run time; "int16": int16 with int8 weights), each -> that target's name. A twin is
    held to its member's budget, so a second member of the same runtime with another budget waits for the layer
    steps."""
    from ..config import targets
    from .debug import from_int8_program

    twins, budgets, found = {}, {}, {}
    for spec in targets.available().values():
        if any(FORMATS[f].activations == activations for f in spec.artifacts):
            twins.setdefault(spec.runtime, spec.name)
    for m in job.members():
        if m.name in pending and m.runtime in twins and any(from_int8_program(f) for f in m.artifacts):
            if budgets.setdefault(twins[m.runtime], m.budget) == m.budget:
                found[m.name] = twins[m.runtime]
    return found


def _narrowed(job, swaps: dict[str, str]):
    """The job that builds only the members in `swaps`, each as the target it maps to; a twin keeps its member's
    budget (a spec of the user's own holds its twin to it)."""
    from ..config import targets

    members = {m.name: m for m in targets.members(job.spec)}
    built = {}
    for name, target in swaps.items():
        member = members[name]
        built.setdefault(target, member if target == name else replace(targets.resolve(target), budget=member.budget))
    if not job.spec.include:
        return replace(job, spec=next(iter(built.values()), job.spec))
    return replace(job, spec=replace(job.spec, include=tuple(built.values())))


def named(remedy: dict) -> str:
    """A step's settings in words: `observer = percentile`, `onnx as onnx-a16w8`."""
    if swaps := remedy.get("targets"):  # a twin step (its "activations" says which twins)
        return ", ".join(f"{name} as {twin}" for name, twin in swaps.items())
    return ", ".join(f"{k} = {v}" for k, v in remedy.items())


def _layers(job, ctx, evaluation, cache, first, verified, max_layers: int, in_time, pending: list[str], settle):
    """Keep the worst-ranked layers in float, one more at a time, each step building only the `pending` members,
    until none is left (`settle` takes those whose outputs held out of `pending`). The record's steps start with the
    first attempt's; its `attempts` are the steps' after it."""
    from .debug import diagnosis

    found, caveat = diagnosis(_narrowed(job, {n: n for n in pending}), ctx, evaluation, cache, samples=RANK_SAMPLES)
    candidates = [s.layer for s in found.ranked() if found.gain_db(s) > 0][:max_layers]
    keep, chosen = list(ctx.quantization.keep_float), first
    steps, attempts = [{"keep_float": list(keep), "budget_broken": first.broken}], []
    for layer in candidates:
        if not in_time():
            break
        keep.append(layer)
        ctx.steps.note(f"fallback: keeping {', '.join(keep)} in float")
        members = {n: n for n in pending}
        chosen = verified(replace(ctx, quantization=replace(ctx.quantization, keep_float=tuple(keep))),
                          _narrowed(job, members))
        steps.append({"keep_float": list(keep), "budget_broken": chosen.broken})
        attempts.append(chosen)
        steps[-1]["held"] = settle(chosen, members, {"keep_float": list(keep)})
        if not pending:
            break
    return chosen, {"ranking": found.as_dict()["ranked"][:max(len(candidates), 3)], "kept_float": keep,
                    "steps": steps, "attempts": attempts, **({"caveat": caveat} if caveat else {})}


def _against_float_kept(kept: dict, ctx, cache, optimized) -> dict:
    """Each member that holds by keeping layers in float (name -> its outcome) timed against its runtime's float
    file: each float layer costs a dequantize and a quantize around it, and int8 slower than float is what a user
    must hear about (a note says it)."""
    timed = {}
    for name, outcome in kept.items():
        for v in outcome.verified:
            if FORMATS[v.format].quantized and (found := _against_float(v, ctx, cache, optimized)):
                timed[name] = found
                if found["p50_ms"] > found["float_p50_ms"]:
                    ctx.steps.note(f"fallback: {name}'s {v.format} holds its budget with layers in float but runs "
                                   f"{found['p50_ms']:.3g} ms against {found['float_p50_ms']:.3g} ms for its float "
                                   f"file ({found['float_format']}): slower than float")
    return timed


def _against_float(v, ctx, cache, optimized) -> dict | None:
    """A quantized file's p50 beside its runtime's float file's (1 thread, one interleaved run), or None where the
    host cannot time that runtime."""
    from ..engine.graph import build
    from ..profiling.devices import runner

    fmt = next((f.name for f in owner(v.format).formats if f.activations == "float32"), None)
    if fmt is None or not runner.runtime_of(v.artifact.path):
        return None
    plain = build(optimized.start(fmt), fmt, replace(ctx, options=v.spec.options), cache)
    p50 = _p50s([v.artifact.path, plain.path], AGAINST_FLOAT_RUNS, 2, ctx.steps, f"timing {v.format} against {fmt}")
    return {"format": v.format, "p50_ms": round(p50[str(v.artifact.path)], 4), "float_format": fmt,
            "float_p50_ms": round(p50[str(plain.path)], 4)}


def _figures(v, latencies: dict) -> dict:
    figures = {"target": v.spec.name, "format": v.format, "size_bytes": size_bytes(v.artifact.path)}
    if v.metrics is not None:
        figures.update(cosine=rounded(v.metrics.worst("cosine")), sqnr_db=rounded(v.metrics.worst("sqnr_db")),
                       agreement=rounded(v.metrics.agreement))
    if (p50 := latencies.get(str(v.artifact.path))) is not None:
        figures["p50_ms"] = round(p50, 4)
    return figures


def _latencies(attempts, steps) -> dict[str, float]:
    """p50 latency of every quantized artifact of every step that a host runtime times, in one interleaved run (1
    thread), so that the steps compare on equal terms."""
    from ..profiling.devices import runner

    paths = list(dict.fromkeys(v.artifact.path for a in attempts for v in a.verified
                               if FORMATS[v.format].quantized and runner.runtime_of(v.artifact.path)))
    if not paths:
        return {}
    return _p50s(paths, LATENCY_RUNS, 5, steps, f"timing {len(paths)} artifacts of the fallback's steps")


def _p50s(paths, runs: int, warmup: int, steps, what: str) -> dict[str, float]:
    """Each file's p50 (ms) in one interleaved run, 1 thread; a runtime that cannot run one is one line."""
    import numpy as np

    from ..profiling.devices import runner

    with steps.step(what):
        try:
            entries = runner.measure(paths, runs, warmup, threads=1)
        except runner.RunnerError as e:
            raise UserError(f"timing the fallback's artifacts: {e}") from None
    return {e["artifact"]: float(np.percentile(e["times_ms"], 50)) for e in entries}
