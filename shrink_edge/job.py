"""What one run works on: the model, its data and recipe, with the sample's defaults filled in, hashed for
the run key, and loaded and checked against each other before any work starts."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import data as data_io
from . import sample
from .errors import UserError
from .files import sha256_file, sha256_json
from .model_source import ModelSource
from .recipe import Recipe
from .targets import TargetSpec, members
from .versions import tool_versions

CODE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Job:
    spec: TargetSpec
    model: ModelSource
    data: Path
    calibration: Path | None
    recipe: Recipe = field(default_factory=Recipe)
    device: str = "cpu"

    @classmethod
    def create(cls, spec: TargetSpec, model: ModelSource | None, data: Path | None, calibration: Path | None,
               recipe: Recipe | None = None, device: str = "cpu") -> "Job":
        if model is None:
            model = sample.model_source()
            data = data or sample.HELDOUT
            calibration = calibration or (sample.CALIBRATION if data == sample.HELDOUT else None)
        elif data is None:
            raise UserError("--data is needed with --model: a directory of IDX files or an .npz with arrays x and y")
        if device not in ("cpu", "cuda"):
            raise UserError(f"unknown --device '{device}'; choose cpu or cuda")
        return cls(spec, model, Path(data), Path(calibration) if calibration else None, recipe or Recipe(), device)

    def input_files(self) -> tuple[Path, ...]:
        """The files this run reads: what a build tool should watch."""
        files = [self.model.module_file, self.model.weights, self.model.program, self.data, self.calibration,
                 self.recipe.source]
        return tuple(Path(f).resolve() for f in files if f is not None and Path(f).is_file())

    def run_key(self, **settings) -> tuple[str, dict]:
        """The key of a run: every input's hash, the settings, tool versions and this package's code."""
        inputs = {"model": self.model.fingerprint(), "data": _digest(self.data),
                  "calibration": _digest(self.calibration) if self.calibration else None,
                  "train_data": _digest(self.recipe.train_data) if self.recipe.train_data else None}
        specs = {self.spec.name: self.spec, **{m.name: m for m in members(self.spec)}}
        settings = {**settings, "target": self.spec.name,
                    "spec_sha256": {name: sha256_file(s.path) for name, s in sorted(specs.items())},
                    "recipe": self.recipe.describe(), "device": self.device}
        key = sha256_json({"inputs": inputs, "settings": settings, "versions": tool_versions(),
                           "code": sha256_json({str(p.relative_to(CODE_DIR)): sha256_file(p)
                                                for p in sorted(CODE_DIR.rglob("*.py"))})})
        return key, {"inputs": inputs, "settings": settings}

    def open(self, steps):
        """Load the data and the model, check they fit each other, and build the passes' context.
        Returns (context, evaluation data, float module)."""
        import torch

        from .passes import Context

        evaluation = data_io.load(self.data)
        calib = data_io.load(self.calibration, split="train") if self.calibration else None
        if calib is None:  # calibrate on the first part of the data and verify on the rest
            n = min(self.spec.quantization.calibration_samples, len(evaluation) // 5)
            if n == 0:
                raise UserError(f"{self.data} holds {len(evaluation)} samples: too few to calibrate and verify; "
                                "give at least 5")
            calib, evaluation = evaluation.take(0, n), evaluation.take(n)
        train = data_io.load(self.recipe.train_data, split="train") if self.recipe.train_data else None
        with steps.step("loading the model"):
            module = self.model.load()
        checks = [("data", evaluation, self.data), ("calibration data", calib, self.calibration or self.data)]
        if train is not None:
            checks.append(("training data", train, self.recipe.train_data))
        for what, dataset, path in checks:
            _check_fits(dataset, self.model.input_shape, path, what)
        with torch.no_grad():
            classes = int(module(torch.zeros(self.model.input_shape)).shape[1])
        self._lint(module, steps)
        for what, dataset, path in checks:
            _check_labels(dataset, classes, path)
        ctx = Context(model=self.model, calibration=calib, quantization=self.spec.quantization, steps=steps,
                      options=self.spec.options, train=train, device=self.device)
        return ctx, evaluation, module


    def _lint(self, module, steps) -> None:
        """Say now, before any training, what a target will not convert, and what it will fix in place."""
        from .lint import beyond_limits, dynamic_dims, unsupported
        from .passes.torch_export import export_program

        specs = members(self.spec)
        with steps.step("checking the model against the targets"):
            program = export_program(module, self.model.input_shape)
        problems = [f"{s.name} lacks {', '.join(ops)}" for s in specs if (ops := unsupported(program, s))]
        problems += [f"{s.name}: {', '.join(found)}" for s in specs
                     if (found := beyond_limits(program, s, self.model.input_shape))]
        if problems:
            raise UserError("the model will not convert: " + "; ".join(problems) +
                            "; change those layers or choose another target")
        if self.model.program is None:
            return
        shape = self.model.input_shape
        if fixed := [d for d in dynamic_dims(module) if d > 0]:  # module: the program's own, as loaded
            steps.note(f"dimensions {', '.join(map(str, fixed))} of the input are dynamic in {self.model.program}; "
                       f"the int8 artifacts fix them at {', '.join(str(shape[d]) for d in fixed)} (--input-shape)")
        if static := [s.name for s in specs if s.limits.static_shapes]:
            steps.note(f"static input shapes in {', '.join(static)}: the batch is fixed at {shape[0]} (--input-shape)")


def predict_torch(module, x: np.ndarray, batch: int = 250) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([module(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)])


def _digest(path: Path) -> str:
    path = Path(path)
    if path.is_dir():
        return sha256_json({p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.is_file()})
    if path.is_file():
        return sha256_file(path)
    raise UserError(f"data not found: {path}; give a directory of IDX files or an .npz with arrays x and y")


def _check_fits(dataset, input_shape: tuple[int, ...], path: Path, what: str) -> None:
    if tuple(dataset.x.shape[1:]) != tuple(input_shape[1:]):
        raise UserError(f"{what} {path} has inputs of shape {tuple(dataset.x.shape[1:])} per sample but the model "
                        f"takes {tuple(input_shape[1:])}; give data matching --input-shape (batch first)")


def _check_labels(dataset, classes: int, path: Path) -> None:
    if dataset.y.min() < 0 or dataset.y.max() >= classes:
        raise UserError(f"labels in {path} range over {dataset.y.min()}..{dataset.y.max()} but the model has "
                        f"{classes} outputs; give labels 0..{classes - 1}")
