"""`export`: from a model to verified artifacts for one target, reusing the cache and the last run."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import data as data_io
from . import manifest as manifest_io
from . import sample, targets
from .cache import Cache
from .errors import BudgetError, UserError
from .files import atomic_copy, sha256_file, sha256_json
from .formats import FORMATS
from .model_source import ModelSource
from .versions import tool_versions

CODE_DIR = Path(__file__).resolve().parent


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
           progress: bool = True) -> ExportResult:
    """Convert `model` (default: the bundled sample) for `target`, verify every artifact in its runtime
    against the PyTorch model on `data`, and write the artifacts and manifest.json into `out`."""
    spec = targets.resolve(target)
    if model is None:
        model = sample.model_source()
        data = data or sample.HELDOUT
        calibration = calibration or (sample.CALIBRATION if data == sample.HELDOUT else None)
    elif data is None:
        raise UserError("--data is needed with --model: a directory of IDX files or an .npz with arrays x and y")
    out = Path(out)

    inputs = {"model": model.fingerprint(), "data": _data_digest(data),
              "calibration": _data_digest(calibration) if calibration else None}
    settings = {"target": spec.name, "spec_sha256": sha256_file(spec.path)}
    run_key = sha256_json({"inputs": inputs, "settings": settings, "versions": tool_versions(),
                           "code": _code_digest()})
    if (previous := manifest_io.read_current(out, run_key)) is not None:
        return ExportResult(out, previous, reused=True)

    from .graph import Artifact, build
    from .passes import Context
    from .progress import Steps
    from .runtimes import PREDICT
    from .verify import budget_violations, compare

    evaluation = data_io.load(data)
    calib = data_io.load(calibration, split="train") if calibration else None
    if calib is None:  # calibrate on the first part of the data and verify on the rest
        n = min(spec.quantization.calibration_samples, len(evaluation) // 5)
        if n == 0:
            raise UserError(f"{data} holds {len(evaluation)} samples: too few to calibrate and verify; give at least 5")
        calib, evaluation = evaluation.take(0, n), evaluation.take(n)

    cache = Cache(cache_dir)
    rows = []
    with Steps(progress) as steps:
        with steps.step("loading the model"):
            module = model.load()
        for name, dataset, path in (("data", evaluation, data), ("calibration data", calib, calibration or data)):
            _check_fits(dataset, model.input_shape, path, name)
        with steps.step("reference outputs (PyTorch)"):
            reference = _torch_predict(module, evaluation.x)
        _check_labels(evaluation, reference.shape[1], data)
        reference_accuracy = float((reference.argmax(1) == evaluation.y).mean())

        ctx = Context(model=model, calibration=calib, quantization=spec.quantization, steps=steps)
        origin = Artifact("pt2" if model.program else "torch", model.program or model.module_file,
                          sha256_json(inputs["model"]))
        for fmt in spec.artifacts:
            artifact = build(origin, fmt, ctx, cache)
            runtime = FORMATS[fmt].runtime
            with steps.step(f"verifying {fmt} in {runtime} on {len(evaluation)} samples"):
                metrics = compare(PREDICT[runtime](artifact.path, evaluation.x), reference, evaluation.y)
            rows.append((fmt, artifact, runtime, metrics))

    broken = [f"{fmt}: {v}" for fmt, _, _, m in rows
              if fmt.endswith("int8") for v in budget_violations(m, reference_accuracy, spec.budget)]
    if broken:
        raise BudgetError(f"target {spec.name} budget broken: " + "; ".join(broken))

    manifest = {
        "run_key": run_key,
        "target": spec.name,
        "model": model.name,
        "inputs": inputs,
        "settings": settings,
        "versions": tool_versions(),
        "reference": {"runtime": "torch", "samples": len(evaluation), "accuracy": round(reference_accuracy, 6)},
        "artifacts": [],
    }
    for fmt, artifact, runtime, metrics in rows:
        file = f"{model.name}{FORMATS[fmt].suffix}"
        atomic_copy(artifact.path, out / file)
        manifest["artifacts"].append({
            "target": spec.name, "format": fmt, "file": file, "path": str(out / file), "runtime": runtime,
            "size_bytes": artifact.path.stat().st_size, "sha256": sha256_file(artifact.path),
            "metrics": metrics.as_dict(),
        })
    manifest_io.write(out, manifest)
    return ExportResult(out, manifest, reused=False)


def _data_digest(path: Path) -> str:
    path = Path(path)
    if path.is_dir():
        return sha256_json({p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.is_file()})
    if path.is_file():
        return sha256_file(path)
    raise UserError(f"data not found: {path}; give a directory of IDX files or an .npz with arrays x and y")


def _code_digest() -> str:
    return sha256_json({str(p.relative_to(CODE_DIR)): sha256_file(p) for p in sorted(CODE_DIR.rglob("*.py"))})


def _check_fits(dataset, input_shape: tuple[int, ...], path: Path, what: str) -> None:
    if tuple(dataset.x.shape[1:]) != tuple(input_shape[1:]):
        raise UserError(f"{what} {path} has inputs of shape {tuple(dataset.x.shape[1:])} per sample but the model "
                        f"takes {tuple(input_shape[1:])}; give data matching --input-shape (batch first)")


def _check_labels(dataset, classes: int, path: Path) -> None:
    if dataset.y.min() < 0 or dataset.y.max() >= classes:
        raise UserError(f"labels in {path} range over {dataset.y.min()}..{dataset.y.max()} but the model has "
                        f"{classes} outputs; give labels 0..{classes - 1}")


def _torch_predict(module, x: np.ndarray, batch: int = 250) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([module(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])
