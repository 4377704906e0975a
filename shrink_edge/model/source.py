"""Where a model comes from: a Python factory plus weights, or a torch.export .pt2 program.

Weights are loaded without unpickling arbitrary objects (safetensors, or torch.load with
weights_only=True) unless the user passes the loudly named allow_pickle flag.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import UserError
from ..files import sha256_file
from .signature import TensorSpec, dtype_name, examples, flatten_outputs, output_names, parameter_names
from .user_code import load_callable


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if not shape or any(v <= 0 for v in shape):
        raise UserError(f"bad --input-shape '{text}'; give positive sizes with the batch first, e.g. 1,1,28,28 "
                        "(or name=1,32 per input)")
    return shape


def parse_shapes(texts) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """--input-shape values: a bare shape for a single input ('' names it), or name=shape per input."""
    shapes = []
    for text in [texts] if isinstance(texts, str) else texts or ():
        name, _, shape = text.rpartition("=")
        if name and not name.isidentifier():
            raise UserError(f"bad --input-shape '{text}'; name the input after its forward() parameter: ids=1,32")
        shapes.append((name, parse_shape(shape)))
    if len(shapes) > 1 and any(not name for name, _ in shapes):
        raise UserError("several --input-shape values need a name each: --input-shape ids=1,32 "
                        "--input-shape mask=1,32")
    return tuple(shapes)


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from, and, once `resolved` against data, its inputs and output names."""
    name: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # as asked for (--input-shape); '' names a single input
    module_file: Path | None = None
    factory: str | None = None
    weights: Path | None = None
    program: Path | None = None
    allow_pickle: bool = False
    module: object | None = field(default=None, compare=False, repr=False)  # a live nn.Module (Python API)
    inputs: tuple[TensorSpec, ...] = ()  # resolved: names, shapes, dtypes in forward()'s order
    outputs: tuple[str, ...] = ()        # resolved: output names

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The first input's shape (batch first)."""
        return self.inputs[0].shape if self.inputs else self.shapes[0][1] if self.shapes else ()

    @classmethod
    def from_cli(cls, model: str, weights: Path | None, input_shape, allow_pickle: bool = False) -> "ModelSource":
        shapes = parse_shapes(input_shape)
        if model.endswith(".pt2"):
            path = Path(model)
            _must_exist(path, "model program")
            return cls(name=path.stem, shapes=shapes, program=path)
        file, _, factory = model.rpartition(":")
        if not file or not factory.isidentifier():
            raise UserError(f"bad --model '{model}'; give path/to/file.py:factory (a callable returning an nn.Module) "
                            "or a torch.export .pt2 file")
        path = Path(file)
        _must_exist(path, "model file")
        if weights is not None:
            _must_exist(weights, "weights file")
        return cls(name=path.stem, shapes=shapes, module_file=path, factory=factory, weights=weights,
                   allow_pickle=allow_pickle)

    @classmethod
    def from_module(cls, module, example_inputs=None, name: str | None = None) -> "ModelSource":
        """A live nn.Module (Python API); example inputs give the shapes, else the data does."""
        from torch import nn

        if not isinstance(module, nn.Module):
            raise UserError(f"export() takes an nn.Module, got {type(module).__name__}")
        names = [n for n, _ in parameter_names(module) or []]
        examples = () if example_inputs is None else (
            (example_inputs,) if hasattr(example_inputs, "shape") else tuple(example_inputs))
        if examples and len(examples) > len(names):
            raise UserError(f"{len(examples)} example inputs for forward({', '.join(names)})")
        shapes = tuple((n, tuple(int(d) for d in x.shape)) for n, x in zip(names, examples))
        return cls(name=name or type(module).__name__.lower(), shapes=shapes, module=module)

    def fingerprint(self) -> dict:
        """What identifies this model for caching: file hashes and settings."""
        files = {k: str(p) for k, p in (("module", self.module_file), ("weights", self.weights),
                                         ("program", self.program)) if p is not None}
        found = {k: sha256_file(Path(p)) for k, p in files.items()}
        if self.module is not None:
            found["live_module"] = _module_digest(self.module)
        return {
            "name": self.name,
            "factory": self.factory,
            "input_shape": {n: list(s) for n, s in self.shapes},
            "allow_pickle": self.allow_pickle,
            "sha256": found,
        }

    def resolved(self, data, where) -> tuple["ModelSource", object]:
        """This source with its inputs (forward()'s names; shapes from --input-shape, else one sample of the data;
        dtypes from the data, or the program's own) and output names, checked by running the model once; and the
        loaded float module, so that the caller does not load it again."""
        import torch

        module = self._loaded()
        names, program_specs = self._input_names(module)
        arrays = data.inputs
        if len(arrays) == 1 and len([n for n, optional in names if not optional]) == 1:
            arrays = {names[0][0]: next(iter(arrays.values()))}
        chosen = [n for n, optional in names if not optional or n in arrays or n in dict(self.shapes)]
        asked = dict(self.shapes)
        if "" in asked:
            if len(chosen) != 1:
                raise UserError(f"--input-shape {_fmt(asked[''])} names no input but forward() takes "
                                f"{', '.join(chosen)}: give one name=shape per input")
            asked = {chosen[0]: asked[""]}
        if unknown := [n for n in asked if n not in chosen]:
            raise UserError(f"--input-shape names {', '.join(unknown)}, which forward() does not take "
                            f"(it takes {', '.join(chosen)})")
        from .data import mismatch

        mismatch(data, chosen, arrays, where)
        specs = []
        for n in chosen:
            own = program_specs.get(n)
            if n in asked:
                shape = asked[n]
            elif own is not None and all(isinstance(d, int) for d in own.shape[1:]):
                shape = (1, *own.shape[1:])
            else:
                shape = (1, *arrays[n].shape[1:])
            dtype = own.dtype if own is not None else dtype_name(arrays[n].dtype) if n in arrays else "float32"
            specs.append(TensorSpec(n, tuple(int(d) for d in shape), dtype))
        specs = tuple(specs)
        try:
            with torch.no_grad():
                out = module(*examples(specs))
        except UserError:
            raise
        except Exception as e:  # the user's forward can raise anything; report its first line
            given = "; ".join(f"{s.name} {_fmt(s.shape)} {s.dtype}" for s in specs)
            raise UserError(f"the model fails on inputs {given}: {_first_line(e)}; pass the --input-shape the model "
                            "takes (batch first) and data of the dtypes it expects") from None
        random = self.weights is None and self.program is None and self.module is None
        # a factory without --weights builds new random weights on every call: keep this run's, so that every pass
        # and the reference see the same model and the cache keys know them (else a rerun reused artifacts of
        # other weights: verification compared two different models)
        return replace(self, inputs=specs, outputs=tuple(output_names(out)),
                       **({"module": module} if random else {})), module

    def _input_names(self, module) -> tuple[list[tuple[str, bool]], dict[str, TensorSpec]]:
        """forward()'s inputs as (name, optional), and for a program, the specs it was exported with."""
        if self.program is not None:
            specs = program_inputs(module)
            return [(s.name, False) for s in specs], {s.name: s for s in specs}
        found = parameter_names(module)
        if found is None:
            raise UserError(f"{self._describe()}'s forward() takes *args; name its inputs as parameters, e.g. "
                            "forward(self, ids, mask)")
        return found, {}

    def _describe(self) -> str:
        return f"{self.module_file}:{self.factory}" if self.module_file else self.name

    def load(self, checkpoint: Path | None = None):
        """The float model as an nn.Module in eval mode, checked against the inputs. With `checkpoint` (written by
        checkpoint.save, e.g. after pruning) its weights and shapes replace the original ones."""
        import torch

        if checkpoint is not None:
            from . import checkpoint as ckpt

            if self.program is not None:
                raise UserError("pruning and fine-tuning need the model's Python source: give --model file.py:factory "
                                "instead of a .pt2 program")
            model = ckpt.restore(self._build(), checkpoint).eval()
        else:
            model = self._loaded()
        if self.inputs:
            with torch.no_grad():
                flatten_outputs(model(*examples(self.inputs)))
        return model

    def _loaded(self):
        if self.program is not None:
            model = load_program(self.program).module()
            _check_dynamic_batch(model, self.program)
            return model
        model = self._build()
        if self.weights is not None:
            _fit_weights(model, self._read_weights(), self.weights, self)
        return model.eval()

    def _build(self):
        from torch import nn

        if self.module is not None:
            return copy.deepcopy(self.module)

        factory = load_callable(self.module_file, self.factory, "shrink_edge_user",
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


def as_source(model, example_inputs=None) -> "ModelSource | None":
    """What the Python API takes as a model: a ModelSource, a live nn.Module, 'file.py:factory' or a .pt2 path."""
    if model is None or isinstance(model, ModelSource):
        return model
    if isinstance(model, (str, Path)):
        return ModelSource.from_cli(str(model), None, None)
    return ModelSource.from_module(model, example_inputs)


def load_program(path: Path):
    import torch
    import torch.ao.quantization.fx._decomposed  # noqa: F401  registers the quantized_decomposed ops

    try:
        return torch.export.load(path)
    except Exception as e:
        raise UserError(f"cannot load {path} as a torch.export program: {_first_line(e)}") from None


def program_inputs(module) -> list[TensorSpec]:
    """A program module's inputs as they were exported (dynamic sizes as None)."""
    import torch

    specs = []
    for node in module.graph.nodes:
        if node.op == "placeholder" and isinstance(node.meta.get("val"), torch.Tensor):
            shape = tuple(int(d) if not isinstance(d, torch.SymInt) else None for d in node.meta["val"].shape)
            specs.append(TensorSpec(node.name, shape, dtype_name(node.meta["val"].dtype)))
    return specs


def _module_digest(module) -> str:
    """A live module's identity: its class, its source where Python has it, and its weights."""
    import inspect

    h = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    try:
        h.update(inspect.getsource(type(module)).encode())
    except (OSError, TypeError):
        pass
    for key, value in module.state_dict().items():
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _check_dynamic_batch(module, path: Path) -> None:
    """Calibration, training and verification run in batches: a program whose batch is fixed cannot take them."""
    from ..verify.lint import dynamic_dims

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
