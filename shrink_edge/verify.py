"""Compare an artifact's outputs with the PyTorch reference on held-out data."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .targets import Budget


@dataclass(frozen=True)
class Metrics:
    accuracy: float       # top-1 against the labels
    agreement: float      # fraction whose top-1 equals the reference's
    max_abs_error: float  # largest |output - reference output|

    def as_dict(self) -> dict:
        return {k: round(v, 6) for k, v in asdict(self).items()}


def compare(outputs: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> Metrics:
    top1 = outputs.argmax(1)
    return Metrics(accuracy=float((top1 == labels).mean()),
                   agreement=float((top1 == reference.argmax(1)).mean()),
                   max_abs_error=float(np.abs(outputs - reference).max()))


def budget_violations(metrics: Metrics, reference_accuracy: float, budget: Budget) -> list[str]:
    """What the metrics break of the budget, each with by how much; empty when within it."""
    broken = []
    drop = (reference_accuracy - metrics.accuracy) * 100
    if budget.max_accuracy_drop is not None and drop > budget.max_accuracy_drop:
        broken.append(f"accuracy drop {drop:.2f} pt > {budget.max_accuracy_drop:g} pt allowed "
                      f"(over by {drop - budget.max_accuracy_drop:.2f} pt)")
    if budget.min_agreement is not None and metrics.agreement < budget.min_agreement:
        broken.append(f"top-1 agreement {metrics.agreement:.2%} < {budget.min_agreement:.2%} required "
                      f"(short by {(budget.min_agreement - metrics.agreement) * 100:.2f} pt)")
    return broken
