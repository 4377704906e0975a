"""What a backend is: the formats it writes, the passes that write them, its runtime's session, and everything
else it may provide (pre-training check, intermediates for the debugger, timing and what a device needs for it, the
extra that installs it). Each backend is one folder beside this file whose __init__.py defines BACKEND."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from ..errors import first_line
from ..engine.formats import Format
from ..passes.base import Pass

Predict = Callable[[Path, dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Intermediate:
    """One int8 activation an artifact computes, as its runtime read it: dequantized, batch first, in the runtime's
    own layout (NHWC in LiteRT)."""
    name: str
    scale: float
    values: np.ndarray


Intermediates = Callable[[Path, dict[str, np.ndarray]], list[Intermediate]]  # in execution order
Check = Callable[..., list[str]]  # (module, model source, target specs, scratch folder) -> one line per refusal


@dataclass(frozen=True)
class Timing:
    """How the profiler times a backend's files. `module` (the backend's timing.py) runs standalone, numpy and the
    runtime only: RUNTIME and PACKAGE name it, claims(path) says which files it takes, load(path, threads,
    random_input) returns one timed call. The host imports it; a device gets its file beside the runner."""
    module: ModuleType
    on_phone: bool = True                  # adb devices and the emulated phone run it (PACKAGE's aarch64 wheel)
    phone_packages: tuple[str, ...] = ()   # Debian packages the emulated phone needs for it
    phone_wheel_deps: bool = True          # the phone installs PACKAGE with its dependencies
    build_on_phone: Callable[[Path], None] | None = None  # run on the phone's root once its packages are in


@dataclass(frozen=True)
class RuntimeQuantizer:
    """A runtime's own int4 quantizer, the weight scheme `runtime`: write(model, float_file, calibration, scratch, path,
    options) quantizes the float artifact (float_file() writes it, once, when the tool starts from it) with the
    runtime's tool, on the calibration token windows where it takes data (scratch and options as for
    LanguageModels.write). `name` says what it runs, in the report."""
    name: str
    write: Callable[..., None]
    requires: tuple[str, ...] = ()  # modules it imports beyond the backend's own


@dataclass(frozen=True)
class LanguageModels:
    """What a backend does with decoder language models (shrink_edge/llm): write(model, quantized, scratch, path,
    options) writes one artifact holding the quantized model's integers (scratch: a folder the backends of one export
    share; options: the target spec's [options]);
    session(path, threads) runs it in the runtime's own prefill/decode loop (llm/evaluate.Session); facts(path)
    counts what the file holds, read back from it."""
    suffix: str                # the artifact's file name ends so: ".onnx", ".xml", ".gguf"
    write: Callable[..., None]
    session: Callable[..., object]
    facts: Callable[[Path], dict]
    unsupported: Callable[..., str | None] | None = None  # why its converter cannot take this model (None: it can)
    unsupported_scheme: Callable[..., str | None] | None = None  # (Scheme) -> why its format cannot hold its weights
    second_opinion: Callable[..., dict] | None = None  # (path, prompts, reference continuations) -> more figures
    read_back: Callable[..., dict] | None = None  # (path, model, quantized) -> the file's weights against the scheme
    device_session: ModuleType | None = None  # standalone (numpy + runtime) module whose Session runs on adb devices
    requires: tuple[str, ...] = ("transformers",)  # modules beyond the backend's own, installed by the `llm` extra
    runtime_quantizer: RuntimeQuantizer | None = None  # the runtime's own int4 (scheme `runtime`)

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)


@dataclass(frozen=True)
class Backend:
    name: str                  # the runtime, as target specs name it (`runtime = "litert"`)
    formats: tuple[Format, ...]
    passes: tuple[Pass, ...]   # the edges into its formats
    predict: Predict | None    # named inputs in, named outputs out, in the real runtime (None: LLMs only)
    facts: Callable[[Path], dict] | None = None  # what else the runtime tells (memory, precision, ops)
    check: Check | None = None  # the float model through its converter and runtime, before any training
    intermediates: Intermediates | None = None  # every int8 activation, for the per-layer debugger
    extra: str | None = None   # the pip extra that installs its tools (`shrink-edge[openvino]`); None: the core
    requires: tuple[str, ...] = ()  # the modules its tools import, all there when the extra is installed
    timing: Timing | None = None  # its files can be profiled
    llm: LanguageModels | None = None  # it writes and runs decoder language models

    def installed(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in self.requires)


def refused(specs, tool: str, failure: Exception) -> list[str]:
    """One line: these targets' converter (or runtime) refuses the float model, in its own words."""
    reason = str(failure) if isinstance(failure, ConversionFailed) else f"{type(failure).__name__}: {first_line(failure)}"
    return [f"{', '.join(s.name for s in specs)}: {tool} ({reason})"]


def once(folder: Path, name: str, make: Callable[[Path], None]) -> Path:
    """folder/name made by `make` the first time it is asked for, or its first failure raised again (as
    ConversionFailed): backends that share a converter (LiteRT, TFLM, Ethos-U) convert the float model once."""
    path, failure = folder / name, folder / f"{name}.failed"
    if failure.exists():
        raise ConversionFailed(failure.read_text())
    if not path.exists():
        try:
            make(path)
        except Exception as e:
            failure.write_text(f"{type(e).__name__}: {first_line(e)}")
            raise ConversionFailed(failure.read_text()) from None
    return path


class ConversionFailed(Exception):
    """A shared conversion that failed earlier in the same check."""
