"""The converter graph: artifact formats are nodes, passes are edges; a plan is the shortest path."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from .cache import Cache
from ..errors import UserError, first_line
from ..files import sha256_json
from ..backends import FORMATS, PASSES
from ..passes import Context, Pass
from .versions import tool_versions


@dataclass(frozen=True)
class Artifact:
    format: str
    path: Path | None  # None: the user's original model
    key: str  # content key: what it was made from and how


def plan(source: str, target: str, passes: tuple[Pass, ...] = PASSES) -> list[Pass]:
    """Breadth-first search from one format to another; fewest passes wins."""
    came_by: dict[str, Pass | None] = {source: None}
    queue = deque([source])
    while queue:
        fmt = queue.popleft()
        if fmt == target:
            path = []
            while came_by[fmt] is not None:
                path.append(came_by[fmt])
                fmt = came_by[fmt].source
            return path[::-1]
        for p in passes:
            if p.source == fmt and p.target not in came_by:
                came_by[p.target] = p
                queue.append(p.target)
    raise UserError(f"no conversion path from a {source} model to {target}; "
                    f"formats reachable from {source}: {', '.join(sorted(set(came_by) - {source})) or 'none'}")


def reachable(source: str, target: str) -> bool:
    try:
        plan(source, target)
        return True
    except UserError:
        return False


def run_chain(origin: Artifact, passes: list[Pass], ctx: Context, cache: Cache) -> Artifact:
    """Run passes one after another, reusing every cached intermediate."""
    current = origin
    for p in passes:
        if p.source != current.format:
            raise UserError(f"pass {p.name} takes a {p.source} model, not {current.format}")
        key = sha256_json({"pass": p.name, "version": p.version, "input": current.key,
                           "settings": p.settings(ctx), "tools": tool_versions()})
        src = current.path
        with ctx.steps.step(f"{p.name}: {p.source} -> {p.target}"):
            try:
                path, _ = cache.get_or_create(key, f"artifact{FORMATS[p.target].suffix}",
                                              lambda dst: p.run(src, dst, replace(ctx, scratch=cache.scratch(key))))
            except (UserError, KeyboardInterrupt):
                raise
            except Exception as e:  # a converter failing deep inside: one line, naming the pass and its reason
                raise UserError(f"{p.name} could not convert the {p.source} model to {p.target}: "
                                f"{type(e).__name__}: {first_line(e)}") from None
        current = Artifact(p.target, path, key)
    return current


def build(origin: Artifact, target: str, ctx: Context, cache: Cache) -> Artifact:
    """Convert origin to the target format by the shortest plan."""
    return run_chain(origin, plan(origin.format, target), ctx, cache)
