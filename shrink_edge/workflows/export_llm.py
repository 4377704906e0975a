"""Export a decoder language model to LLM targets: quantize once per weight scheme, write one artifact per
(target, scheme) with the backend that runs it (for the scheme `runtime`, the runtime's own quantizer writes it from
our float file), verify each in its runtime's own prefill/decode loop against the
float PyTorch model on held-out text, and keep only those within the target's budget. An int4 artifact that misses
its budget is tried again, cheapest first, with zero points its format holds (integer ones, then HQQ's float16 ones),
then from the best of those with the layers most sensitive to int4 kept int8, twice as many each time (2, 4, 8, ...
up to half the layers), until it holds (unless `strict`): the LLM side of `fallback = "auto"`."""
from __future__ import annotations

import importlib.util
import json
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..apps import llm as llm_apps
from ..backends import BACKENDS, install_hint
from ..config import targets
from ..errors import PredictionUnavailable, UserError, first_line
from ..llm import decoder, evaluate, model as models, text as texts
from ..llm.weights import Scheme, quantize_model
from ..profiling.llm import weight_bytes
from ..progress import Steps, native_logs_quiet

WINDOW = 128        # tokens per held-out window (half prefilled, half decoded)
WINDOWS = 8         # held-out windows scored
PROMPTS = 4         # greedy-generation prompts
NEW_TOKENS = 64     # tokens generated greedily per prompt
FALLBACK_SECONDS = 900.0  # no new step of an artifact's fallback search starts after this
FIDELITY = ("perplexity x", "next-token agreement", "greedy match")  # the budget lines more int8 layers can mend


@dataclass
class LLMExport:
    out: Path
    report: dict
    failed: list[str] = field(default_factory=list)   # artifacts that broke the budget (not written)


def export_llm(model, target: str = "llm-all", data: Path | None = None, out: Path = Path("out"),
               context: int | None = None, windows: int = WINDOWS, new_tokens: int = NEW_TOKENS,
               enforce_budget: bool = True, progress: bool = True, threads: int = 2,
               schemes: tuple[str, ...] | None = None, tokenizer=None, android_project: Path | None = None,
               ios_project: Path | None = None, lowrank: float | None = None, strict: bool = False) -> LLMExport:
    """`model`: a Hugging Face folder or .gguf file (path), or a live transformers causal LM with its `tokenizer`.
    `schemes` replaces the targets' own weight schemes (llm/weights.py names them). `lowrank` (0 < keep < 1): the
    linear layers factorized first to that fraction of their parameters (llm/lowrank.py), every artifact then
    scored against the model as it came. The projects get the smallest verified ExecuTorch artifact, its
    tokenizer, metadata and a helper (apps/llm.py). `strict`: an artifact that misses its budget fails, no search
    for more int8 layers (nor under enforce_budget=False, where every artifact is written as it is)."""
    spec = targets.resolve(target)
    if spec.kind != "llm":
        raise UserError(f"target {spec.name} is not a language-model target; LLM targets: "
                        f"{', '.join(n for n, s in targets.available().items() if s.kind == 'llm')}")
    members = targets.members(spec)
    llm_apps.check(android_project, ios_project, {m.runtime for m in members})
    if schemes:
        for name in schemes:
            Scheme.parse(name)
        members = [replace(m, schemes=tuple(schemes)) for m in members]
    if isinstance(model, models.LanguageModel):
        lm = model
    elif isinstance(model, (str, Path)):
        lm = models.load(model)
    else:
        lm = models.from_live(model, tokenizer)
    length = context or min(WINDOW, lm.context)
    if length > lm.context:
        raise UserError(f"--context {length} is longer than {lm.name}'s context of {lm.context} tokens "
                        "(config.json max_position_embeddings); give --context {lm.context} or less")
    if 16 + new_tokens > lm.context:
        raise UserError(f"greedy generation of {new_tokens} tokens after a 16-token prompt does not fit "
                        f"{lm.name}'s context of {lm.context} tokens")
    if lowrank is not None and not 0 < lowrank < 1:
        raise UserError(f"--lowrank {lowrank}: give the fraction of the linear layers' parameters to keep, "
                        "between 0 and 1 (0.75)")
    text = texts.read(data) if data is not None else _default_text()
    tokens = texts.windows(lm.tokenizer, text, length, windows, calibration=windows)
    runnable, refused = _runnable(members, lm)
    if not runnable:
        raise UserError("no target can take this model: " + "; ".join(refused))
    runnable, schemes_refused = _storable(runnable)
    if not runnable:
        raise UserError("no target can hold these weights: " + "; ".join(schemes_refused))
    refused += schemes_refused
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / ".shrink-edge-llm"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    report = {"model": lm.name, "family": models.family(lm), "target": spec.name, "context": length,
              "text": {"source": str(data) if data else "pydoc_data (Python's documentation)",
                       "windows": len(tokens.evaluation), "prompts": len(tokens.prompts), "new_tokens": new_tokens},
              "artifacts": [], "refused": refused}
    failed = []
    with Steps(progress) as steps:
        with steps.step("reference: float PyTorch, prefill + decode"):
            reference = evaluate.reference(evaluate.TorchSession(lm.module), tokens.evaluation, tokens.prompts,
                                           new_tokens)
        if lowrank is not None:
            with steps.step(f"low-rank: {lowrank:.0%} of the linear layers' parameters"):
                step = max([8] + [Scheme.parse(n).group or 8 for m in runnable for n in m.schemes])
                lm, report["lowrank"] = _factorized(lm, lowrank, tokens.calibration, step)
            runnable, refused = _runnable(runnable, lm)
            report["refused"] += refused
        for note in report["refused"]:
            steps.note(f"refused: {note}")
        quantized, predicted = {}, {}
        for member in runnable:
            llm = BACKENDS[member.runtime].llm
            for name in member.schemes:
                scheme = Scheme.parse(name)
                if name not in quantized:
                    with steps.step(f"quantize weights: {name}"):
                        quantized[name] = quantize_model(lm.module, scheme, tokens.calibration)
                def attempt(q):
                    with steps.step(f"{member.name} {q.scheme.name}: write and verify"):
                        predicted[(member.name, q.scheme.name)] = []
                        return _artifact(_holding(lm, q), member, llm, q, scratch, out, tokens, reference,
                                         new_tokens, threads, enforce_budget, predicted[(member.name, q.scheme.name)],
                                         compressed=lowrank is not None)

                entry = attempt(quantized[name])
                if enforce_budget and not strict and _mendable(scheme, entry):
                    def quantize(candidate, ranking):
                        return quantize_model(lm.module, candidate, tokens.calibration, ranking=ranking)

                    entry = _fallback(entry, scheme, _zero_points(scheme, BACKENDS[member.runtime]), quantized,
                                      quantize, attempt, steps, member.budget.max_int4_bits_per_weight,
                                      lambda q: q.facts(lm.module)["bits_per_weight"])
                report["artifacts"].append(entry)
                if entry.get("budget_broken") and enforce_budget:
                    failed.append(f"{member.name} {name}" + (f" (also as {entry['scheme']})"
                                                             if entry["scheme"] != name else ""))
        lm.tokenizer.save_pretrained(out / "tokenizer")  # with the model's config: what apps and profile read
        lm.config.to_json_file(out / "tokenizer" / "config.json")
    shutil.rmtree(scratch, ignore_errors=True)
    report["agreement_between_runtimes"] = _between(predicted)
    report["failed"] = failed
    if android_project or ios_project:
        report["apps"] = [str(p) for p in llm_apps.install(report, out, android_project, ios_project)]
    (out / "llm.json").write_text(json.dumps(report, indent=2) + "\n")
    return LLMExport(out, report, failed)


def _default_text() -> str:
    from ..llm.train import english

    return english()


def _runnable(members, lm) -> tuple[list, list[str]]:
    """The members whose backend writes LLMs, is installed and takes this architecture; a line for each other."""
    runnable, refused = [], []
    for member in members:
        backend = BACKENDS.get(member.runtime)
        if backend is None or backend.llm is None:
            refused.append(f"{member.name}: runtime {member.runtime} writes no language models")
        elif not (backend.installed() and backend.llm.installed()):
            extras = sorted({e for e in (backend.extra, "llm") if e})
            refused.append(f"{member.name}: needs {install_hint(extras)}")
        elif reason := (backend.llm.unsupported or decoder.unsupported)(lm):
            refused.append(f"{member.name}: {reason}")
        else:
            runnable.append(member)
    return runnable, refused


def _mendable(scheme: Scheme, entry: dict) -> bool:
    """An int4 artifact of ours that ran and missed only the fidelity part of its budget."""
    broken = entry.get("budget_broken") or []
    return scheme.bits == 4 and not scheme.runtime and "error" not in entry and bool(broken) \
        and all(b.startswith(FIDELITY) for b in broken)


def _zero_points(scheme: Scheme, backend) -> list[Scheme]:
    """The variants of an int4 scheme with finer zero points (integer, then HQQ's float16) that `backend`'s format
    holds: a few bits per block, cheaper than a layer kept int8."""
    if scheme.bits != 4 or scheme.hqq:
        return []
    variants = ([] if scheme.asymmetric else [replace(scheme, asymmetric=True)]) + \
        [replace(scheme, asymmetric=True, hqq=True)]
    return [v for v in variants if not _refusal(backend, v)]


def _refusal(backend, scheme: Scheme) -> str | None:
    """Why `backend`'s format cannot hold the scheme's weights, or its runtime has no quantizer of its own for
    `runtime` (None: it can)."""
    llm = backend.llm
    if scheme.runtime:
        own = llm.runtime_quantizer
        if own is None:
            return f"{backend.name} has no int4 quantizer of its own here; give one of our schemes (int4-g32-gptq)"
        if missing := [m for m in own.requires if importlib.util.find_spec(m) is None]:
            return f"its own quantizer ({own.name}) needs {', '.join(missing)}: {install_hint([backend.extra or 'llm'])}"
        return None
    return llm.unsupported_scheme(scheme) if llm.unsupported_scheme else None


def _fallback(first: dict, scheme: Scheme, variants: list[Scheme], quantized: dict, quantize, attempt, steps,
              ceiling: float | None, bits) -> dict:
    """The artifact again with each of `variants`, then, from the scheme that came closest (the highest next-token
    agreement), with its 2, 4, 8, ... layers most sensitive to int4 kept int8, and last half of them (one ranking
    for those steps, and each step's integers shared with the other runtimes), until its budget holds, the next
    step would hold more than `ceiling` bits per weight (bits(quantized model)), or FALLBACK_SECONDS have passed;
    the last one tried, with every step's figures."""
    start, entry, tried, stopped = time.monotonic(), first, [_step(first)], []

    def run(candidate: Scheme, ranking=None) -> dict | None:
        if candidate.name not in quantized:
            quantized[candidate.name] = quantize(candidate, ranking)
        if ceiling is not None and (held := bits(quantized[candidate.name])) > ceiling:
            stopped.append(f"{candidate.name} would hold {held} bits per weight > {ceiling}")
            steps.note(f"fallback: {stopped[-1]}; not tried")
            return None
        steps.note(f"fallback: {first['target']} {scheme.name} missed its budget; trying {candidate.name}")
        result = attempt(quantized[candidate.name])
        tried.append(_step(result))
        return result

    closest, best = scheme, first.get("next_token_agreement", 0.0)
    for variant in variants:
        if time.monotonic() - start > FALLBACK_SECONDS:
            break
        if (result := run(variant)) is None:
            continue
        if not (entry := result).get("budget_broken"):
            return _with_steps(entry, scheme, tried, start, stopped)
        if entry.get("next_token_agreement", 0.0) > best:
            closest, best = variant, entry["next_token_agreement"]
    ranking = quantized[closest.name].ranking or None
    half = len(quantized[closest.name].linears) // 2
    counts = sorted({min(2 ** k, half) for k in range(1, half.bit_length() + 1)} - set(range(closest.keep_int8 + 1)))
    for n in counts:
        if time.monotonic() - start > FALLBACK_SECONDS:
            break
        mixed = replace(closest, keep_int8=n)
        result = run(mixed, ranking)
        ranking = quantized[mixed.name].ranking
        if result is None or not (entry := result).get("budget_broken"):
            break
    return _with_steps(entry, scheme, tried, start, stopped)


def _with_steps(entry: dict, scheme: Scheme, tried: list[dict], start: float, stopped: list[str]) -> dict:
    return {**entry, "fallback": {"from": scheme.name, "holds": not entry.get("budget_broken"), "steps": tried,
                                  "seconds": round(time.monotonic() - start, 1),
                                  **({"not_tried": stopped} if stopped else {})}}


def _step(entry: dict) -> dict:
    return {k: entry[k] for k in ("scheme", "bits_per_weight", "size_bytes", "perplexity_ratio",
                                  "next_token_agreement", "greedy_match_tokens", "budget_broken") if k in entry}


def _holding(lm, quantized):
    """The model whose weights the scheme's integers are: under -awq its scaled copy (same function, other
    weights), which every backend then writes."""
    return lm if quantized.module is None else replace(lm, module=quantized.module)


def _storable(members) -> tuple[list, list[str]]:
    """The members with only the schemes their format can hold (those with none left dropped), and a line for each
    scheme refused."""
    kept, refused = [], []
    for member in members:
        reasons = {name: _refusal(BACKENDS[member.runtime], Scheme.parse(name)) for name in member.schemes}
        refused += [f"{member.name} {name}: {reason}" for name, reason in reasons.items() if reason]
        if schemes := tuple(name for name, reason in reasons.items() if not reason):
            kept.append(replace(member, schemes=schemes))
    return kept, refused


def _between(predicted: dict) -> dict:
    """Per scheme, the next-token agreement between every two artifacts of it on the held-out text (the same
    integers in every runtime: what is left is each runtime's arithmetic), the lowest and which two. Not for
    `runtime`, whose integers differ by runtime."""
    result = {}
    for scheme in dict.fromkeys(name for _, name in predicted if name != "runtime"):
        runs = {target: np.array(p) for (target, name), p in predicted.items() if name == scheme and p}
        pairs = [(float((runs[a] == runs[b]).mean()), a, b) for i, a in enumerate(runs) for b in list(runs)[i + 1:]
                 if len(runs[a]) == len(runs[b])]
        if pairs:
            lowest, a, b = min(pairs)
            result[scheme] = {"min_agreement": round(lowest, 4), "between": [a, b], "artifacts": len(runs),
                              "pairs": [[a, b, round(agreement, 4)] for agreement, a, b in pairs]}
    return result


def _artifact(lm, member, llm, quantized, scratch: Path, out: Path, tokens, reference, new_tokens: int,
              threads: int, enforce_budget: bool, predicted: list, compressed: bool) -> dict:
    scheme = quantized.scheme
    staging = scratch / f"{member.name}.{scheme.name}"
    staging.mkdir()
    tag = f".{member.options['tag']}" if member.options.get("tag") else ""  # two targets of one runtime
    file = staging / f"{lm.name}.{scheme.name}{tag}{llm.suffix}"
    entry = {"target": member.name, "runtime": member.runtime, "scheme": scheme.name}
    try:
        with native_logs_quiet():
            if scheme.runtime:
                _runtime_quantized(lm, llm, scratch, file, member, tokens.calibration)
            else:
                llm.write(lm, quantized, scratch, file, member.options)
            start = time.perf_counter()
            facts = llm.facts(file)
            if llm.read_back is not None and not scheme.runtime:
                facts.update(llm.read_back(file, lm, quantized))
            try:
                session = llm.session(file, threads)
            except PredictionUnavailable as e:  # written and checked as a file, not run: say why
                metrics = {"skipped": str(e)}
            else:
                metrics = evaluate.compare(session, tokens.evaluation, tokens.prompts, reference, new_tokens,
                                           predicted)
                if llm.second_opinion is not None:  # the same file in another loop of the same runtime
                    metrics.update(llm.second_opinion(file, tokens.prompts, reference.continuations))
    except Exception as e:  # the runtime's own failure, in one line, for this artifact only
        return {**entry, "error": f"{type(e).__name__}: {first_line(e)}", "budget_broken": ["did not run"]}
    files = sorted(staging.iterdir())
    size = weight_bytes(file)  # the artifact alone: bundles and folders beside it hold the same model again
    facts = {**quantized.facts(lm.module), **facts}  # a backend that reads its bits per weight from the file wins
    if scheme.runtime:
        facts["quantizer"] = llm.runtime_quantizer.name
        facts.setdefault("bits_per_weight", round(8 * size / facts["weights"], 3))  # the file's, all in
    entry.update(metrics)
    entry.update({"path": file.name, "size_bytes": size, "bits_per_weight": facts["bits_per_weight"],
                  "facts": facts, "verify_seconds": round(time.perf_counter() - start, 2)})
    entry["budget_broken"] = broken = _budget(member.budget, scheme, entry, compressed)
    if not broken or not enforce_budget:
        for f in files:
            if (out / f.name).is_dir():
                shutil.rmtree(out / f.name)
            f.replace(out / f.name)
    return entry


def _runtime_quantized(lm, llm, scratch: Path, file: Path, member, calibration) -> None:
    """`file` written by the runtime's own quantizer, from the float artifact the backend writes (made only if the
    quantizer asks for it)."""
    floats = scratch / f"{member.name}.float"

    def float_file() -> Path:
        path = floats / f"{lm.name}.float{llm.suffix}"
        if not path.exists():
            floats.mkdir(exist_ok=True)
            llm.write(lm, quantize_model(lm.module, Scheme.parse("float")), scratch, path, member.options)
        return path

    llm.runtime_quantizer.write(lm, float_file, calibration, scratch, file, member.options)


def _factorized(lm, keep: float, calibration, step: int) -> tuple:
    """The model with its linear layers factorized, ranks in steps of the schemes' largest group (8 at least), so
    int4 blocks divide the factors' inputs."""
    from ..llm import lowrank
    from ..llm.weights import linear_layers

    start = time.perf_counter()
    module, ranks = lowrank.factorize(lm.module, calibration, keep, step)
    dense = sum(m.weight.numel() for m in linear_layers(lm.module).values())
    held = sum(m.weight.numel() for m in linear_layers(module).values())
    factorized = models.LanguageModel(module, lm.tokenizer, lm.source, f"{lm.name}.lowrank{round(keep * 100)}")
    return factorized, {"keep": keep, "parameters_kept": round(held / dense, 4), "ranks": ranks,
                        "seconds": round(time.perf_counter() - start, 1)}


def _budget(budget, scheme: Scheme, entry: dict, compressed: bool) -> list[str]:
    broken = []
    facts = entry["facts"]
    if scheme.bits and facts.get("matmul_float", 0) > 0:
        broken.append(f"{facts['matmul_float']} matrix multiplications stayed float")
    if facts.get("weights_as_scheme") is False:
        broken.append("the file's integers are not the scheme's")
    if entry.get("genai_tokenizer_agreement", 1) < 1:
        broken.append(f"the tokenizer shipped with it disagrees with the model's on "
                      f"{1 - entry['genai_tokenizer_agreement']:.0%} of the prompts")
    if scheme.bits == 4 and budget.max_int4_bits_per_weight is not None \
            and entry["bits_per_weight"] > budget.max_int4_bits_per_weight:
        broken.append(f"{entry['bits_per_weight']} bits per weight > {budget.max_int4_bits_per_weight}")
    if "skipped" in entry:  # not run here: only what the file holds is checked
        return broken
    if not scheme.bits and not compressed:  # the path alone: conversion must not change the model
        if entry["perplexity_ratio"] > budget.max_float_perplexity_ratio:
            broken.append(f"float perplexity x{entry['perplexity_ratio']} > x{budget.max_float_perplexity_ratio}")
        return broken
    if budget.max_perplexity_ratio is not None and entry["perplexity_ratio"] > budget.max_perplexity_ratio:
        broken.append(f"perplexity x{entry['perplexity_ratio']} > x{budget.max_perplexity_ratio}")
    if budget.min_next_token_agreement is not None \
            and entry["next_token_agreement"] < budget.min_next_token_agreement:
        broken.append(f"next-token agreement {entry['next_token_agreement']} < {budget.min_next_token_agreement}")
    if budget.min_greedy_match_tokens is not None and entry["greedy_match_tokens"] < budget.min_greedy_match_tokens:
        broken.append(f"greedy match {entry['greedy_match_tokens']} < {budget.min_greedy_match_tokens} tokens")
    return broken
