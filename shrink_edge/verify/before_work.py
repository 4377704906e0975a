"""Before any training or conversion, say what a target will not take: its declared limits (lint.py) and, when a
recipe trains, what the real converters refuse (conversion_check.py); a group's refusing members are left out."""
from __future__ import annotations

from ..errors import UserError
from ..model.source import ModelSource
from ..passes.torch_export import export_program
from .lint import beyond_limits, dynamic_dims


def check_before_work(job, module, model: ModelSource, steps) -> None:
    """Say now, before any training, what a target will not convert (its declared limits; and, when a recipe
    trains, what the real converters refuse), and what it will fix in place."""
    specs = job.members()
    with steps.step("checking the model against the targets"):
        program = export_program(module, model.inputs)
    problems = [f"{s.name}: {', '.join(found)}" for s in specs
                if (found := beyond_limits(program, s, model.input_shape))]
    if not problems and job.recipe.passes(job.spec):  # minutes of training ahead: try the converters first
        from .conversion_check import by_target

        with steps.step("converting the float model for each target"):
            reasons = by_target(module, model, specs)
        problems = [f"{name}: {reason}" for name, reason in reasons.items()]
        if job.spec.include and len(reasons) < len(specs):  # a group: the others are trained and built
            job.refused.update(reasons)
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
