"""Compare an artifact's outputs with the PyTorch reference on held-out data, output by output, and check a target's
budget.

Every output gets the measures that fit any task: SQNR in dB (10 log10 of the reference's power over the error's,
as onnxruntime's qdq_loss_debug and ExecuTorch's Inspector compute it), cosine similarity per sample (mean and
worst), the largest absolute error and, against an int8 reference, the error in that output's quantization steps.
Top-1 accuracy and agreement are measured only on the output that holds class scores, where the data has labels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..config.targets import Budget


@dataclass(frozen=True)
class OutputMetrics:
    sqnr_db: float                 # 10 log10(sum ref^2 / sum (out - ref)^2); inf (null in JSON) when identical
    cosine: float                  # mean over samples of cos(out, ref), each sample flattened
    cosine_worst: float            # the lowest sample's
    max_abs_error: float           # largest |output - reference output|
    max_error_lsb: float | None    # the same in output quantization steps, when the reference is int8
    error_lsb_p99: float | None    # 99th percentile of the output errors, in quantization steps

    def as_dict(self) -> dict:
        return _rounded_all(asdict(self))


@dataclass(frozen=True)
class Metrics:
    outputs: dict[str, OutputMetrics]
    accuracy: float | None = None   # top-1 against the labels, on the class-score output
    agreement: float | None = None  # fraction whose top-1 equals the reference's
    task: dict[str, float] | None = None  # the user's own metric (--metric), by name

    def worst(self, field: str, highest: bool = False) -> float | None:
        values = [v for m in self.outputs.values() if (v := getattr(m, field)) is not None]
        return (max(values) if highest else min(values)) if values else None

    def as_dict(self) -> dict:
        """The headline figures (the worst output's) and each output's own."""
        return {"accuracy": rounded(self.accuracy), "agreement": rounded(self.agreement),
                "sqnr_db": rounded(self.worst("sqnr_db")), "cosine": rounded(self.worst("cosine")),
                "max_abs_error": rounded(self.worst("max_abs_error", True)),
                "max_error_lsb": rounded(self.worst("max_error_lsb", True)),
                "error_lsb_p99": rounded(self.worst("error_lsb_p99", True)),
                "outputs": {name: m.as_dict() for name, m in self.outputs.items()},
                **({"task": {k: rounded(v) for k, v in self.task.items()}} if self.task is not None else {})}


def sqnr_db(output: np.ndarray, reference: np.ndarray) -> float:
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    noise = float(np.sum((output.astype(np.float64) - reference) ** 2))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")


def cosines(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per sample; two all-zero samples count as identical."""
    a = output.reshape(len(output), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.sum(a * b, axis=1)
    both_zero = (np.linalg.norm(a, axis=1) == 0) & (np.linalg.norm(b, axis=1) == 0)
    return np.where(both_zero, 1.0, dots / np.where(norms == 0, 1.0, norms))


def compare_output(output: np.ndarray, reference: np.ndarray, lsb: float | None = None) -> OutputMetrics:
    output = output.reshape(reference.shape).astype(np.float32)
    errors = np.abs(output - reference)
    steps = np.round(errors / lsb, 3) if lsb else None  # int8 outputs differ by whole steps, up to float noise
    cos = cosines(output, reference)
    return OutputMetrics(sqnr_db=sqnr_db(output, reference), cosine=float(cos.mean()), cosine_worst=float(cos.min()),
                         max_abs_error=float(errors.max()), max_error_lsb=float(steps.max()) if lsb else None,
                         error_lsb_p99=float(np.quantile(steps, 0.99)) if lsb else None)


def compare(outputs: list[np.ndarray], reference: list[np.ndarray], names, labels: np.ndarray | None = None,
            class_output: int | None = None, lsbs: list[float | None] | None = None) -> Metrics:
    """Each output against its reference (lists in the same order); top-1 on `class_output` where there are
    labels."""
    lsbs = lsbs or [None] * len(reference)
    per_output = {name: compare_output(o, r, lsb) for name, o, r, lsb in zip(names, outputs, reference, lsbs)}
    if class_output is None or labels is None:
        return Metrics(per_output)
    top1 = outputs[class_output].reshape(reference[class_output].shape).argmax(1)
    return Metrics(per_output, accuracy=float((top1 == labels).mean()),
                   agreement=float((top1 == reference[class_output].argmax(1)).mean()))


def fidelity_violations(metrics: Metrics | None, reference_accuracy: float | None, budget: Budget) -> list[str]:
    """What an artifact's outputs break of the budget, each with by how much: accuracy, agreement, cosine, SQNR,
    error in steps (nothing without metrics: a runtime that cannot predict here)."""
    broken = []
    if metrics is not None and metrics.accuracy is not None and reference_accuracy is not None:
        drop = (reference_accuracy - metrics.accuracy) * 100
        if budget.max_accuracy_drop is not None and drop > budget.max_accuracy_drop:
            broken.append(f"accuracy drop {drop:.2f} pt > {budget.max_accuracy_drop:g} pt allowed "
                          f"(over by {drop - budget.max_accuracy_drop:.2f} pt)")
        if budget.min_agreement is not None and metrics.agreement < budget.min_agreement:
            broken.append(f"top-1 agreement {metrics.agreement:.2%} < {budget.min_agreement:.2%} required "
                          f"(short by {(budget.min_agreement - metrics.agreement) * 100:.2f} pt)")
    for name, m in (metrics.outputs.items() if metrics else ()):
        if budget.min_cosine is not None and m.cosine < budget.min_cosine:
            broken.append(f"{name}: cosine {m.cosine:.4f} < {budget.min_cosine:g} required (worst sample "
                          f"{m.cosine_worst:.4f})")
        if budget.min_sqnr_db is not None and m.sqnr_db < budget.min_sqnr_db:
            broken.append(f"{name}: SQNR {m.sqnr_db:.1f} dB < {budget.min_sqnr_db:g} dB required")
        if budget.max_error_lsb is not None and m.error_lsb_p99 is not None and m.error_lsb_p99 > budget.max_error_lsb:
            broken.append(f"{name}: 99th-percentile output error {m.error_lsb_p99:.2f} LSB > "
                          f"{budget.max_error_lsb:g} LSB allowed")
    return broken


def fact_violations(budget: Budget, facts: dict, kept_float: int = 0) -> list[str]:
    """What the artifact itself breaks: memory and flash (fit_violations), operators off the accelerator or out of
    int8. `kept_float`: how many compute layers the int8 program runs in float on purpose (keep_float), which
    int8_compute allows."""
    broken = fit_violations(budget, facts)
    if budget.int8_compute and facts.get("cpu_ops"):
        reasons = "; ".join(facts.get("cpu_fallback", [])[:2]) or "see vela.json"
        broken.append(f"{facts['cpu_ops']} operator(s) fall back from the NPU to the CPU "
                      f"({facts.get('fallback_by', 'Vela')}: {reasons})")
    if budget.full_delegation and facts.get("undelegated_ops"):
        ops = facts["undelegated_ops"]
        broken.append(f"{sum(ops.values())} op(s) outside the delegate, on portable CPU kernels: "
                      f"{', '.join(list(ops)[:4])}")
    if budget.int8_compute and len(layers := facts.get("float_compute_layers", [])) > kept_float:
        kept = f" ({kept_float} kept in float on purpose)" if kept_float else ""
        broken.append(f"{len(layers)} compute layers do not run in int8{kept}: {', '.join(layers[:3])}")
    return broken


def fit_violations(budget: Budget, facts: dict) -> list[str]:
    """The memory the device lacks for the artifact (RAM, flash): no accuracy remedy makes it fit."""
    broken = []
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
    return broken


def rounded(value: float | None) -> float | None:
    """Rounded for the manifest; an infinite SQNR (no error at all) is written as null, JSON having no infinity."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 6)


def _rounded_all(values: dict) -> dict:
    return {k: rounded(v) for k, v in values.items()}
