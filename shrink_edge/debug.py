"""`debug`: rank the layers of a model's int8 program by the accuracy they lose (layer_debug), on held-out data."""
from __future__ import annotations

from pathlib import Path

from . import targets
from .cache import Cache
from .job import Job
from .layer_debug import Diagnosis, diagnose
from .model_source import as_source, load_program
from .recipe import Recipe, as_recipe

SAMPLES = 128


def int8_program(ctx, optimized, cache: Cache):
    """The unfolded int8 program the artifacts come from, and what the debugger cannot see in it. After QAT the
    float weights are gone (the program holds their int8 values), so a layer's weight error is not measured."""
    from .graph import build
    from .passes.ptq import calibrated
    from .quantization import unfold_weights

    if optimized.int8_model is not None:
        program = load_program(optimized.int8_model.path).module()
        unfold_weights(program)
        return program, "QAT program: its weights hold their int8 values, so only activations are measured"
    pt2 = build(optimized.float_model, "pt2", ctx, cache)
    return calibrated(load_program(pt2.path).module(), ctx, fold=False), None


def diagnosis(job: Job, ctx, evaluation, cache: Cache, samples: int = SAMPLES) -> tuple[Diagnosis, str | None]:
    from .optimizer import run_recipe

    program, caveat = int8_program(ctx, run_recipe(job, ctx, cache), cache)
    inputs = [x[:samples] for x in evaluation.arrays()]
    return diagnose(program, inputs, ctx.steps), caveat


def debug(model=None, example_inputs=None, target: str = "tflite", data=None, calibration=None,
          recipe: Recipe | Path | None = None, cache_dir: Path | None = None, samples: int = SAMPLES,
          device: str = "cpu", progress: bool = True) -> dict:
    """Measure each layer of `model`'s int8 program for `target` (its scheme, the recipe's passes and keep_float)
    on `samples` samples of `data`; returns the ranking and each layer's figures (Diagnosis.as_dict)."""
    from .progress import Steps

    job = Job.create(targets.resolve(target), as_source(model, example_inputs), data, calibration,
                     as_recipe(recipe), device)
    with Steps(progress) as steps:
        ctx, evaluation, _ = job.open(steps)
        found, caveat = diagnosis(job, ctx, evaluation, Cache(cache_dir), samples)
    return {"model": ctx.model.name, "target": job.spec.name, "keep_float": list(ctx.quantization.keep_float),
            **found.as_dict(), **({"caveat": caveat} if caveat else {})}
