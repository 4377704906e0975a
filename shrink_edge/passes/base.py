"""A pass is one edge of the converter graph: it turns an artifact of one format into another."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from ..model.data import Dataset
from ..model.source import ModelSource
from ..progress import Steps
from ..config.targets import Quantization


@dataclass
class Context:
    """What passes may read besides their input artifact."""
    model: ModelSource
    calibration: Dataset
    quantization: Quantization
    steps: Steps
    options: dict = field(default_factory=dict)  # the target spec's backend options
    train: Dataset | None = None  # fine-tuning data (distillation, QAT)
    device: str = "cpu"
    scratch: Path | None = None   # per-pass folder that survives a crash (resume checkpoints); set by the engine
    class_output: int | None = None  # the output that holds class scores, when the data has labels


class Pass(ABC):
    name: ClassVar[str]
    source: ClassVar[str]   # format it reads
    target: ClassVar[str]   # format it writes
    version: ClassVar[int] = 1  # bump when the output for the same input changes

    def settings(self, ctx: Context) -> dict:
        """The settings that change this pass's output; they enter its cache key."""
        return {}

    @abstractmethod
    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        """Write the output to dst. src is None for the user's original model."""


class ConfiguredPass(Pass):
    """A pass with declared settings (a frozen dataclass from settings.py) that enter its cache key."""

    def __init__(self, config):
        self.config = config

    def settings(self, ctx: Context) -> dict:
        return {**asdict(self.config), **self.data_settings(ctx)}

    def data_settings(self, ctx: Context) -> dict:
        """What else changes the output: the data it trains on, the quantization scheme."""
        return {}
