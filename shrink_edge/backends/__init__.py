"""The backends: each folder named in NAMES is one (its passes, runtime session, facts and op check behind
contract.Backend), so adding a backend is adding its folder, its name here and a spec in shrink_edge/targets/. Code
that several backends share lives in shared/, never in one backend imported by another."""
from __future__ import annotations

import importlib

from ..errors import UserError
from ..engine.formats import MODEL_FORMATS, Format
from ..passes import MODEL_PASSES, Pass
from .contract import Backend, Timing

NAMES = ("coreml", "ethos_u", "executorch", "litert", "llamacpp", "onnxruntime", "openvino", "tflm")  # by name: the planner's ties


def _registered() -> dict[str, Backend]:
    found = {}
    for name in NAMES:
        backend = importlib.import_module(f"{__name__}.{name}").BACKEND
        found[backend.name] = backend
    return found


BACKENDS: dict[str, Backend] = _registered()
FORMATS: dict[str, Format] = {f.name: f for f in (*MODEL_FORMATS, *(f for b in BACKENDS.values() for f in b.formats))}
PASSES: tuple[Pass, ...] = (*MODEL_PASSES, *(p for b in BACKENDS.values() for p in b.passes))
_OWNER = {f.name: b for b in BACKENDS.values() for f in b.formats}


def backend(runtime: str) -> Backend:
    if runtime not in BACKENDS:
        raise UserError(f"unknown runtime '{runtime}' in a target spec; backends: {', '.join(BACKENDS)}")
    return BACKENDS[runtime]


def missing_extras(formats) -> list[str]:
    """The pip extras this install lacks for the formats: each format's backend, and those of the formats its
    conversion passes through (an Ethos-U build starts from LiteRT's file), must be installed."""
    from ..engine.graph import plan

    needed = {owner(f) for f in formats} | {owner(p.target) for f in formats for p in plan("torch", f)}
    return sorted({b.extra for b in needed if b is not None and not b.installed()})


def missing_llm_extras(runtimes) -> list[str]:
    """The pip extras this install lacks to write and run language models in these runtimes."""
    missing = set()
    for runtime in runtimes:
        b = BACKENDS.get(runtime)
        if b is not None and b.llm is not None and not (b.installed() and b.llm.installed()):
            missing |= {e for e in (b.extra, "llm") if e}
    return sorted(missing)


def timing_modules() -> dict:
    """Runtime -> the module that times its files (the profiler's runner loads them)."""
    return {name: b.timing.module for name, b in BACKENDS.items() if b.timing}


def phone_timings() -> list[Timing]:
    """What adb devices and the emulated phone run."""
    return [b.timing for b in BACKENDS.values() if b.timing and b.timing.on_phone]


def install_hint(extras) -> str:
    return f"pip install 'shrink-edge[{','.join(extras)}]'"


def owner(fmt: str) -> Backend | None:
    """The backend whose runtime verifies this format; None for the model-level formats (torch, pt2)."""
    return _OWNER.get(fmt)
