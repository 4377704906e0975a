"""Compare an artifact's outputs with the PyTorch reference on held-out data, and check a target's budget."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .targets import Budget


@dataclass(frozen=True)
class Metrics:
    accuracy: float                # top-1 against the labels
    agreement: float               # fraction whose top-1 equals the reference's
    max_abs_error: float           # largest |output - reference output|
    max_error_lsb: float | None    # the same in output quantization steps, when the reference is int8
    error_lsb_p99: float | None    # 99th percentile of the output errors, in quantization steps

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if v is not None else None) for k, v in asdict(self).items()}


def compare(outputs: np.ndarray, reference: np.ndarray, labels: np.ndarray, lsb: float | None = None) -> Metrics:
    top1 = outputs.argmax(1)
    errors = np.abs(outputs - reference)
    steps = np.round(errors / lsb, 3) if lsb else None  # int8 outputs differ by whole steps, up to float noise
    return Metrics(accuracy=float((top1 == labels).mean()), agreement=float((top1 == reference.argmax(1)).mean()),
                   max_abs_error=float(errors.max()), max_error_lsb=float(steps.max()) if lsb else None,
                   error_lsb_p99=float(np.quantile(steps, 0.99)) if lsb else None)


def budget_violations(metrics: Metrics | None, reference_accuracy: float, budget: Budget, facts: dict) -> list[str]:
    """What an artifact breaks of the budget, each with by how much; empty when within it. Without metrics (a
    runtime that cannot predict here) only its facts are judged."""
    broken = []
    drop = (reference_accuracy - metrics.accuracy) * 100 if metrics else 0.0
    if budget.max_accuracy_drop is not None and drop > budget.max_accuracy_drop:
        broken.append(f"accuracy drop {drop:.2f} pt > {budget.max_accuracy_drop:g} pt allowed "
                      f"(over by {drop - budget.max_accuracy_drop:.2f} pt)")
    if budget.min_agreement is not None and metrics and metrics.agreement < budget.min_agreement:
        broken.append(f"top-1 agreement {metrics.agreement:.2%} < {budget.min_agreement:.2%} required "
                      f"(short by {(budget.min_agreement - metrics.agreement) * 100:.2f} pt)")
    lsb = metrics.error_lsb_p99 if metrics else None
    if budget.max_error_lsb is not None and lsb is not None and lsb > budget.max_error_lsb:
        broken.append(f"99th-percentile output error {lsb:.2f} LSB > {budget.max_error_lsb:g} LSB allowed")
    if budget.ram_bytes is not None and "arena_bytes" in facts and facts["arena_bytes"] > budget.ram_bytes:
        broken.append(f"RAM: tensor arena {facts['arena_bytes']:,} B (activations and scratch, measured in TFLM "
                      f"plus margin) > {budget.ram_bytes:,} B (over by {facts['arena_bytes'] - budget.ram_bytes:,} B)")
    if budget.flash_bytes is not None and "model_bytes" in facts and facts["model_bytes"] > budget.flash_bytes:
        broken.append(f"flash: model {facts['model_bytes']:,} B (weights, quantization parameters, graph) > "
                      f"{budget.flash_bytes:,} B (over by {facts['model_bytes'] - budget.flash_bytes:,} B)")
    if budget.ram_bytes is not None and facts.get("sram_bytes", 0) > budget.ram_bytes:
        broken.append(f"SRAM: {facts['sram_bytes']:,} B (Vela's estimate: tensors and weight buffers) > "
                      f"{budget.ram_bytes:,} B (over by {facts['sram_bytes'] - budget.ram_bytes:,} B)")
    if budget.flash_bytes is not None and facts.get("off_chip_bytes", 0) > budget.flash_bytes:
        broken.append(f"flash: {facts['off_chip_bytes']:,} B (Vela's estimate: command stream and weights) > "
                      f"{budget.flash_bytes:,} B (over by {facts['off_chip_bytes'] - budget.flash_bytes:,} B)")
    if budget.int8_compute and facts.get("cpu_ops"):
        reasons = "; ".join(facts.get("cpu_fallback", [])[:2]) or "see vela.json"
        broken.append(f"{facts['cpu_ops']} operator(s) fall back from the NPU to the CPU (Vela: {reasons})")
    if budget.int8_compute and facts.get("float_compute_layers"):
        layers = facts["float_compute_layers"]
        broken.append(f"{len(layers)} compute layers do not run in int8: {', '.join(layers[:3])}")
    return broken
