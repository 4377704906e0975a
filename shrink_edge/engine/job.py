"""What one run works on: the model, its data and recipe, with the sample's defaults filled in, hashed for
the run key, and loaded and checked against each other before any work starts."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..model import data as data_io
from ..model import sample
from ..errors import UserError
from ..files import sha256_file, sha256_json
from ..model.source import ModelSource
from ..config.recipe import Recipe
from ..model.signature import as_numpy, examples, flatten_outputs
from ..config.targets import TargetSpec, members
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
    refused: dict = field(default_factory=dict, compare=False)  # group members the converters refused (open())

    @classmethod
    def create(cls, spec: TargetSpec, model: ModelSource | None, data, calibration,
               recipe: Recipe | None = None, device: str = "cpu") -> "Job":
        if model is None:
            model = sample.model_source()
            data = data if data is not None else sample.HELDOUT
            calibration = calibration or (sample.CALIBRATION if _is(data, sample.HELDOUT) else None)
        elif data is None:
            raise UserError("--data is needed with --model: a directory of IDX files or an .npz with one array per "
                            "input (x for a single input) and optional labels y")
        if device not in ("cpu", "cuda"):
            raise UserError(f"unknown --train-device '{device}'; choose cpu or cuda")
        return cls(spec, model, _as_path(data), _as_path(calibration), recipe or Recipe(), device,
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
                    "recipe": self.recipe.describe(), "device": self.device}
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
            model, module = self.model.resolved(evaluation, _where(self.data))
        evaluation = data_io.bind(evaluation, model.inputs, _where(self.data))
        if calib is not None:
            calib = data_io.bind(calib, model.inputs, _where(self.calibration), "calibration data")
        else:  # calibrate on the first part of the data and verify on the rest
            n = min(self.spec.quantization.calibration_samples, len(evaluation) // 5)
            if n == 0:
                raise UserError(f"{_where(self.data)} holds {len(evaluation)} samples: too few to calibrate and "
                                "verify; give at least 5")
            calib, evaluation = evaluation.take(0, n), evaluation.take(n)
        if train is not None:
            train = data_io.bind(train, model.inputs, _where(self.recipe.train_data), "training data")
        class_output = _class_output(module, model, [(d, w) for d, w in ((evaluation, self.data),
                                                                          (train, self.recipe.train_data)) if d])
        self._lint(module, model, steps)
        ctx = Context(model=model, calibration=calib, quantization=self.quantization(), steps=steps,
                      options=self.spec.options, train=train, device=self.device, class_output=class_output)
        return ctx, evaluation, module

    def _lint(self, module, model: ModelSource, steps) -> None:
        """Say now, before any training, what a target will not convert (its declared limits; and, when a recipe
        trains, what the real converters refuse), and what it will fix in place."""
        from ..verify.lint import beyond_limits, dynamic_dims
        from ..passes.torch_export import export_program

        specs = self.members()
        with steps.step("checking the model against the targets"):
            program = export_program(module, model.inputs)
        problems = [f"{s.name}: {', '.join(found)}" for s in specs
                     if (found := beyond_limits(program, s, model.input_shape))]
        if not problems and self.recipe.passes(self.spec):  # minutes of training ahead: try the converters first
            from ..verify.conversion_check import by_target

            with steps.step("converting the float model for each target"):
                reasons = by_target(module, model, specs)
            problems = [f"{name}: {reason}" for name, reason in reasons.items()]
            if self.spec.include and len(reasons) < len(specs):  # a group: the others are trained and built
                self.refused.update(reasons)
                for name, reason in reasons.items():
                    steps.note(f"{name} refused: {reason}")
                problems = []
        if problems:
            raise UserError("the model will not convert: " + "; ".join(problems) +
                            "; change those layers or choose another target")
        if model.program is None:
            return
        shape = model.input_shape
        if fixed := [d for d in dynamic_dims(module) if d > 0]:  # module: the program's own, as loaded
            steps.note(f"dimensions {', '.join(map(str, fixed))} of the input are dynamic in {model.program}; "
                       f"the int8 artifacts fix them at {', '.join(str(shape[d]) for d in fixed)} (--input-shape)")
        if static := [s.name for s in specs if s.limits.static_shapes]:
            steps.note(f"static input shapes in {', '.join(static)}: the batch is fixed at {shape[0]} (--input-shape)")


def _not_installed(spec: TargetSpec) -> dict[str, str]:
    """The targets whose backends this install lacks (name -> how to install them): refused for one target,
    named and left out for a group, unless none of its members is installed."""
    from ..backends import install_hint, missing_extras

    found = members(spec)
    lacking = {m.name: f"needs: {install_hint(extras)}" for m in found if (extras := missing_extras(m.artifacts))}
    if lacking and (not spec.include or len(lacking) == len(found)):
        raise UserError("; ".join(f"target {name} {hint}" for name, hint in lacking.items()))
    return lacking


def predict_torch(module, inputs: list[np.ndarray], batch: int = 250) -> list[np.ndarray]:
    """The module's outputs on every sample, one array per output."""
    import torch

    chunks = []
    with torch.no_grad():
        for i in range(0, len(inputs[0]), batch):
            chunks.append(as_numpy(flatten_outputs(module(*(torch.from_numpy(x[i:i + batch]) for x in inputs)))))
    return [np.concatenate(parts) for parts in zip(*chunks)]


def _class_output(module, model: ModelSource, labelled: list) -> int | None:
    """Which output the labels are for: the class scores, (batch, classes). None without labels."""
    import torch

    labelled = [(d, w) for d, w in labelled if d.class_labels is not None]
    if not labelled:
        return None
    with torch.no_grad():
        outs = flatten_outputs(module(*examples(model.inputs)))
    scores = [i for i, o in enumerate(outs) if o.ndim == 2 and o.dtype.is_floating_point]
    if not scores:
        raise UserError(f"{_where(labelled[0][1])} has labels y but no output of the model holds class scores "
                        f"(batch, classes): it returns {', '.join(f'{n} {tuple(o.shape)}' for n, o in zip(model.outputs, outs))}; "
                        "leave y out to verify every output against the float model")
    index = scores[0]
    classes = int(outs[index].shape[1])
    for dataset, where in labelled:
        if dataset.class_labels.min() < 0 or dataset.class_labels.max() >= classes:
            raise UserError(f"labels in {_where(where)} range over {dataset.class_labels.min()}..{dataset.class_labels.max()} "
                            f"but the model's {model.outputs[index]} has {classes} outputs; give labels "
                            f"0..{classes - 1}")
    return index


def _as_path(value):
    return Path(value) if isinstance(value, (str, Path)) else value


def _is(value, path: Path) -> bool:
    return isinstance(value, (str, Path)) and Path(value) == path


def _where(value) -> str:
    return str(value) if isinstance(value, (str, Path)) else "the data passed in"


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
