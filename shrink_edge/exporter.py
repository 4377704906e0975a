"""`export`: from a model (optionally optimized by a recipe) to verified artifacts for one target."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import manifest as manifest_io
from . import targets
from .cache import Cache
from .errors import BudgetError
from .files import atomic_copy, sha256_file
from .formats import FORMATS
from .job import Job, predict_torch
from .model_source import ModelSource
from .recipe import Recipe


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: dict
    reused: bool  # nothing had changed: the previous run's artifacts stand

    @property
    def artifacts(self) -> list[dict]:
        return self.manifest["artifacts"]


def export(target: str = "onnx", model: ModelSource | None = None, data: Path | None = None,
           calibration: Path | None = None, out: Path = Path("out"), cache_dir: Path | None = None,
           recipe: Recipe | None = None, device: str = "cpu", progress: bool = True) -> ExportResult:
    """Convert `model` (default: the bundled sample), optimized by `recipe` if given, for `target`; verify every
    artifact in its runtime against the PyTorch reference on `data`; write the artifacts and manifest.json."""
    job = Job.create(targets.resolve(target), model, data, calibration, recipe, device)
    run_key, described = job.run_key(command="export")
    out = Path(out)
    if (previous := manifest_io.read_current(out, run_key)) is not None:
        return ExportResult(out, previous, reused=True)

    from .graph import build
    from .optimizer import run_recipe
    from .progress import Steps
    from .runtimes import PREDICT
    from .verify import budget_violations, compare

    cache = Cache(cache_dir)
    rows = []
    with Steps(progress) as steps:
        ctx, evaluation, _ = job.open(steps)
        optimized = run_recipe(job, ctx, cache)
        with steps.step("reference outputs (PyTorch)"):
            reference = predict_torch(optimized.reference(job), evaluation.x)
        reference_accuracy = float((reference.argmax(1) == evaluation.y).mean())
        for fmt in job.spec.artifacts:
            start = optimized.int8_model if fmt.endswith("int8") and optimized.int8_model else optimized.float_model
            artifact = build(start, fmt, ctx, cache)
            runtime = FORMATS[fmt].runtime
            with steps.step(f"verifying {fmt} in {runtime} on {len(evaluation)} samples"):
                metrics = compare(PREDICT[runtime](artifact.path, evaluation.x), reference, evaluation.y)
            rows.append((fmt, artifact, runtime, metrics))

    broken = [f"{fmt}: {v}" for fmt, _, _, m in rows
              if fmt.endswith("int8") for v in budget_violations(m, reference_accuracy, job.spec.budget)]
    if broken:
        raise BudgetError(f"target {job.spec.name} budget broken: " + "; ".join(broken))

    reference_name = "torch (QAT int8)" if optimized.int8_model else "torch"
    manifest = {"run_key": run_key, "command": "export", "target": job.spec.name, "model": job.model.name,
                **described,
                "reference": {"runtime": reference_name, "samples": len(evaluation),
                              "accuracy": round(reference_accuracy, 6)},
                "artifacts": []}
    for fmt, artifact, runtime, metrics in rows:
        file = f"{job.model.name}{FORMATS[fmt].suffix}"
        atomic_copy(artifact.path, out / file)
        manifest["artifacts"].append({
            "target": job.spec.name, "format": fmt, "file": file, "path": str(out / file), "runtime": runtime,
            "size_bytes": artifact.path.stat().st_size, "sha256": sha256_file(artifact.path),
            "metrics": metrics.as_dict(),
        })
    manifest_io.write(out, manifest)
    return ExportResult(out, manifest, reused=False)
