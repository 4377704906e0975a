"""What one run works on: the model, its data and recipe, with the sample's defaults filled in, hashed for
the run key, and loaded and checked against each other before any work starts."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..model import data as data_io
from ..model import sample
from ..errors import UserError
from ..files import sha256_file, sha256_json
from ..model.source import ModelSource
from ..config.recipe import Recipe
from ..model.predict import class_output, where
from ..config.targets import TargetSpec, members
from ..verify.before_work import check_before_work
from .versions import tool_versions

CODE_DIR = Path(__file__).resolve().parents[1]  # the package: its code enters the run key


@dataclass(frozen=True)
class Job:
    spec: TargetSpec
    model: ModelSource
    data: object               # a path (IDX directory or .npz), or arrays from the Python API
    calibration: object | None
    recipe: Recipe = field(default_factory=Recipe)
    device: str = "cpu"
    labels_output: str | None = None  # the output the data's labels describe (--labels-output)
    refused: dict = field(default_factory=dict, compare=False)  # group members the converters refused (open())

    @classmethod
    def create(cls, spec: TargetSpec, model: ModelSource | None, data, calibration,
               recipe: Recipe | None = None, device: str = "cpu", labels_output: str | None = None) -> "Job":
        if model is None:
            model = sample.model_source()
            data = data if data is not None else sample.HELDOUT
            calibration = calibration or (sample.CALIBRATION if _is(data, sample.HELDOUT) else None)
        elif data is None:
            raise UserError("--data is needed with --model: a directory of IDX files or an .npz with one array per "
                            "input (x for a single input) and optional labels y")
        if device not in ("cpu", "cuda"):
            raise UserError(f"unknown --train-device '{device}'; choose cpu or cuda")
        return cls(spec, model, _as_path(data), _as_path(calibration), recipe or Recipe(), device, labels_output,
                   refused=_not_installed(spec))

    def quantization(self):
        """The target's scheme with the recipe's [quantize] settings."""
        settings, scheme = self.recipe.quantize, self.spec.quantization
        if settings is None:
            return scheme
        chosen = {k: getattr(settings, k) for k in ("observer", "equalize", "smooth", "bias_correction")
                  if getattr(settings, k) is not None}
        return replace(scheme, keep_float=settings.keep_float, **chosen)

    def members(self) -> list[TargetSpec]:
        """The targets this run builds: the spec (or a group's members), less the members refused before training."""
        return [spec for spec in members(self.spec) if spec.name not in self.refused]

    def input_files(self) -> tuple[Path, ...]:
        """The files this run reads: what a build tool should watch."""
        files = [self.model.module_file, self.model.weights, self.model.program, self.data, self.calibration,
                 self.recipe.source]
        return tuple(Path(f).resolve() for f in files if isinstance(f, Path) and f.is_file())

    def run_key(self, **settings) -> tuple[str, dict]:
        """The key of a run: every input's hash, the settings, tool versions and this package's code."""
        inputs = {"model": self.model.fingerprint(), "data": _digest(self.data),
                  "calibration": _digest(self.calibration) if self.calibration is not None else None,
                  "train_data": _digest(self.recipe.train_data) if self.recipe.train_data else None}
        specs = {self.spec.name: self.spec, **{m.name: m for m in members(self.spec)}}
        settings = {**settings, "target": self.spec.name,
                    "spec_sha256": {name: sha256_file(s.path) for name, s in sorted(specs.items())},
                    "recipe": self.recipe.describe(), "device": self.device,
                    **({"labels_output": self.labels_output} if self.labels_output else {})}
        key = sha256_json({"inputs": inputs, "settings": settings, "versions": tool_versions(),
                           "code": sha256_json({str(p.relative_to(CODE_DIR)): sha256_file(p)
                                                for p in sorted(CODE_DIR.rglob("*.py"))})})
        return key, {"inputs": inputs, "settings": settings}

    def open(self, steps):
        """Load the data and the model, match the data to the model's inputs, and build the passes' context.
        Returns (context, evaluation data, float module)."""
        from ..passes import Context

        evaluation = data_io.load(self.data)
        calib = data_io.load(self.calibration, split="train") if self.calibration is not None else None
        train = data_io.load(self.recipe.train_data, split="train") if self.recipe.train_data else None
        with steps.step("loading the model"):
            model, module = self.model.resolved(evaluation, where(self.data))
        evaluation = data_io.bind(evaluation, model.inputs, where(self.data))
        if calib is not None:
            calib = data_io.bind(calib, model.inputs, where(self.calibration), "calibration data")
        else:  # calibrate on the first part of the data and verify on the rest
            n = min(self.spec.quantization.calibration_samples, len(evaluation) // 5)
            if n == 0:
                raise UserError(f"{where(self.data)} holds {len(evaluation)} samples: too few to calibrate and "
                                "verify; give at least 5")
            calib, evaluation = evaluation.take(0, n), evaluation.take(n)
        if train is not None:
            train = data_io.bind(train, model.inputs, where(self.recipe.train_data), "training data")
        labelled = [(d, w) for d, w in ((evaluation, self.data), (train, self.recipe.train_data)) if d]
        labels_for = class_output(module, model, labelled, self.labels_output)
        check_before_work(self, module, model, steps)
        ctx = Context(model=model, calibration=calib, quantization=self.quantization(), steps=steps,
                      options=self.spec.options, train=train, device=self.device, class_output=labels_for)
        return ctx, evaluation, module


def _not_installed(spec: TargetSpec) -> dict[str, str]:
    """The targets whose backends this install lacks (name -> how to install them): refused for one target,
    named and left out for a group, unless none of its members is installed."""
    from ..backends import install_hint, missing_extras

    found = members(spec)
    lacking = {m.name: f"needs: {install_hint(extras)}" for m in found if (extras := missing_extras(m.artifacts))}
    if lacking and (not spec.include or len(lacking) == len(found)):
        raise UserError("; ".join(f"target {name} {hint}" for name, hint in lacking.items()))
    return lacking


def _as_path(value):
    return Path(value) if isinstance(value, (str, Path)) else value


def _is(value, path: Path) -> bool:
    return isinstance(value, (str, Path)) and Path(value) == path


def _digest(value) -> str:
    if not isinstance(value, (str, Path)):
        return data_io.load(value).digest()
    path = Path(value)
    if path.is_dir():
        return sha256_json({p.name: sha256_file(p) for p in sorted(path.iterdir()) if p.is_file()})
    if path.is_file():
        return sha256_file(path)
    raise UserError(f"data not found: {path}; give a directory of IDX files or an .npz with one array per input "
                    "(x for a single input) and optional labels y")
