"""Structured pruning: remove whole channels, dependency-aware (torch-pruning), so the result is a smaller
dense model on every runtime. checkpoint.py records the pruned shapes so it reloads without unpickling."""
from __future__ import annotations

import torch
from torch import nn

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


def prune(model: nn.Module, example: torch.Tensor, settings: PruneSettings,
          batches: list[tuple[torch.Tensor, torch.Tensor]] = ()) -> nn.Module:
    """Physically remove channels from `model` in place and return it. Taylor importance needs `batches`."""
    import torch_pruning as tp

    if not 0 <= settings.ratio < 1:
        raise UserError(f"pruning ratio {settings.ratio} is out of range; give 0 <= ratio < 1 (e.g. 0.5)")
    modules = dict(model.named_modules())
    for name in [*settings.ignore, *(n for n, _ in settings.layer_ratios)]:
        if name not in modules:
            raise UserError(f"no module named '{name}' in the model; names look like "
                            f"{', '.join(list(n for n in modules if n)[:4])}")
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
