"""`export`: from a model (optionally optimized by a recipe) to verified artifacts for one target."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..engine import manifest as manifest_io
from ..engine.graph import Artifact
from ..engine.manifest import Entry, Manifest
from ..config import targets
from ..apps.install import AppTargets, check, install
from ..engine.cache import Cache
from ..errors import BudgetError, PredictionUnavailable, UserError, first_line
from ..files import atomic_copies
from ..engine.job import Job
from ..model.predict import predict_torch
from ..model.source import as_source
from ..config.recipe import Recipe, as_recipe
from ..config.settings import QuantizeSettings
from ..config.targets import TargetSpec
from ..model.signature import by_name_else_position
from ..verify.metrics import Metrics
from ..verify.task_metric import TaskMetric, drops
from ..engine.versions import tool_versions

MIN_GAIN_DB = 1.0  # the debug advice names layers gaining at least this in float: less is not worth their cost


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: dict
    reused: bool  # nothing had changed: the previous run's artifacts stand

    @property
    def failed(self) -> dict[str, list[str]]:
        """The members of a group target that broke their budget (name -> reasons): not written."""
        return self.manifest.get("failed", {})


def export(model=None, example_inputs=None, target: str = "onnx", data=None, calibration=None,
           out: Path = Path("out"), cache_dir: Path | None = None, recipe: Recipe | Path | None = None,
           device: str = "cpu", progress: bool = True, apps: AppTargets | None = None,
           enforce_budget: bool = True, metric: TaskMetric | None = None,
           max_metric_drop: float | None = None, debug: bool = False,
           labels_output: str | None = None, strict: bool = False) -> ExportResult:
    """Convert `model`, optimized by `recipe` if given, for `target`; verify every artifact in its runtime against
    the PyTorch reference on `data`; write the artifacts and manifest.json, and into the Android / iOS projects of
    `apps`.

    `model`: a live nn.Module (with `example_inputs`, a tensor or a tuple, or none: one sample of `data` is the
    example), a ModelSource, "file.py:factory" or a .pt2 path; None is the bundled sample. `data` and
    `calibration`: an IDX directory, an .npz, or arrays (see data.load); `labels_output` names the output the data's
    labels describe (else `y_<output>` in the data, or the only output that can hold them). With `enforce_budget`
    off, a broken budget is recorded in the manifest (`budget_broken`) instead of failing the export. `metric`
    (task_metric.py) is computed on the reference's and each artifact's outputs; `max_metric_drop` bounds how far it
    may fall. Where int8 artifacts lose accuracy beyond their budget, the export searches the scheme's remedies and
    then keeps the worst layers in float until the budget holds (fallback.py; a recipe's [quantize] fallback);
    `strict` fails at once instead, and with `debug` names the layers that lose the most (layer_debug)."""
    if isinstance(metric, str):
        metric = TaskMetric.parse(metric)
    job = Job.create(targets.resolve(target), as_source(model, example_inputs), data, calibration,
                     as_recipe(recipe), device, labels_output)
    apps = apps or AppTargets()
    if apps.any():
        check(apps, {f for spec in job.members() for f in spec.artifacts})
        apps = replace(apps, inputs=job.input_files())
    run_key, described = job.run_key(command="export", enforce_budget=enforce_budget, debug=debug, strict=strict,
                                     metric=metric.fingerprint() if metric else None, max_metric_drop=max_metric_drop)
    out = Path(out)
    if (previous := manifest_io.read_current(out, run_key)) is not None:
        return _installed(ExportResult(out, previous, reused=True), apps)

    from ..backends import FORMATS
    from ..progress import Steps

    cache = Cache(cache_dir)
    settings = job.recipe.quantize or QuantizeSettings()
    diagnosis = None
    with Steps(progress) as steps:
        ctx, evaluation, module = job.open(steps)
        model = ctx.model

        def verified(ctx, for_job: Job = job) -> Attempt:
            return attempt(for_job, ctx, cache, evaluation, metric, max_metric_drop)

        chosen = verified(ctx)
        fallback = None
        by_default = settings.fallback is None and enforce_budget and job.recipe.qat is None
        if chosen.lost and not strict and (settings.fallback == "auto" or by_default):
            from .fallback import fall_back

            chosen, fallback = fall_back(job, ctx, evaluation, cache, chosen, verified, settings, module)
        elif chosen.lost and debug:
            from .debug import diagnosis as diagnose

            diagnosis = diagnose(job, ctx, evaluation, cache)[0]
    broken, optimized = chosen.broken, chosen.optimized
    reference_accuracy, task_reference = chosen.reference_accuracy, chosen.task_reference
    failed = chosen.failures if broken and enforce_budget else {}
    if failed and (not job.spec.include or len(failed) == len({v.spec.name for v in chosen.verified})):
        raise BudgetError(f"target {job.spec.name} budget broken: " + "; ".join(broken)
                          + _advice(chosen.lost, diagnosis, fallback) + _dynamic_advice(job, chosen.lost))
    if failed:  # a group: the members that passed are written, those that failed named with their reasons
        broken = []

    reference_name = "torch (QAT int8)" if optimized.int8_model else "torch"
    files = [(v, f"{model.name}{FORMATS[v.format].suffix}") for v in chosen.verified if v.spec.name not in failed]
    kept = {id(v): list(o.keep_float) for o in chosen.outcomes.values() for v in o.verified
            if o.keep_float and FORMATS[v.format].quantized}
    manifest = Manifest(
        run_key, "export", model.name, **described, versions=tool_versions(), target=job.spec.name,
        signature={"inputs": [s.describe() for s in model.inputs], "outputs": list(model.outputs),
                   "class_output": model.outputs[ctx.class_output] if ctx.class_output is not None else None},
        reference={"runtime": reference_name, "samples": len(evaluation),
                   "accuracy": round(reference_accuracy, 6) if reference_accuracy is not None else None,
                   **({"task": task_reference} if task_reference is not None else {})},
        budget_broken=broken, failed=failed, refused=chosen.refused, keep_float=list(chosen.keep_float),
        fallback=fallback,
        debug=diagnosis.as_dict() if diagnosis else None,
        artifacts=[Entry.of(v.artifact.path, out, file, v.format, target=v.spec.name, runtime=v.runtime,
                            metrics=v.metrics.as_dict() if v.metrics else None, facts=v.facts or None,
                            keep_float=kept.get(id(v)))
                   for v, file in files])
    atomic_copies([(v.artifact.path, out / file) for v, file in files])
    return _installed(ExportResult(out, manifest_io.write(out, manifest), reused=False), apps)


@dataclass(frozen=True)
class Verified:
    """One artifact built and run in its runtime on the held-out data."""
    spec: TargetSpec
    format: str
    artifact: Artifact
    runtime: str
    metrics: Metrics | None  # None: its runtime cannot run here (facts["verification_skipped"] says why)
    facts: dict


@dataclass(frozen=True)
class Outcome:
    """One member target's artifacts, verified, and what they broke of its budget."""
    verified: list[Verified]
    lost: list[str]  # its outputs beyond the budget: what the fallback can mend
    broken: list[str]  # those and its facts beyond the budget
    failures: list[str]  # the same by format, a device's memory that cannot fit said as such
    keep_float: tuple[str, ...]  # the layers its int8 program left in float (a group's members may differ)


@dataclass(frozen=True)
class Attempt:
    """Every artifact of a run built from one int8 program and verified, by member target (a group's members, else
    the one target), and the members of a group target that refused the model (name -> the one-line reason)."""
    optimized: object
    keep_float: tuple[str, ...]
    outcomes: dict[str, Outcome]
    refused: dict[str, str]
    reference: list  # the reference's outputs on the held-out data, one array per output
    reference_accuracy: float | None
    task_reference: dict | None

    @property
    def verified(self) -> list[Verified]:
        return [v for o in self.outcomes.values() for v in o.verified]

    @property
    def lost(self) -> list[str]:
        return [x for o in self.outcomes.values() for x in o.lost]

    @property
    def broken(self) -> list[str]:
        return [x for o in self.outcomes.values() for x in o.broken]

    @property
    def failures(self) -> dict[str, list[str]]:
        return {name: o.failures for name, o in self.outcomes.items() if o.failures}


def attempt(job: Job, ctx, cache: Cache, evaluation, metric: TaskMetric | None, max_metric_drop) -> Attempt:
    """Run the recipe, build every artifact of the job's targets and verify each in its runtime."""
    from ..engine.graph import build
    from ..model.source import load_program
    from .optimize import output_scales, run_recipe
    from ..quant.quant_points import float_compute

    model, steps = ctx.model, ctx.steps
    optimized = run_recipe(job, ctx, cache)
    with steps.step("reference outputs (PyTorch)"):
        reference_module = optimized.reference(model)
        reference = predict_torch(reference_module, evaluation.arrays())
    reference_accuracy = None
    if ctx.class_output is not None:
        reference_accuracy = float((reference[ctx.class_output].argmax(1) == evaluation.class_labels).mean())
    lsbs = output_scales(reference_module) if optimized.int8_model else None
    kept_float = 0
    if ctx.quantization.keep_float:
        program = build(optimized.int8_model or optimized.float_model, "pt2-int8", ctx, cache)
        kept_float = len(float_compute(load_program(program.path).module()))
    task_reference = metric(dict(zip(model.outputs, reference)), evaluation.labels) if metric else None
    refused, outcomes = dict(job.refused), {}
    for spec in job.members():
        try:
            found = [_verified(spec, fmt, optimized, ctx, cache, evaluation, reference, lsbs, metric)
                     for fmt in spec.artifacts]
        except UserError as e:
            if not job.spec.include:
                raise
            refused[spec.name] = str(e)  # a group target: the other members still build
            steps.note(f"{spec.name} refused: {e}")
            continue
        outcomes[spec.name] = _outcome(found, reference_accuracy, task_reference, max_metric_drop, kept_float,
                                       ctx.quantization.keep_float)
    if refused and not outcomes:
        raise UserError("no target of the group converts: " + "; ".join(f"{k}: {v}" for k, v in refused.items()))
    return Attempt(optimized, ctx.quantization.keep_float, outcomes, refused, reference, reference_accuracy,
                   task_reference)


def _outcome(verified: list[Verified], reference_accuracy, task_reference, max_metric_drop, kept_float,
             keep_float: tuple[str, ...]) -> Outcome:
    """What one member's quantized artifacts break of its budget."""
    from ..backends import FORMATS
    from ..verify.metrics import fact_violations, fidelity_violations, fit_violations

    lost, broken, failures = [], [], []
    for v in verified:
        if not FORMATS[v.format].quantized:
            continue
        outputs = fidelity_violations(v.metrics, reference_accuracy, v.spec.budget)
        if max_metric_drop is not None and task_reference is not None and v.metrics:
            outputs += drops(task_reference, v.metrics.task or {}, max_metric_drop)
        facts = fact_violations(v.spec.budget, v.facts, kept_float)
        lost += [f"{v.spec.name} {v.format}: {o}" for o in outputs]
        broken += [f"{v.spec.name} {v.format}: {o}" for o in outputs + facts]
        fit = fit_violations(v.spec.budget, v.facts)
        failures += [f"{v.format}: {o}" for o in outputs + facts[len(fit):]] + \
            [f"{v.format} does not fit the device: {o}" for o in fit]
    return Outcome(verified, lost, broken, failures, keep_float)


def _verified(spec, fmt: str, optimized, ctx, cache: Cache, evaluation, reference, lsbs, metric) -> Verified:
    """One artifact built and run in its runtime on the held-out data."""
    from ..backends import owner
    from ..engine.graph import build
    from ..verify.metrics import compare

    model, steps = ctx.model, ctx.steps
    start = optimized.start(fmt)
    artifact = build(start, fmt, replace(ctx, options=spec.options), cache)
    backend = owner(fmt)
    with steps.step(f"verifying {fmt} in {backend.name} on {len(evaluation)} samples"):
        try:
            outputs = backend.predict(artifact.path, evaluation.inputs)
            ordered = in_order(outputs, model.outputs, fmt)
            metrics = compare(ordered, reference, model.outputs, evaluation.class_labels, ctx.class_output,
                              lsbs if start is optimized.int8_model else None)
            if metric:
                metrics = replace(metrics, task=metric(dict(zip(model.outputs, ordered)), evaluation.labels))
        except PredictionUnavailable as e:
            metrics, skipped = None, str(e)
        except UserError:
            raise
        except Exception as e:  # a runtime failing deep inside: one line, naming it
            raise UserError(f"{backend.name} could not run {fmt} ({artifact.path.name}): "
                            f"{type(e).__name__}: {first_line(e)}") from None
    facts = backend.facts(artifact.path) if backend.facts else {}
    if metrics is None:
        facts = {**facts, "verification_skipped": skipped}
    return Verified(spec, fmt, artifact, backend.name, metrics, facts)


def _advice(lost: list[str], diagnosis, fallback: dict | None) -> str:
    """What to do about a broken budget: where outputs lost accuracy, the layers that lose the most, or how to find
    them; else how to accept or change the budget."""
    if not lost:
        return ("; --no-budget writes the artifacts anyway, or loosen that budget in a spec of your own "
                "(--target path/to/spec.toml)")
    if fallback:
        from .fallback import named

        tried = "; ".join(named(r["settings"]) for r in fallback["remedies"]) or "no remedy of the scheme"
        return (f"; the search tried {tried}, then kept {', '.join(fallback['kept_float']) or 'nothing'} in float "
                f"in {fallback['seconds']:g} s, and the budget still does not hold")
    if diagnosis is None:
        return "; rerun with --debug to rank the layers that lose accuracy"
    worst = [s for s in diagnosis.ranked() if diagnosis.gain_db(s) >= MIN_GAIN_DB][:3]
    if not worst:
        return (f"; no single layer kept in float gains {MIN_GAIN_DB:g} dB (shrink-edge debug shows each layer's "
                f"share)")
    named = ", ".join(f"{s.layer} (+{diagnosis.gain_db(s):.1f} dB in float)" for s in worst)
    names = ", ".join(f'"{s.layer}"' for s in worst)
    return (f"; the layers that lose the most: {named}; keep them in float with [quantize] keep_float = [{names}], "
            "or leave out --strict and let the search choose")


def _dynamic_advice(job: Job, lost: list[str]) -> str:
    """Where static int8 files lost accuracy: the targets of the same runtimes that quantize activations at run time
    instead (what transformers and recurrent nets often need)."""
    from ..backends import FORMATS

    runtimes = {spec.runtime for spec in job.members()}
    dynamic = [spec.name for spec in targets.available().values() if spec.runtime in runtimes
               and any(FORMATS[f].activations == "dynamic" for f in spec.artifacts)]
    if not lost or not dynamic or job.spec.name in dynamic:
        return ""
    return (f"; if activation ranges vary from input to input (transformers, RNNs), --target {' or '.join(dynamic)} "
            f"quantizes them at run time")


def in_order(outputs: dict, names: tuple[str, ...], fmt: str) -> list:
    """A runtime's outputs in the signature's order: by name, or by position where the file renamed them."""
    if (found := by_name_else_position(outputs, names)) is not None:
        return found
    raise UserError(f"the {fmt} artifact has outputs {', '.join(outputs)} but the model returns {', '.join(names)}")


def _installed(result: ExportResult, apps: AppTargets) -> ExportResult:
    if apps.any():
        install(apps, result.manifest, result.out)
    return result
