"""Declarative target specs: one TOML file per target in the package's targets/ folder
(or a file of the user's own)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..files import package_data

TARGETS_DIR = package_data("targets")
OBSERVERS = ("histogram", "minmax", "percentile")  # quantization.py says what each does


@dataclass(frozen=True)
class Quantization:
    weights_per_channel: bool = True
    calibration_samples: int = 512
    observer: str = "histogram"       # how calibration picks activation ranges: histogram, minmax, percentile
    weight_bits: int = 8              # 7: weights in [-63, 63], which int8 kernels without VNNI cannot saturate
    equalize: bool = False            # cross-layer equalization before calibration (equalization.py; opt-in:
    # +1.4 dB on the sample, +29 dB on FragileNet, -0.1 dB on the TwoHeads test model: docs/accuracy.md)
    smooth: bool = False              # SmoothQuant on LayerNorm -> linear layers before calibration (smoothing.py)
    bias_correction: bool = True      # each layer's mean output shift from rounding its weights, measured on the
    # calibration data, added to its bias (bias_correction.py; on: +0.1 to +2.9 dB on all 7 rows of
    # bench/bias_correction.json)
    keep_float: tuple[str, ...] = ()  # layers left in float (a recipe's [quantize] keep_float, or the fallback)


@dataclass(frozen=True)
class Pruning:
    round_to: int = 8  # channel counts stay a multiple of this, so pruning turns into speed on the target


@dataclass(frozen=True)
class Budget:
    max_accuracy_drop: float | None = None  # top-1 points
    min_agreement: float | None = None      # fraction, 0..1
    max_error_lsb: float | None = None      # 99th-percentile output error in quantization steps, vs a QAT reference
    min_sqnr_db: float | None = None        # every output's SQNR against the reference
    min_cosine: float | None = None         # every output's mean cosine similarity against the reference
    ram_bytes: int | None = None            # microcontrollers: the tensor arena must fit
    flash_bytes: int | None = None          # microcontrollers: the model bytes must fit (kernel code not counted)
    int8_compute: bool = False              # every convolution / fully-connected layer must run in int8
    full_delegation: bool = False           # every op inside the accelerator's delegate (facts: undelegated_ops)
    # language models (kind = "llm"), against the float PyTorch model on held-out text (docs/llm.md says why these)
    max_perplexity_ratio: float | None = None     # quantized artifacts
    min_next_token_agreement: float | None = None  # fraction of held-out positions whose top token matches
    min_greedy_match_tokens: float | None = None   # greedy tokens matching PyTorch's before the first difference
    max_float_perplexity_ratio: float = 1.005     # a float artifact: the path itself, not quantization
    max_int4_bits_per_weight: float | None = None  # an int4 artifact, its fallback's int8 layers included


@dataclass(frozen=True)
class Limits:
    """Shape and per-layer limits of the target's converter or hardware, checked before any training."""
    static_shapes: bool = False              # the artifact's input shape is fixed (no dynamic batch)
    batch: int | None = None                 # the only batch size the target runs
    max_stride_height: int | None = None     # convolution stride along the height, where the output is taller than 1
    max_kernel_height: int | None = None     # dilated convolution kernel height
    max_kernel_area: int | None = None       # dilated convolution kernel height x width
    max_channels: int | None = None          # input or output channels of one layer
    depth_multiplier: bool = True            # depthwise convolutions with more outputs than inputs (input > 1)


@dataclass(frozen=True)
class TargetSpec:
    name: str
    path: Path
    description: str
    runtime: str
    artifacts: tuple[str, ...]
    quantization: Quantization = field(default_factory=Quantization)
    pruning: Pruning = field(default_factory=Pruning)
    budget: Budget = field(default_factory=Budget)
    limits: Limits = field(default_factory=Limits)
    options: dict = field(default_factory=dict)  # backend-specific settings, e.g. nhwc_io for TFLite
    include: tuple[str | TargetSpec, ...] = ()  # a group target: these targets' artifacts, each under its own
    # budget (names or spec files; the search puts specs here: a member's twin under the member's budget)
    kind: str = "model"            # "llm": a decoder language model target (shrink_edge/llm)
    schemes: tuple[str, ...] = ()  # llm: the weight schemes written, one artifact each (llm/weights.py)


def _parse(path: Path) -> TargetSpec:
    try:
        raw = tomllib.loads(path.read_text())
        spec = TargetSpec(
            name=path.stem,
            path=path,
            description=raw["description"],
            runtime=raw.get("runtime", "several"),
            artifacts=tuple(raw.get("artifacts", ())),
            quantization=Quantization(**raw.get("quantization", {})),
            pruning=Pruning(**raw.get("pruning", {})),
            budget=Budget(**raw.get("budget", {})),
            limits=Limits(**raw.get("limits", {})),
            options=dict(raw.get("options", {})),
            include=tuple(raw.get("include", ())),
            kind=raw.get("kind", "model"),
            schemes=tuple(raw.get("schemes", ())),
        )
        if spec.kind not in ("model", "llm"):
            raise UserError(f"invalid target spec {path}: kind = {spec.kind!r}; give \"model\" or \"llm\"")
        if spec.quantization.weight_bits not in (7, 8):
            raise UserError(f"invalid target spec {path}: [quantization] weight_bits = "
                            f"{spec.quantization.weight_bits!r}; give 8 or 7")
        if spec.quantization.observer not in OBSERVERS:
            raise UserError(f"invalid target spec {path}: [quantization] observer = {spec.quantization.observer!r}; "
                            f"give one of {', '.join(OBSERVERS)}")
        return spec
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as e:
        raise UserError(f"invalid target spec {path}: {type(e).__name__}: {e}; "
                        f"see {TARGETS_DIR / 'onnx.toml'} for the fields")


def available(directory: Path | None = None) -> dict[str, TargetSpec]:
    return {p.stem: _parse(p) for p in sorted((directory or TARGETS_DIR).glob("*.toml"))}


def resolve(name: str, directory: Path | None = None) -> TargetSpec:
    """A target by name, or your own spec file (path/to/spec.toml, e.g. a copy of one in targets/ with your
    budget)."""
    if name.endswith(".toml"):
        if not Path(name).is_file():
            raise UserError(f"target spec not found: {name}; give a spec file or one of: {', '.join(available())}")
        return _parse(Path(name))
    specs = available(directory)
    if name not in specs:
        raise UserError(f"unknown target '{name}'; choose one of: {', '.join(specs)} (shrink-edge targets lists them)")
    return specs[name]


def per_backend(directory: Path | None = None) -> list[TargetSpec]:
    """One plain target per runtime (the first spec, by name, that names it): what meets every backend once."""
    first: dict[str, TargetSpec] = {}
    for spec in sorted(available(directory).values(), key=lambda s: s.name):  # executorch before executorch-coreml
        if not spec.include and spec.kind == "model":
            first.setdefault(spec.runtime, spec)
    return list(first.values())


def members(spec: TargetSpec, directory: Path | None = None) -> list[TargetSpec]:
    """The targets a run produces: the group's members, or the target itself."""
    if not spec.include:
        return [spec]
    found = [m if isinstance(m, TargetSpec) else resolve(m, directory) for m in spec.include]
    if nested := [m.name for m in found if m.include]:
        raise UserError(f"target {spec.name} includes group targets {nested}; include plain targets only")
    return found
