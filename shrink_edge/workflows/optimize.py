"""`optimize`: run a recipe's passes (prune -> distill -> QAT) and write the optimized checkpoint."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import manifest as manifest_io
from ..engine.manifest import Entry, Manifest
from ..config import targets
from ..engine.cache import Cache
from ..errors import UserError
from ..files import atomic_copy, sha256_json
from ..backends import FORMATS
from ..engine.job import Job
from ..model.predict import predict_torch
from ..model.source import ModelSource, as_source, load_program
from ..config.recipe import Recipe, as_recipe
from ..model.signature import examples
from ..verify.metrics import compare, rounded
from ..engine.versions import tool_versions

if TYPE_CHECKING:
    from ..engine.graph import Artifact


@dataclass(frozen=True)
class Optimized:
    float_model: Artifact          # after pruning and distillation (the origin when the recipe has neither)
    int8_model: Artifact | None    # the converted QAT program, when the recipe has [qat]

    def start(self, fmt: str) -> Artifact:
        """Where a format is built from: int8 formats from the QAT program when there is one, the rest from the
        float model."""
        from ..engine.graph import reachable

        if self.int8_model is not None and reachable(self.int8_model.format, fmt):
            return self.int8_model
        return self.float_model

    def reference(self, model: ModelSource):
        """The PyTorch module every exported artifact is verified against: the QAT model when there is one."""
        if self.int8_model is not None:
            return load_program(self.int8_model.path).module()
        if self.float_model.format == "pt2":  # the user's own program, unchanged
            return model.load()
        return model.load(self.float_model.path)


def output_scales(program_module) -> list[float | None]:
    """An int8 program's quantization step of each output, the unit of an int8 artifact's error (None for an
    output that is not quantized)."""
    import torch

    outputs = next(n for n in program_module.graph.nodes if n.op == "output").args[0]
    dequantize = torch.ops.quantized_decomposed.dequantize_per_tensor.default
    return [float(o.args[1]) if getattr(o, "target", None) == dequantize else None for o in outputs]


def origin(model) -> Artifact:
    """The user's model as the graph's first artifact; `model` is the resolved source (a factory without weights
    carries this run's random weights, which its key must know)."""
    from ..engine.graph import Artifact  # the converter graph imports every converter: only when there is work

    return Artifact("pt2" if model.program else "torch", model.program, sha256_json(model.fingerprint()))


def run_recipe(job: Job, ctx, cache: Cache) -> Optimized:
    passes = job.recipe.passes(job.spec)
    start = origin(ctx.model)
    if passes and start.format != "torch":
        raise UserError("pruning, distillation and QAT need the model's Python source: give --model file.py:factory")
    from ..engine.graph import run_chain

    float_model = run_chain(start, [p for p in passes if p.target == "torch"], ctx, cache)
    int8 = [p for p in passes if p.target != "torch"]
    return Optimized(float_model, run_chain(float_model, int8, ctx, cache) if int8 else None)


@dataclass(frozen=True)
class OptimizeResult:
    out: Path
    manifest: dict
    reused: bool


def optimize(recipe: Recipe, target: str = "onnx", model: ModelSource | None = None, data: Path | None = None,
             calibration: Path | None = None, out: Path = Path("out"), cache_dir: Path | None = None,
             device: str = "cpu", progress: bool = True, labels_output: str | None = None) -> OptimizeResult:
    """Run `recipe` on `model` (default: the sample); write the float checkpoint (pruned, distilled) and the
    QAT int8 program into `out` with a manifest of params, MACs and held-out accuracy at each stage."""
    from ..compress.pruning import count
    from ..progress import Steps

    recipe = as_recipe(recipe)
    job = Job.create(targets.resolve(target), as_source(model), data, calibration, recipe, device, labels_output)
    if not recipe.passes(job.spec):
        raise UserError("the recipe runs no pass: add a [prune], [distill] or [qat] section (or --set prune.ratio=0.5)")
    run_key, described = job.run_key(command="optimize")
    out = Path(out)
    if (previous := manifest_io.read_current(out, run_key)) is not None:
        return OptimizeResult(out, previous, reused=True)

    with Steps(progress) as steps:
        ctx, evaluation, original = job.open(steps)
        optimized = run_recipe(job, ctx, cache=Cache(cache_dir))
        example = examples(ctx.model.inputs)
        optimized_float = ctx.model.load(optimized.float_model.path)
        stages = {"original": (original, count(original, example)),
                  "optimized_float": (optimized_float, count(optimized_float, example))}
        if optimized.int8_model is not None:
            stages["qat_int8"] = (optimized.reference(ctx.model), stages["optimized_float"][1])

    reference = predict_torch(original, evaluation.arrays())
    report = {}
    for name, (m, stats) in stages.items():
        metrics = compare(predict_torch(m, evaluation.arrays()), reference, ctx.model.outputs, evaluation.class_labels,
                          ctx.class_output)
        report[name] = {**stats, "accuracy": rounded(metrics.accuracy), "cosine": rounded(metrics.worst("cosine"))}
    manifest = Manifest(run_key, "optimize", job.model.name, **described, versions=tool_versions(),
                        evaluated_on=len(evaluation), stages=report)
    outputs = [("optimized_float", optimized.float_model, ".optimized"), ("qat_int8", optimized.int8_model, ".qat")]
    for stage, artifact, infix in outputs:
        if artifact is None or artifact.path is None:
            continue
        file = f"{job.model.name}{infix}{FORMATS[artifact.format].suffix}"
        atomic_copy(artifact.path, out / file)
        manifest.artifacts.append(Entry.of(artifact.path, out, file, artifact.format, stage=stage))
    return OptimizeResult(out, manifest_io.write(out, manifest), reused=False)
