"""The declared settings of the compression passes, as recipes write them. No torch here: the CLI reads
recipes before deciding whether there is any work to do."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PruneSettings:
    ratio: float = 0.5                 # fraction of channels to remove, 0 <= ratio < 1
    importance: str = "magnitude"      # "magnitude" (L2) or "taylor" (gradient x weight)
    round_to: int | None = None        # keep channel counts a multiple of this (default: the target's)
    ignore: tuple[str, ...] = ()       # module names never pruned, besides the classifier head
    layer_ratios: tuple[tuple[str, float], ...] = ()  # (module name, ratio) overrides
    drop: tuple[str, ...] = ()         # whole modules to remove (each must return its input's shape), before
    # the channels: each is a layer fewer for the runtime, which on small models costs more than its arithmetic


@dataclass(frozen=True)
class DistillSettings:
    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    temperature: float = 4.0
    alpha: float = 0.7          # weight of the distillation term; 1 - alpha weighs the labels
    holdout: float = 0.05       # fraction of the training data kept aside for early stopping
    patience: int = 2           # epochs without a better held-out accuracy before stopping
    seed: int = 0


@dataclass(frozen=True)
class QatSettings:
    epochs: int = 1
    batch_size: int = 128
    lr: float = 5e-4
    temperature: float = 4.0
    alpha: float = 0.7
    freeze_after: float = 0.75   # fraction of the training steps after which observers and BN stats freeze
    seed: int = 0

    def distill_settings(self) -> "DistillSettings":
        return DistillSettings(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                               temperature=self.temperature, alpha=self.alpha, patience=self.epochs, seed=self.seed)


@dataclass(frozen=True)
class QuantizeSettings:
    observer: str | None = None        # activation ranges: "histogram", "minmax" or "percentile" (default: the
    # target spec's, else histogram); see quantization.py
    equalize: bool | None = None       # cross-layer equalization before calibration (default: the spec's, else off)
    smooth: bool | None = None         # SmoothQuant: LayerNorm outliers moved into the next linear layers' weights
    bias_correction: bool | None = None  # each layer's output mean restored after its weights' rounding (PTQ;
    # default: the spec's, else on)
    keep_float: tuple[str, ...] = ()   # layers (module paths, or top-level op names such as "add_1") left in float
    fallback: str | None = None        # "auto": when an int8 artifact loses accuracy beyond its budget, try the
    # scheme's remedies the user left unset (observer, equalization, SmoothQuant), then keep the layers the debugger
    # ranks worst in float, one at a time (workflows/fallback.py), also under --no-budget and after QAT; "off": fail
    # instead (--strict); unset: "auto" for a calibrated program whose budget is enforced
    fallback_max_layers: int = 8       # the most layers the fallback may keep in float
    fallback_int16: str = "fast"       # the fallback's int16 step (a member swapped for its runtime's int16-activation
    # target, tflite-a16w8 or onnx-a16w8, before layers are kept in float): "fast" keeps an int16 file that runs
    # within 1.5x of its runtime's float file; "size" keeps any that holds the budget (int8's size, often slower
    # than float on CPUs); "off" skips the step
    fallback_seconds: float = 900.0    # no new step of the search starts after this
