"""A model's named inputs and outputs, the contract every stage shares: inputs in forward()'s order, each with its
batch-first shape and dtype; outputs flattened from what forward() returns (a tensor, a tuple or list, or a dict of
tensors) into a list, named after the dict's keys or else output_0, output_1, ..."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

DTYPES = ("float32", "int64", "int32", "bool")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]  # batch first
    dtype: str = "float32"

    def example(self, batch: int):
        """A tensor of this spec with `batch` samples: zeros, or True for masks (an all-False mask hides
        every position)."""
        import torch

        shape = (batch, *self.shape[1:])
        if self.dtype == "bool":
            return torch.ones(shape, dtype=torch.bool)
        return torch.zeros(shape, dtype=getattr(torch, self.dtype))

    def describe(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def examples(inputs: tuple[TensorSpec, ...], batch: int | None = None) -> tuple:
    """One example tensor per input: with the given batch, or each input's own."""
    return tuple(spec.example(batch or spec.shape[0]) for spec in inputs)


def parameter_names(module) -> list[tuple[str, bool]] | None:
    """forward()'s positional parameters as (name, has a default); None when it takes *args."""
    forward = getattr(module, "forward", module)
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        return None
    names = []
    for p in parameters:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append((p.name, p.default is not p.empty))
    return names


def by_name_else_position(values: dict, names) -> list | None:
    """values[name] for each name; by position where a file renamed them (a model another tool wrote) and the
    counts agree; None when neither fits."""
    if all(n in values for n in names):
        return [values[n] for n in names]
    if len(values) == len(names):
        return list(values.values())
    return None


def dtype_name(dtype) -> str:
    """The signature's name for a numpy or torch dtype."""
    name = str(dtype).removeprefix("torch.")
    return {"float": "float32", "long": "int64", "int": "int32"}.get(name, name)


def flatten_outputs(out) -> list:
    """forward()'s result as a list of tensors, in the signature's order."""
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    values = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (tuple, list)) else None
    if not values or not all(isinstance(v, torch.Tensor) for v in values):
        raise UserError(f"the model returned {_kind(out)}; forward() must return a tensor, a tuple or list of "
                        "tensors, or a dict of tensors (nest nothing deeper)")
    return values


def output_names(out) -> list[str]:
    if isinstance(out, dict):
        bad = [k for k in out if not (isinstance(k, str) and k.isidentifier())]
        if bad:
            raise UserError(f"the model's output dict has keys {bad}: give identifier strings (they name the "
                            "artifacts' outputs)")
        return list(out)
    return [f"output_{i}" for i in range(len(flatten_outputs(out)))]


def _kind(out) -> str:
    import torch

    if isinstance(out, (tuple, list, dict)):
        inner = out.values() if isinstance(out, dict) else out
        kinds = sorted({type(v).__name__ for v in inner if not isinstance(v, torch.Tensor)})
        return f"a {type(out).__name__} holding {', '.join(kinds) or 'nothing'}"
    return f"a {type(out).__name__}"


def as_numpy(tensors: list) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in tensors]
