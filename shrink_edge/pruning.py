"""Structured pruning: remove whole channels, dependency-aware (torch-pruning), and whole layers the recipe names,
so the result is a smaller dense model on every runtime. checkpoint.py records the pruned shapes and removed
layers so it reloads without unpickling."""
from __future__ import annotations

import torch
from torch import nn

from . import checkpoint
from .errors import UserError
from .settings import PruneSettings


def count(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    import torch_pruning as tp

    macs, params = tp.utils.count_ops_and_params(model, example)
    return {"macs": int(macs), "params": int(params)}


def _head(model: nn.Module) -> list[nn.Module]:
    """The classifier head: the last Linear (or conv) whose outputs are the model's outputs."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    return layers[-1:]


def _missing(name: str, modules: dict[str, nn.Module]) -> UserError:
    return UserError(f"no module named '{name}' in the model; names look like "
                     f"{', '.join(list(n for n in modules if n)[:4])}")


def drop(model: nn.Module, example: torch.Tensor, names: tuple[str, ...]) -> None:
    """Replace each named module with nn.Identity, in place. Only a module whose output has its input's shape can
    go; the caller names whole blocks (a residual block, not its body: x + body(x) would become 2x)."""
    modules = dict(model.named_modules())
    seen: dict[str, tuple] = {}

    def record(name: str):
        def hook(_, args, out) -> None:
            seen.setdefault(name, (args, out))
        return hook

    hooks = []
    for name in names:
        if name not in modules:
            raise _missing(name, modules)
        hooks.append(modules[name].register_forward_hook(record(name)))
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for hook in hooks:
            hook.remove()
    for name in names:
        if name not in seen:
            raise UserError(f"[prune] drop: '{name}' is not called by the model's forward; name a module it runs")
        args, out = seen[name]
        shape_in = tuple(args[0].shape) if len(args) == 1 and isinstance(args[0], torch.Tensor) else None
        if not isinstance(out, torch.Tensor) or shape_in != tuple(out.shape):
            raise UserError(f"[prune] drop: '{name}' turns {shape_in or 'several inputs'} into "
                            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}; only a "
                            "module that returns a tensor of its input's shape can be removed (e.g. a stride-1 "
                            "block with as many output as input channels)")
        checkpoint.remove(model, name)


def prune(model: nn.Module, example: torch.Tensor, settings: PruneSettings,
          batches: list[tuple[torch.Tensor, torch.Tensor]] = ()) -> nn.Module:
    """Physically remove the named layers, then channels, from `model` in place and return it. Taylor importance
    needs `batches`."""
    import torch_pruning as tp

    if not 0 <= settings.ratio < 1:
        raise UserError(f"pruning ratio {settings.ratio} is out of range; give 0 <= ratio < 1 (e.g. 0.5)")
    drop(model, example, settings.drop)
    modules = dict(model.named_modules())
    for name in [*settings.ignore, *(n for n, _ in settings.layer_ratios)]:
        if name not in modules:
            raise _missing(name, modules)
    ignored = _head(model) + [modules[n] for n in settings.ignore]
    if settings.importance == "taylor":
        if not batches:
            raise UserError("Taylor importance needs training data to take gradients on; give --train-data")
        importance = tp.importance.GroupTaylorImportance()
    elif settings.importance == "magnitude":
        importance = tp.importance.GroupMagnitudeImportance(p=2)
    else:
        raise UserError(f"unknown importance '{settings.importance}'; choose magnitude or taylor")
    prunable = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))
                and m not in ignored]
    if not prunable:
        raise UserError("the model has nothing to prune: no conv or linear layer besides the protected ones")
    model.eval()
    try:
        pruner = tp.pruner.BasePruner(
            model, example, importance=importance, pruning_ratio=settings.ratio,
            pruning_ratio_dict={modules[n]: r for n, r in settings.layer_ratios} or None,
            ignored_layers=ignored, round_to=settings.round_to or None)
        if settings.importance == "taylor":
            model.zero_grad()
            for x, y in batches:
                nn.functional.cross_entropy(model(x), y).backward()
        pruner.step()
    except UserError:
        raise
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"torch-pruning cannot trace the model: {type(e).__name__}: {first}") from None
    model.zero_grad(set_to_none=True)
    return model
