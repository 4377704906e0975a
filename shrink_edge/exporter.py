"""`export`: from a model (optionally optimized by a recipe) to verified artifacts for one target."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from . import manifest as manifest_io
from . import targets
from .app_install import AppTargets, check, install
from .targets import members
from .cache import Cache
from .errors import BudgetError, PredictionUnavailable
from .files import atomic_copy, size_bytes, tree_sha256
from .formats import FORMATS
from .job import Job, predict_torch
from .model_source import ModelSource
from .recipe import Recipe
from .versions import tool_versions


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: dict
    reused: bool  # nothing had changed: the previous run's artifacts stand


def export(target: str = "onnx", model: ModelSource | None = None, data: Path | None = None,
           calibration: Path | None = None, out: Path = Path("out"), cache_dir: Path | None = None,
           recipe: Recipe | None = None, device: str = "cpu", progress: bool = True,
           apps: AppTargets | None = None) -> ExportResult:
    """Convert `model` (default: the bundled sample), optimized by `recipe` if given, for `target`; verify every
    artifact in its runtime against the PyTorch reference on `data`; write the artifacts and manifest.json,
    and into the Android / iOS projects of `apps`."""
    job = Job.create(targets.resolve(target), model, data, calibration, recipe, device)
    apps = apps or AppTargets()
    if apps.any():
        check(apps, {f for spec in members(job.spec) for f in spec.artifacts})
        apps = replace(apps, inputs=job.input_files())
    run_key, described = job.run_key(command="export")
    out = Path(out)
    if (previous := manifest_io.read_current(out, run_key)) is not None:
        return _installed(ExportResult(out, previous, reused=True), apps)

    from .graph import build, reachable
    from .optimizer import output_scale, run_recipe
    from .progress import Steps
    from .runtimes import FACTS, PREDICT
    from .verify import budget_violations, compare

    cache = Cache(cache_dir)
    rows = []
    with Steps(progress) as steps:
        ctx, evaluation, _ = job.open(steps)
        optimized = run_recipe(job, ctx, cache)
        with steps.step("reference outputs (PyTorch)"):
            reference_module = optimized.reference(job)
            reference = predict_torch(reference_module, evaluation.x)
        reference_accuracy = float((reference.argmax(1) == evaluation.y).mean())
        lsb = output_scale(reference_module) if optimized.int8_model else None
        for spec in members(job.spec):
            for fmt in spec.artifacts:
                # int8 formats come from the QAT program when there is one; the rest from the float model
                start = optimized.float_model
                if optimized.int8_model is not None and reachable(optimized.int8_model.format, fmt):
                    start = optimized.int8_model
                artifact = build(start, fmt, replace(ctx, options=spec.options), cache)
                runtime = FORMATS[fmt].runtime
                with steps.step(f"verifying {fmt} in {runtime} on {len(evaluation)} samples"):
                    try:
                        outputs = PREDICT[runtime](artifact.path, evaluation.x)
                        metrics = compare(outputs, reference, evaluation.y,
                                          lsb if start is optimized.int8_model else None)
                    except PredictionUnavailable as e:
                        metrics, skipped = None, str(e)
                facts = FACTS[runtime](artifact.path) if runtime in FACTS else {}
                if metrics is None:
                    facts = {**facts, "verification_skipped": skipped}
                rows.append((spec, fmt, artifact, runtime, metrics, facts))

    broken = [f"{spec.name} {fmt}: {v}" for spec, fmt, _, _, m, facts in rows if FORMATS[fmt].quantized
              for v in budget_violations(m, reference_accuracy, spec.budget, facts)]
    if broken:
        raise BudgetError(f"target {job.spec.name} budget broken: " + "; ".join(broken))

    reference_name = "torch (QAT int8)" if optimized.int8_model else "torch"
    manifest = {"run_key": run_key, "command": "export", "target": job.spec.name, "model": job.model.name,
                **described, "versions": tool_versions(),
                "reference": {"runtime": reference_name, "samples": len(evaluation),
                              "accuracy": round(reference_accuracy, 6)},
                "artifacts": []}
    for spec, fmt, artifact, runtime, metrics, facts in rows:
        file = f"{job.model.name}{FORMATS[fmt].suffix}"
        atomic_copy(artifact.path, out / file)
        manifest["artifacts"].append({
            "target": spec.name, "format": fmt, "file": file, "path": str(out / file), "runtime": runtime,
            "size_bytes": size_bytes(artifact.path), "sha256": tree_sha256(artifact.path),
            "metrics": metrics.as_dict() if metrics else None, **({"facts": facts} if facts else {}),
        })
    manifest_io.write(out, manifest)
    return _installed(ExportResult(out, manifest, reused=False), apps)


def _installed(result: ExportResult, apps: AppTargets) -> ExportResult:
    if apps.any():
        install(apps, result.manifest, result.out)
    return result
