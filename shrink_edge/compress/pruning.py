"""Structured pruning: remove whole channels, dependency-aware (torch-pruning), and whole layers the recipe names,
so the result is a smaller dense model on every runtime. checkpoint.py records the pruned shapes and removed
layers so it reloads without unpickling."""
from __future__ import annotations

import torch
from torch import nn

from ..model import checkpoint
from ..errors import UserError
from ..config.settings import PruneSettings


# Autograd nodes that keep the channels of their input: an output reached through them from a layer fixes
# that layer's output channels, so the layer is a head.
_PASS_THROUGH = ("View", "Reshape", "UnsafeView", "Permute", "Transpose", "Clone", "Squeeze", "Unsqueeze", "Cat",
                 "Stack", "Split", "Select", "Slice", "Mean", "Sum", "Add", "Sub", "Mul", "Div", "Sigmoid", "Softmax",
                 "LogSoftmax", "Tanh", "Relu", "Hardtanh", "Hardswish", "Hardsigmoid", "Gelu", "Silu", "Expand",
                 "NativeLayerNorm", "NativeBatchNorm", "CudnnBatchNorm", "AdaptiveAvgPool2D", "AvgPool2D",
                 "MaxPool2DWithIndices", "Upsample", "Contiguous", "Neg", "Exp", "Pow", "Sqrt", "Clamp", "Flatten")


def count(model: nn.Module, example: tuple) -> dict[str, int]:
    import torch_pruning as tp

    macs, params = tp.utils.count_ops_and_params(model, example)
    return {"macs": int(macs), "params": int(params)}


def _op(node) -> str:
    return type(node).__name__.removesuffix("Backward0").removesuffix("Backward1")


def _trace(model: nn.Module, example: tuple):
    """Run the model once with autograd on: its outputs (which keep the graph alive), which layer made each
    tensor (by its grad_fn's id), and the layers."""
    from ..model.signature import flatten_outputs

    made_by: dict[int, nn.Module] = {}

    def record(module):
        def hook(_, __, out) -> None:
            if isinstance(out, torch.Tensor) and out.grad_fn is not None:
                made_by[id(out.grad_fn)] = module
        return hook

    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd, nn.Embedding))]
    hooks = [m.register_forward_hook(record(m)) for m in layers]
    try:
        with torch.enable_grad():
            outputs = [o for o in flatten_outputs(model.eval()(*example)) if o.grad_fn is not None]
    finally:
        for hook in hooks:
            hook.remove()
    return outputs, made_by, layers


def _sources(nodes, made_by: dict) -> list[nn.Module]:
    """The layers that made these tensors, walking back through ops that keep channels."""
    found, seen, stack = [], set(), list(nodes)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in made_by:
            if made_by[id(node)] not in found:
                found.append(made_by[id(node)])
            continue
        if _op(node) in _PASS_THROUGH:
            stack.extend(next_node for next_node, _ in node.next_functions)
    return found


def _is_weight(node) -> bool:
    """Whether a matmul operand is a parameter (through views and transposes), not an activation."""
    stack = [node]
    while stack:
        node = stack.pop()
        if node is None or type(node).__name__ == "AccumulateGrad":
            continue
        if _op(node) not in (*_PASS_THROUGH, "T"):
            return False
        stack.extend(next_node for next_node, _ in node.next_functions)
    return True


def heads(model: nn.Module, example: tuple) -> list[nn.Module]:
    """The layers whose output channels are the model's outputs (a classifier, each head of a detector): found by
    walking back from every output through ops that keep channels to the conv or linear layer that made them."""
    outputs, made_by, layers = _trace(model, example)
    return _sources([o.grad_fn for o in outputs], made_by) or layers[-1:]


def attention_projections(model: nn.Module, example: tuple) -> list[nn.Module]:
    """The layers whose outputs meet another activation in a matmul: attention's query, key and value projections
    written as separate linear layers (Hugging Face's BertSelfAttention and most hand-written attention). Their
    output channels are split into heads by a reshape to (heads, head_size) that torch-pruning does not follow:
    pruned, query and key would lose different channels and the heads would be regrouped. nn.MultiheadAttention
    keeps its projections in one parameter, which torch-pruning prunes head by head, and is left to it."""
    outputs, made_by, _ = _trace(model, example)
    found, seen, stack = [], set(), [o.grad_fn for o in outputs]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(next_node for next_node, _ in node.next_functions)
        name = _op(node)
        if id(node) in made_by or not (name in ("Bmm", "Mm", "Matmul") or "ScaledDotProduct" in name):
            continue
        operands = [n for n, _ in node.next_functions if n is not None and not _is_weight(n)]
        if len(operands) >= 2:
            found += [m for m in _sources(operands, made_by) if m not in found]
    return found


def _missing(name: str, modules: dict[str, nn.Module]) -> UserError:
    return UserError(f"no module named '{name}' in the model; names look like "
                     f"{', '.join(list(n for n in modules if n)[:4])}")


def drop(model: nn.Module, example: tuple, names: tuple[str, ...]) -> None:
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
            model.eval()(*example)
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


def prune(model: nn.Module, example: tuple, settings: PruneSettings,
          batches: list[tuple[list, torch.Tensor]] = (), class_output: int = 0) -> nn.Module:
    """Physically remove the named layers, then channels, from `model` in place and return it. Taylor importance
    needs labelled `batches` (inputs, labels) and the index of the output the labels are for."""
    import torch_pruning as tp

    if not 0 <= settings.ratio < 1:
        raise UserError(f"pruning ratio {settings.ratio} is out of range; give 0 <= ratio < 1 (e.g. 0.5)")
    drop(model, example, settings.drop)
    modules = dict(model.named_modules())
    for name in [*settings.ignore, *(n for n, _ in settings.layer_ratios)]:
        if name not in modules:
            raise _missing(name, modules)
    ignored = heads(model, example) + attention_projections(model, example) + [modules[n] for n in settings.ignore]
    if settings.importance == "taylor":
        if not batches:
            raise UserError("Taylor importance needs labelled training data to take gradients on; give --train-data "
                            "with labels y, or use importance = \"magnitude\"")
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
            from ..model.signature import flatten_outputs

            for inputs, y in batches:
                nn.functional.cross_entropy(flatten_outputs(model(*inputs))[class_output], y).backward()
        pruner.step()
    except UserError:
        raise
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"torch-pruning cannot trace the model: {type(e).__name__}: {first}") from None
    model.zero_grad(set_to_none=True)
    return model
