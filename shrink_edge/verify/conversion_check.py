"""Before any training: will the real converters and runtimes take the float model? Each backend's check runs its
converter on the float model (seconds) and its runtime loads the result, so what they refuse is said in one line
before minutes of pruning and QAT, in their own words: no list of ours stands between a model and a converter.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from ..backends import backend
from ..config.targets import TargetSpec


def problems(module, model, specs: list[TargetSpec]) -> list[str]:
    """One line per backend whose converter or runtime refuses the float model; empty when all take it."""
    by_runtime: dict[str, list[TargetSpec]] = {}
    for spec in specs:
        by_runtime.setdefault(spec.runtime, []).append(spec)
    found = []
    with tempfile.TemporaryDirectory() as folder:  # shared: backends with one converter convert once
        for runtime, members in by_runtime.items():
            if check := backend(runtime).check:
                found += check(module, model, members, Path(folder))
    return found


def by_target(module, model, specs: list[TargetSpec]) -> dict[str, str]:
    """The same refusals by target name (a line that names several targets is each one's reason)."""
    reasons: dict[str, list[str]] = {}
    for line in problems(module, model, specs):
        names, _, reason = line.partition(": ")
        for name in names.split(", "):
            reasons.setdefault(name, []).append(reason)
    return {name: "; ".join(found) for name, found in reasons.items()}
