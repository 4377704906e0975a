"""Recipes: a TOML file naming the passes and their settings; `--set section.key=value` overrides it.

    train_data = "/usr/share/datasets/fashion-mnist"   # paths are relative to the recipe file
    [prune]    ratio = 0.5, importance = "magnitude", round_to (default: the target spec's), ignore = [names],
               layer_ratios = { "module.name" = 0.3 }, drop = [names of modules to remove whole]
    [distill]  epochs, batch_size, lr, temperature, alpha, holdout, patience, seed
    [qat]      epochs, batch_size, lr, temperature, alpha, freeze_after, seed
    [quantize] observer, equalize, smooth, bias_correction, keep_float = [layer names], fallback = "auto", fallback_max_layers,
               fallback_int16, fallback_seconds
               (settings.QuantizeSettings; PTQ only, except keep_float)

Passes run in the order prune -> distill -> qat; a section that is absent is skipped.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..errors import UserError
from .settings import DistillSettings, PruneSettings, QatSettings, QuantizeSettings
from .targets import OBSERVERS, TargetSpec

SECTIONS = {"prune": PruneSettings, "distill": DistillSettings, "qat": QatSettings, "quantize": QuantizeSettings}
TOP_LEVEL = {"train_data", "targets"}


@dataclass(frozen=True)
class Recipe:
    train_data: Path | None = None
    targets: tuple[str, ...] = ()
    prune: PruneSettings | None = None
    distill: DistillSettings | None = None
    qat: QatSettings | None = None
    quantize: QuantizeSettings | None = None
    source: Path | None = None  # the recipe file, if any

    def passes(self, spec: TargetSpec) -> list:
        """The passes in order; pruning rounds channels to the target's multiple unless the recipe sets one."""
        from ..passes.distill import Distill
        from ..passes.prune import Prune
        from ..passes.qat import QuantizationAwareTraining

        prune = self.prune and replace(self.prune, round_to=self.prune.round_to or spec.pruning.round_to)
        chosen = [(prune, Prune), (self.distill, Distill), (self.qat, QuantizationAwareTraining)]
        return [cls(config) for config, cls in chosen if config is not None]

    def describe(self) -> dict:
        return {name: (vars(getattr(self, name)) if getattr(self, name) else None) for name in SECTIONS}


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


def _fits(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, tuple):
        return isinstance(value, (list, dict))
    return isinstance(value, type(default))


def load(path: Path | None, overrides: list[str] = ()) -> Recipe:
    """Read a recipe file (or none) and apply `section.key=value` overrides."""
    raw: dict = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"recipe not found: {path}")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"recipe {path} is not valid TOML: {e}") from None
        base = path.parent
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or section not in SECTIONS:
            raise UserError(f"bad --set '{item}'; write section.key=value with section one of {', '.join(SECTIONS)}")
        raw.setdefault(section, {})[name] = _parse_value(value.strip())
    unknown = set(raw) - set(SECTIONS) - TOP_LEVEL
    if unknown:
        raise UserError(f"recipe has unknown entries {sorted(unknown)}; known: {sorted(TOP_LEVEL | set(SECTIONS))}")
    settings = {}
    for section, cls in SECTIONS.items():
        if section not in raw:
            continue
        values = dict(raw[section])
        names = {f.name for f in fields(cls)}
        if bad := set(values) - names:
            raise UserError(f"[{section}] has unknown settings {sorted(bad)}; known: {sorted(names)}")
        for f in fields(cls):
            if f.name in values and f.default is not None and not _fits(values[f.name], f.default):
                raise UserError(f"[{section}] {f.name} = {values[f.name]!r} should be a {type(f.default).__name__}")
        if section == "prune":
            values["ignore"] = tuple(values.get("ignore", ()))
            values["drop"] = tuple(values.get("drop", ()))
            values["layer_ratios"] = tuple(sorted(values.get("layer_ratios", {}).items()))
        if section == "quantize":
            values["keep_float"] = tuple(values.get("keep_float", ()))
            if values.get("observer", "histogram") not in OBSERVERS:
                raise UserError(f"[quantize] observer = {values['observer']!r}; give one of {', '.join(OBSERVERS)}")
            if values.get("fallback", "off") not in ("off", "auto"):
                raise UserError(f"[quantize] fallback = {values['fallback']!r}; give \"auto\" or \"off\"")
            if values.get("fallback_int16", "off") not in ("fast", "size", "off"):
                raise UserError(f"[quantize] fallback_int16 = {values['fallback_int16']!r}; give \"fast\", \"size\" "
                                "or \"off\"")
        settings[section] = cls(**values)
    if (p := settings.get("prune")) and not 0 <= p.ratio < 1:
        raise UserError(f"[prune] ratio = {p.ratio} is out of range; give 0 <= ratio < 1 (e.g. 0.5)")
    train = raw.get("train_data")
    return Recipe(train_data=(base / train) if train else None, targets=tuple(raw.get("targets", ())), source=path,
                  **settings)


def as_recipe(recipe) -> Recipe | None:
    """What the Python API takes as a recipe: a Recipe, a TOML path, or None."""
    if recipe is None or isinstance(recipe, Recipe):
        return recipe
    return load(Path(recipe))
