"""Where a model comes from: a Python factory plus weights, or a torch.export .pt2 program.

Weights are loaded without unpickling arbitrary objects (safetensors, or torch.load with
weights_only=True) unless the user passes the loudly named allow_pickle flag.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .files import sha256_file


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(v <= 0 for v in shape):
        raise UserError(f"bad --input-shape '{text}'; give positive sizes with the batch first, e.g. 1,1,28,28")
    return shape


@dataclass(frozen=True)
class ModelSource:
    name: str
    input_shape: tuple[int, ...]
    module_file: Path | None = None
    factory: str | None = None
    weights: Path | None = None
    program: Path | None = None
    allow_pickle: bool = False

    @classmethod
    def from_cli(cls, model: str, weights: Path | None, input_shape: str | None,
                 allow_pickle: bool = False) -> "ModelSource":
        shape = parse_shape(input_shape) if input_shape else None
        if model.endswith(".pt2"):
            path = Path(model)
            _must_exist(path, "model program")
            return cls(name=path.stem, input_shape=shape or (), program=path)
        file, _, factory = model.rpartition(":")
        if not file or not factory.isidentifier():
            raise UserError(f"bad --model '{model}'; give path/to/file.py:factory (a callable returning an nn.Module) "
                            "or a torch.export .pt2 file")
        path = Path(file)
        _must_exist(path, "model file")
        if weights is not None:
            _must_exist(weights, "weights file")
        if shape is None:
            raise UserError("--input-shape is needed with --model file.py:factory, e.g. --input-shape 1,1,28,28")
        return cls(name=path.stem, input_shape=shape, module_file=path, factory=factory, weights=weights,
                   allow_pickle=allow_pickle)

    def fingerprint(self) -> dict:
        """What identifies this model for caching: file hashes and settings."""
        files = {k: str(p) for k, p in (("module", self.module_file), ("weights", self.weights),
                                         ("program", self.program)) if p is not None}
        return {
            "name": self.name,
            "factory": self.factory,
            "input_shape": list(self.input_shape),
            "allow_pickle": self.allow_pickle,
            "sha256": {k: sha256_file(Path(p)) for k, p in files.items()},
        }

    def load(self, checkpoint: Path | None = None):
        """The float model as an nn.Module in eval mode, checked against the input shape. With `checkpoint`
        (written by checkpoint.save, e.g. after pruning) its weights and shapes replace the original ones."""
        import torch

        if checkpoint is not None:
            from . import checkpoint as ckpt

            if self.program is not None:
                raise UserError("pruning and fine-tuning need the model's Python source: give --model file.py:factory "
                                "instead of a .pt2 program")
            model = ckpt.restore(self._build(), checkpoint).eval()
        elif self.program is not None:
            model = load_program(self.program).module()
            if not self.input_shape:
                raise UserError(f"--input-shape is needed for {self.program}, e.g. --input-shape 1,1,28,28")
            _check_dynamic_batch(model, self.program)
        else:
            model = self._build()
            if self.weights is not None:
                _fit_weights(model, self._read_weights(), self.weights, self)
            model.eval()
        try:
            with torch.no_grad():
                out = model(torch.zeros(self.input_shape))
        except Exception as e:  # the user's forward can raise anything; report its first line
            raise UserError(f"the model fails on input shape {_fmt(self.input_shape)}: {_first_line(e)}; "
                            "pass the --input-shape the model takes (batch first)") from None
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise UserError(f"the model must return one (batch, classes) tensor; it returned "
                            f"{getattr(out, 'shape', type(out).__name__)}")
        return model

    def _build(self):
        from torch import nn

        module_name = f"shrink_edge_user_{self.module_file.stem}"
        spec = importlib.util.spec_from_file_location(module_name, self.module_file)
        if spec is None or spec.loader is None:
            raise UserError(f"cannot import {self.module_file}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise UserError(f"cannot import {self.module_file}: {_first_line(e)}") from None
        factory = getattr(module, self.factory, None)
        if not callable(factory):
            raise UserError(f"{self.module_file} has no callable '{self.factory}'; "
                            "name a function or class there that returns the nn.Module")
        try:
            model = factory()
        except Exception as e:
            raise UserError(f"{self.module_file}:{self.factory}() failed: {_first_line(e)}") from None
        if not isinstance(model, nn.Module):
            raise UserError(f"{self.module_file}:{self.factory}() returned {type(model).__name__}, not an nn.Module")
        return model

    def _read_weights(self) -> dict:
        import torch

        path = self.weights
        if path.suffix == ".safetensors":
            from safetensors import SafetensorError
            from safetensors.torch import load_file
            try:
                return load_file(path)
            except (SafetensorError, OSError) as e:
                raise UserError(f"cannot read weights {path}: {_first_line(e)}; the file is corrupt or not safetensors")
        try:
            state = torch.load(path, map_location="cpu", weights_only=not self.allow_pickle)
        except Exception as e:  # torch.load raises pickle, zip and runtime errors alike
            hint = ("it holds objects other than tensors: save model.state_dict() instead, or pass "
                    "--unsafe-allow-pickle if you trust the file" if "weights_only" in str(e)
                    else "the file is corrupt or not a torch state dict")
            raise UserError(f"cannot read weights {path}: {hint}") from None
        if isinstance(state, torch.nn.Module):
            state = state.state_dict()
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise UserError(f"weights {path} hold a {type(state).__name__}, not a state dict")
        return state


def load_program(path: Path):
    import torch
    import torch.ao.quantization.fx._decomposed  # noqa: F401  registers the quantized_decomposed ops

    try:
        return torch.export.load(path)
    except Exception as e:
        raise UserError(f"cannot load {path} as a torch.export program: {_first_line(e)}") from None


def _check_dynamic_batch(module, path: Path) -> None:
    """Calibration, training and verification run in batches: a program whose batch is fixed cannot take them."""
    from .lint import dynamic_dims

    if 0 not in dynamic_dims(module):
        raise UserError(f"{path} was exported with a fixed batch size; shrink-edge runs it on batches: export it "
                        "with a dynamic batch, torch.export.export(model, (x,), "
                        "dynamic_shapes=({0: torch.export.Dim('batch')},))")


def _fit_weights(model, state: dict, path: Path, source: ModelSource) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                  if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = [f"{label} {_few(items)}" for label, items in
                (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", mismatched)) if items]
    if problems:
        raise UserError(f"weights {path} do not fit {source.module_file}:{source.factory}: {'; '.join(problems)}; "
                        "give the weights saved from this model's state_dict()")
    model.load_state_dict(state)


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")


def _must_exist(path: Path, what: str) -> None:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")


def _fmt(shape: tuple[int, ...]) -> str:
    return ",".join(map(str, shape))


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"
