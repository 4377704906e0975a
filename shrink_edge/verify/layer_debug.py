"""Which layers of an int8 program lose accuracy, and how much each is worth keeping in float.

Everything runs on one program, the unfolded int8 program that every artifact is converted from (weights as
float -> quantize -> dequantize), with quantization points switched off at will (quant_points.run): all off is the
float model, so each intermediate tensor of the int8 run has its float counterpart at the same node. Per layer:

- its output against float: SQNR and cosine of the tensor the next layers read, which says where the error first
  appears and where it grows;
- its own share, measured on the model's outputs (worst output's SQNR): with that layer alone in int8, and with
  that layer alone left in float (the points quant_points.selected removes, exactly what keep_float does).

Layers rank by how much SQNR the model's outputs gain with that layer alone in float.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..quant import quant_points
from .metrics import cosines, rounded, sqnr_db

BATCH = 32


@dataclass(frozen=True)
class LayerShare:
    layer: str
    points: int                    # weights and activations this layer rounds to int8
    output_sqnr_db: float | None   # the layer's output in the int8 program against float (error so far)
    output_cosine: float | None
    alone_int8_db: float           # the model's outputs with only this layer in int8
    alone_float_db: float          # ... with every layer in int8 but this one

    def as_dict(self) -> dict:
        return {k: (rounded(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Diagnosis:
    int8_db: float                 # the model's outputs, every layer in int8 (worst output's SQNR)
    int8_cosine: float             # worst output's mean cosine
    samples: int
    layers: tuple[LayerShare, ...]  # in graph order

    def ranked(self) -> list[LayerShare]:
        """Worst first: the largest gain from keeping the layer alone in float, then the worst alone in int8."""
        return sorted(self.layers, key=lambda s: (-(s.alone_float_db - self.int8_db), s.alone_int8_db))

    def gain_db(self, share: LayerShare) -> float:
        return share.alone_float_db - self.int8_db

    def as_dict(self) -> dict:
        return {"int8_sqnr_db": rounded(self.int8_db), "int8_cosine": rounded(self.int8_cosine),
                "samples": self.samples,
                "ranked": [{**s.as_dict(), "gain_db": rounded(self.gain_db(s))} for s in self.ranked()]}


def _batches(inputs):
    import torch

    for i in range(0, len(inputs[0]), BATCH):
        yield i, [torch.from_numpy(x[i:i + BATCH]) for x in inputs]


def _outputs(program, inputs, off) -> list[np.ndarray]:
    """The model's outputs over every sample, batch by batch."""
    parts = [[o.numpy() for o in quant_points.run(program, batch, off)[0]] for _, batch in _batches(inputs)]
    return [np.concatenate(p) for p in zip(*parts)]


class _Tally:
    """SQNR and mean cosine of tensors against their references, summed batch by batch: an intermediate tensor of
    every layer over every sample would not fit in memory for a 224x224 model."""

    def __init__(self):
        self.signal, self.noise, self.cosines = {}, {}, {}

    def add(self, name: str, value: np.ndarray, reference: np.ndarray) -> None:
        value, reference = value.astype(np.float64), reference.astype(np.float64)
        self.signal[name] = self.signal.get(name, 0.0) + float(np.sum(reference ** 2))
        self.noise[name] = self.noise.get(name, 0.0) + float(np.sum((value - reference) ** 2))
        self.cosines.setdefault(name, []).extend(cosines(value, reference))

    def sqnr(self, name: str) -> float:
        noise, signal = self.noise[name], self.signal[name]
        return float("inf") if noise == 0 else 10 * np.log10(signal / noise) if signal > 0 else float("-inf")

    def cosine(self, name: str) -> float:
        return float(np.mean(self.cosines[name]))


def _compared(program, inputs, everything, nodes) -> tuple[list[np.ndarray], list[np.ndarray], _Tally]:
    """Float and int8 runs side by side: both runs' outputs, and the int8 value of each of `nodes` against float."""
    tally, floats, ints = _Tally(), [], []
    for _, batch in _batches(inputs):
        f_out, f_seen = quant_points.run(program, batch, everything, nodes)
        q_out, q_seen = quant_points.run(program, batch, set(), nodes)
        floats.append([o.numpy() for o in f_out])
        ints.append([o.numpy() for o in q_out])
        for name in f_seen:
            tally.add(name, q_seen[name].float().numpy(), f_seen[name].float().numpy())
    return [np.concatenate(p) for p in zip(*floats)], [np.concatenate(p) for p in zip(*ints)], tally


def _worst(outputs, reference) -> tuple[float, float]:
    """The lowest SQNR and the lowest mean cosine over the outputs."""
    return (min(sqnr_db(o, r) for o, r in zip(outputs, reference)),
            min(float(cosines(o, r).mean()) for o, r in zip(outputs, reference)))


def diagnose(program, inputs: list[np.ndarray], steps=None) -> Diagnosis:
    """Measure every layer of an unfolded int8 program on `inputs` (one array per model input)."""
    found = quant_points.points(program)
    everything = {p.quantize for p in found}
    layers = quant_points.layers(program)
    by_name = {n.name: n for n in program.graph.nodes}
    # the tensor each layer hands on: the dequantized value of its last activation point
    handed_on = {}
    for p in found:
        if p.kind == "activation":
            handed_on[p.layer] = next(u.name for u in by_name[p.quantize].users)
    runs = 2 + 2 * len(layers)
    progress = steps.step(f"measuring {len(layers)} layers, {runs} runs on {len(inputs[0])} samples", total=runs) \
        if steps else _silent()
    with progress as advance:
        reference, int8, tally = _compared(program, inputs, everything, set(handed_on.values()))
        advance(2)
        int8_db, int8_cosine = _worst(int8, reference)
        shares = []
        for layer in layers:
            own = {p.quantize for p in found if p.layer == layer}
            alone_int8 = _worst(_outputs(program, inputs, everything - own), reference)[0]
            advance(1)
            kept = {p.quantize for p in quant_points.selected(program, [layer])}
            alone_float = _worst(_outputs(program, inputs, kept), reference)[0]
            advance(1)
            node = handed_on.get(layer)
            shares.append(LayerShare(layer, sum(p.layer == layer for p in found),
                                     tally.sqnr(node) if node else None, tally.cosine(node) if node else None,
                                     alone_int8, alone_float))
    return Diagnosis(int8_db, int8_cosine, len(inputs[0]), tuple(shares))


def _aligned(values: np.ndarray, shape: tuple) -> np.ndarray | None:
    """A runtime tensor in the program's layout: as it is, or channel-last (NHWC, NLC) moved back to channel-first."""
    if values.shape == shape:
        return values
    moves = {4: (0, 3, 1, 2), 3: (0, 2, 1)}
    if values.ndim in moves and values.transpose(moves[values.ndim]).shape == shape:
        return values.transpose(moves[values.ndim])
    if values.ndim > len(shape) and values.size == np.prod(shape) and all(d == 1 for d in values.shape[len(shape):]):
        return values.reshape(shape)  # (N, C, 1, 1) for (N, C): a pooled tensor before its flatten
    return None


def runtime_errors(program, inputs: list[np.ndarray], tensors) -> dict[str, dict]:
    """Per layer, the artifact's own tensor (backends' `intermediates`) against the float model and against the
    int8 program at the same point: where a runtime departs from the int8 reference. Runtime tensors are matched to
    the program's activation points in order, by quantization scale and shape; a layer whose tensor the runtime
    fused away or rescaled has no entry."""
    found = [p for p in quant_points.points(program) if p.kind == "activation"]
    everything = {p.quantize for p in quant_points.points(program)}
    by_name = {n.name: n for n in program.graph.nodes}
    handed_on = {p.quantize: next(u.name for u in by_name[p.quantize].users) for p in found}
    _, batch = next(_batches(inputs))
    shapes = {k: tuple(v.shape) for k, v in quant_points.run(program, batch, set(), set(handed_on.values()))[1].items()}
    used, matched = set(), {}  # layer -> (program node, runtime tensor); a layer's last point wins
    for point in found:
        scale = by_name[point.quantize].args[1]
        scale = float(getattr(program, scale.target)) if hasattr(scale, "target") else float(scale)
        node = handed_on[point.quantize]
        for j, tensor in enumerate(tensors):
            if j not in used and np.isclose(tensor.scale, scale, rtol=1e-5) \
                    and _aligned(tensor.values[:len(batch[0])], shapes[node]) is not None:
                used.add(j)
                matched[point.layer] = (node, tensor)
                break
    against_float, against_int8 = _Tally(), _Tally()
    nodes = {node for node, _ in matched.values()}
    for i, batch in _batches(inputs):
        _, floats = quant_points.run(program, batch, everything, nodes)
        _, ints = quant_points.run(program, batch, set(), nodes)
        for layer, (node, tensor) in matched.items():
            values = _aligned(tensor.values[i:i + len(batch[0])], tuple(floats[node].shape))
            against_float.add(layer, values, floats[node].float().numpy())
            against_int8.add(layer, values, ints[node].float().numpy())
    return {layer: {"tensor": tensor.name, "sqnr_db": rounded(against_float.sqnr(layer)),
                    "vs_int8_db": rounded(against_int8.sqnr(layer))} for layer, (_, tensor) in matched.items()}


class _silent:
    def __enter__(self):
        return lambda n=1: None

    def __exit__(self, *exc):
        return False
