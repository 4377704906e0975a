"""`debug`: rank the layers of a model's int8 program by the accuracy they lose (layer_debug), on held-out data."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..config import targets
from ..engine.cache import Cache
from ..errors import UserError
from ..engine.job import Job
from ..verify.layer_debug import Diagnosis, diagnose
from ..model.source import as_source, load_program
from ..config.recipe import Recipe, as_recipe

SAMPLES = 128
RUNTIME_SAMPLES = 32  # an artifact's every int8 tensor is held in memory for these


def int8_program(ctx, optimized, cache: Cache):
    """The unfolded int8 program the artifacts come from, and what the debugger cannot see in it. After QAT the
    float weights are gone (the program holds their int8 values), so a layer's weight error is not measured."""
    from ..engine.graph import build
    from ..passes.ptq import calibrated
    from ..quant.scheme import unfold_weights

    if optimized.int8_model is not None:
        program = load_program(optimized.int8_model.path).module()
        unfold_weights(program)
        return program, "QAT program: its weights hold their int8 values, so only activations are measured"
    pt2 = build(optimized.float_model, "pt2", ctx, cache)
    return calibrated(load_program(pt2.path).module(), ctx, fold=False), None


def diagnosis(job: Job, ctx, evaluation, cache: Cache, samples: int = SAMPLES) -> tuple[Diagnosis, str | None]:
    """The ranking of the layers of the program the run's artifacts come from."""
    from .optimize import run_recipe

    program, caveat = int8_program(ctx, run_recipe(job, ctx, cache), cache)
    return diagnose(program, [x[:samples] for x in evaluation.arrays()], ctx.steps), caveat


def runtime_columns(job, ctx, evaluation, cache: Cache, optimized, program, samples: int = SAMPLES) -> dict[str, dict]:
    """For each int8 artifact of the job whose runtime exposes its activations, every layer's tensor in it
    (layer_debug.runtime_errors), by format."""
    from ..backends import owner
    from ..engine.graph import build
    from ..verify.layer_debug import runtime_errors

    columns = {}
    inputs = {name: x[:min(samples, RUNTIME_SAMPLES)] for name, x in evaluation.inputs.items()}
    for spec in job.members():
        for fmt in spec.artifacts:
            backend = owner(fmt)
            if not from_int8_program(fmt) or backend.intermediates is None or fmt in columns:
                continue
            artifact = build(optimized.start(fmt), fmt, replace(ctx, options=spec.options), cache)
            with ctx.steps.step(f"reading every int8 tensor of {fmt} in {backend.name}"):
                columns[fmt] = runtime_errors(program, list(inputs.values()),
                                              backend.intermediates(artifact.path, inputs))
    return columns


def from_int8_program(fmt: str) -> bool:
    """Whether a format is built from the static int8 program (not a float file or a dynamically quantized one)."""
    from ..backends import FORMATS
    from ..engine.graph import reachable

    return FORMATS[fmt].quantized and reachable("pt2-int8", fmt)


def debug(model=None, example_inputs=None, target: str = "tflite", data=None, calibration=None,
          recipe: Recipe | Path | None = None, cache_dir: Path | None = None, samples: int = SAMPLES,
          device: str = "cpu", progress: bool = True, runtimes: bool = True,
          labels_output: str | None = None) -> dict:
    """Measure each layer of `model`'s int8 program for `target` (its scheme, the recipe's passes and keep_float)
    on `samples` samples of `data`; returns the ranking and each layer's figures (Diagnosis.as_dict). With
    `runtimes`, each int8 artifact whose runtime exposes its activations (ONNX, LiteRT) is read layer by layer too,
    on the first RUNTIME_SAMPLES samples: per layer and format, its tensor against float and against the int8
    program."""
    from .optimize import run_recipe
    from ..progress import Steps

    job = Job.create(targets.resolve(target), as_source(model, example_inputs), data, calibration,
                     as_recipe(recipe), device, labels_output)
    from ..backends import FORMATS

    if not any(from_int8_program(fmt) for spec in job.members() for fmt in spec.artifacts):
        held = [f for f in job.spec.artifacts if FORMATS[f].quantized]
        dynamic = all(FORMATS[f].activations == "dynamic" for f in held)
        what = "quantize activations at run time" if dynamic else "are not int8"
        raise UserError(f"target {job.spec.name} writes no file from the static int8 program that debug ranks "
                        f"({', '.join(held)} {what}); debug the static scheme with its runtime's static target "
                        "(--target onnx or tflite)")
    cache = Cache(cache_dir)
    with Steps(progress) as steps:
        ctx, evaluation, _ = job.open(steps)
        optimized = run_recipe(job, ctx, cache)
        program, caveat = int8_program(ctx, optimized, cache)
        found = diagnose(program, [x[:samples] for x in evaluation.arrays()], steps)
        columns = runtime_columns(job, ctx, evaluation, cache, optimized, program, samples) if runtimes else {}
    result = found.as_dict()
    for layer in result["ranked"]:
        layer["artifacts"] = {fmt: errors[layer["layer"]] for fmt, errors in columns.items() if layer["layer"] in errors}
    return {"model": ctx.model.name, "target": job.spec.name, "keep_float": list(ctx.quantization.keep_float),
            "artifacts": list(columns), **result, **({"caveat": caveat} if caveat else {})}
