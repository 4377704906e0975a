"""The user's own task metric (mAP, IoU, pitch error, recall@k), computed on the reference's and on each artifact's
outputs: `--metric path.py:fn`, where fn(outputs, labels) gets a dict of output name -> array (all held-out samples)
and the labels `y` as the data holds them (class ids, masks, boxes ...; None without them) and returns a number, or a
dict of named numbers; higher is better."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError, first_line
from ..files import sha256_file
from ..model.user_code import load_callable


@dataclass(frozen=True)
class TaskMetric:
    file: Path
    function: str

    @classmethod
    def parse(cls, text: str) -> "TaskMetric":
        file, _, function = text.rpartition(":")
        if not file or not function.isidentifier():
            raise UserError(f"bad --metric '{text}'; give path/to/file.py:function (outputs, labels) -> number")
        if not Path(file).is_file():
            raise UserError(f"metric file not found: {file}")
        return cls(Path(file), function)

    def fingerprint(self) -> dict:
        return {"file": str(self.file), "function": self.function, "sha256": sha256_file(self.file)}

    def _function(self):
        return load_callable(self.file, self.function, "shrink_edge_metric",
                             "name the function --metric calls as fn(outputs, labels)")

    def __call__(self, outputs: dict[str, np.ndarray], labels: np.ndarray | None) -> dict[str, float]:
        try:
            value = self._function()(outputs, labels)
        except UserError:
            raise
        except Exception as e:  # the user's code can raise anything
            raise UserError(f"metric {self.file}:{self.function} failed: {type(e).__name__}: {first_line(e)}") from None
        values = value if isinstance(value, dict) else {self.function: value}
        try:
            found = {str(k): float(v) for k, v in values.items()}
        except (TypeError, ValueError):
            raise UserError(f"metric {self.file}:{self.function} returned {type(value).__name__}; return a number or "
                            "a dict of numbers") from None
        if not all(math.isfinite(v) for v in found.values()):
            raise UserError(f"metric {self.file}:{self.function} returned a value that is not finite: {found}")
        return found


def drops(reference: dict[str, float], artifact: dict[str, float], allowed: float) -> list[str]:
    """Each named value that fell more than `allowed` below the reference's."""
    return [f"{name} {artifact[name]:.4g} vs {reference[name]:.4g} on the reference (drop "
            f"{reference[name] - artifact[name]:.4g} > {allowed:g} allowed)"
            for name in reference if name in artifact and reference[name] - artifact[name] > allowed]
