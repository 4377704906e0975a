"""Float checkpoints as safetensors plus the module shapes, so a pruned model is rebuilt from the user's
factory and loaded from plain tensors: nothing is unpickled."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

# Shape attributes that torch-pruning changes, per module type.
SHAPE_ATTRS = {
    nn.modules.conv._ConvNd: ("in_channels", "out_channels", "groups"),
    nn.modules.batchnorm._BatchNorm: ("num_features",),
    nn.Linear: ("in_features", "out_features"),
    nn.LayerNorm: ("normalized_shape",),
    nn.GroupNorm: ("num_channels", "num_groups"),
}


def architecture(model: nn.Module) -> dict[str, dict]:
    """Each module's shape attributes, and which modules are identities (layers pruning removed), enough to
    rebuild the pruned model from the original factory."""
    arch = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Identity) and name:
            arch[name] = {"identity": True}
        for kind, attrs in SHAPE_ATTRS.items():
            if isinstance(module, kind):
                arch[name] = {a: getattr(module, a) for a in attrs}
    return arch


def remove(model: nn.Module, name: str) -> None:
    """Replace the submodule `name` with an identity (a layer pruning removed)."""
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent), leaf, nn.Identity())


def apply_architecture(model: nn.Module, arch: dict[str, dict], state: dict[str, torch.Tensor]) -> nn.Module:
    """Reshape `model` (fresh from its factory) to the recorded architecture so that `state` loads."""
    removed = [name for name, attrs in arch.items() if attrs.get("identity")]
    for name in removed:
        remove(model, name)
    for name, attrs in arch.items():
        if name in removed:
            continue
        module = model.get_submodule(name)
        for attr, value in attrs.items():
            setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    for key, tensor in state.items():
        owner, _, leaf = key.rpartition(".")
        module = model.get_submodule(owner)
        if leaf in module._parameters and module._parameters[leaf] is not None:
            module._parameters[leaf] = nn.Parameter(torch.empty_like(tensor),
                                                    requires_grad=module._parameters[leaf].requires_grad)
        elif leaf in module._buffers and module._buffers[leaf] is not None:
            module._buffers[leaf] = torch.empty_like(tensor)
    return model


def save(model: nn.Module, path: Path) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, path, metadata={"architecture": json.dumps(architecture(model), sort_keys=True)})


def restore(model: nn.Module, path: Path) -> nn.Module:
    """Load a checkpoint written by save() into a fresh model from the same factory."""
    with safe_open(path, "pt") as f:
        arch = json.loads((f.metadata() or {}).get("architecture", "{}"))
        state = {k: f.get_tensor(k) for k in f.keys()}
    apply_architecture(model, arch, state)
    model.load_state_dict(state)
    return model
