"""Gates in float, where OpenVINO fuses them into the convolution before: the int8 program quantizes each step of a
sigmoid, hard sigmoid, SiLU and hardswish (quant/gates.py) for the runtimes with int8 kernels for them, but
OpenVINO's CPU plugin runs those steps as separate int8 eltwise ops and FakeQuantize nodes, while it runs a float
Swish, HSwish, Sigmoid or HSigmoid as a post-op of the convolution that feeds it (what NNCF's placement leaves).
So the QDQ graph given to OpenVINO reads each gate in float again: a sigmoid's and a hard sigmoid's input and output
(the quantize -> dequantize pairs around it dropped), a SiLU as `x * sigmoid(x)` and a hardswish as one HardSwish
op on the float `x`. The convolution's int8 output quantization moves after the gate, one rounding fewer.

Measured, 1 thread, an AVX-512 VNNI + AMX Xeon, NNCF's `quantize` on the same float IR in the same run: the zoo's
MobileNetV3-Small (19 hardswish, 9 hard-sigmoid squeeze-excites) 1.95-1.97 -> 1.51-1.54 ms (float 1.83-1.84, NNCF
1.63), 43.8 -> 44.3 dB; the EfficientNet-style net (49 SiLU and squeeze-excite sigmoids) 10.0 -> 8.6-9.1 ms (float
11.8-12.2, NNCF 8.0-8.1; only the sigmoids' outputs in float, on an earlier VNNI EPYC: 11.2 -> 7.8 ms against
all-int8 gates).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..shared.onnx_graph import consumers, drop_unused, replace_nodes


def float_gates(model: onnx.ModelProto) -> dict[str, int]:
    """Sigmoids and hard sigmoids read and written in float, SiLU's multiply on the float input, hardswish as a
    HardSwish op. Returns how many of each."""
    counts = {"float_sigmoids": float_sigmoids(model), "float_hard_sigmoids": float_hard_sigmoids(model)}
    counts.update(fused_swishes(model))
    drop_unused(model.graph)
    return counts


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {o: node for node in graph.node for o in node.output}


def _float(name: str, producers: dict) -> str:
    """The float value behind DequantizeLinear(QuantizeLinear(value)), else the name itself."""
    dequantize = producers.get(name)
    if dequantize is None or dequantize.op_type != "DequantizeLinear":
        return name
    quantize = producers.get(dequantize.input[0])
    return quantize.input[0] if quantize is not None and quantize.op_type == "QuantizeLinear" else name


def _requantized(name: str, graph: onnx.GraphProto, readers: dict, chained: bool = False) -> list | None:
    """The DequantizeLinear nodes that read `name` back through its one QuantizeLinear (its only reader), else
    None: the pair a float gate drops. `chained`: through each further QuantizeLinear -> DequantizeLinear pair that is
    a dequantized value's only reader too (a requantization to another scale before a multiply)."""
    outputs = {o.name for o in graph.output}
    quantizes = readers.get(name, [])
    if len(quantizes) != 1 or quantizes[0].op_type != "QuantizeLinear" or quantizes[0].output[0] in outputs:
        return None
    dequantizes = readers.get(quantizes[0].output[0], [])
    if not dequantizes or any(d.op_type != "DequantizeLinear" or d.output[0] in outputs for d in dequantizes):
        return None
    if chained:
        return [further for d in dequantizes for further in _requantized(d.output[0], graph, readers, True) or [d]]
    return dequantizes


def _rewired(graph: onnx.GraphProto, nodes: list[onnx.NodeProto], renamed: dict[str, str]) -> None:
    for node in nodes:
        node.input[:] = [renamed.get(name, name) for name in node.input]
    replace_nodes(graph, nodes)


def float_sigmoids(model: onnx.ModelProto) -> int:
    """Each Sigmoid reads its input in float and its output is read in float: the quantize -> dequantize pairs
    before and after it bypassed. Returns how many."""
    graph = model.graph
    producers, readers = _producers(graph), consumers(graph)
    renamed, done = {}, 0
    for node in graph.node:
        dequantizes = _requantized(node.output[0], graph, readers, True) if node.op_type == "Sigmoid" else None
        if dequantizes is None:
            continue
        node.input[0] = _float(node.input[0], producers)
        renamed.update((d.output[0], node.output[0]) for d in dequantizes)
        done += 1
    _rewired(graph, list(graph.node), renamed)
    return done


def _value(name: str, constants: dict, producers: dict) -> np.ndarray | None:
    """A constant's value, also behind a DequantizeLinear of constants (the int8 program quantizes the 3 of x + 3)."""
    if name in constants:
        return constants[name].astype(np.float32)
    node = producers.get(name)
    if node is None or node.op_type != "DequantizeLinear" or any(i not in constants for i in node.input):
        return None
    zero = constants[node.input[2]].astype(np.float32) if len(node.input) > 2 else 0
    return (constants[node.input[0]].astype(np.float32) - zero) * constants[node.input[1]]


def _scale(dequantize: onnx.NodeProto, constants: dict) -> float | None:
    scale = constants.get(dequantize.input[1])
    return float(scale.reshape(())) if scale is not None and scale.size == 1 else None


def float_hard_sigmoids(model: onnx.ModelProto) -> int:
    """Each hard sigmoid of the int8 program, Clip(x + 3, 0, 6) quantized with its 1/6 folded into the dequantize
    scale, as one HardSigmoid op on the float x, read in float. Returns how many."""
    graph = model.graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producers, readers = _producers(graph), consumers(graph)
    replaced, renamed = {}, {}
    for clip in graph.node:
        add = producers.get(clip.input[0]) if clip.op_type == "Clip" and len(clip.input) == 3 else None
        if add is None or add.op_type != "Add":
            continue
        bounds = [_value(i, constants, producers) for i in clip.input[1:]]
        threes = [i for i in add.input if _three(_value(i, constants, producers))]
        dequantizes = _requantized(clip.output[0], graph, readers)
        if any(b is None or b.size != 1 for b in bounds) or [float(b.reshape(())) for b in bounds] != [0, 6] or \
                len(threes) != 1 or dequantizes is None:
            continue
        quantize = producers[dequantizes[0].input[0]]
        gains = [(_scale(d, constants) or 0) / (_scale(quantize, constants) or np.inf) for d in dequantizes]
        if any(abs(6 * gain - 1) > 1e-4 for gain in gains):
            continue
        x = next(i for i in add.input if i != threes[0])
        gate = helper.make_node("HardSigmoid", [_float(x, producers)], [f"{clip.output[0]}_hard_sigmoid"],
                                name=f"{clip.name}_hard_sigmoid", alpha=1 / 6, beta=0.5)
        replaced[id(clip)] = gate
        renamed.update((d.output[0], gate.output[0]) for d in dequantizes)
    _rewired(graph, [replaced.get(id(n), n) for n in graph.node], renamed)
    return len(replaced)


def _three(value: np.ndarray | None) -> bool:
    return value is not None and value.size == 1 and abs(float(value.reshape(())) - 3) < 1e-3


def _attribute(node: onnx.NodeProto, name: str, default: float) -> float:
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def fused_swishes(model: onnx.ModelProto) -> dict[str, int]:
    """Each `x * gate(x)` on the float x: SiLU's multiply reads the float x its sigmoid reads (OpenVINO fuses the
    pair into a Swish), a hardswish becomes one HardSwish op (OpenVINO's ONNX HardSigmoid is not the HSigmoid that
    its hardswish fusion matches). Returns how many of each."""
    graph = model.graph
    producers = _producers(graph)
    replaced, counts = {}, {"swishes": 0, "hard_swishes": 0}
    for node in graph.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        a, b = node.input
        for gate_input, other in ((a, b), (b, a)):
            gate = producers.get(gate_input)
            if gate is None or gate.op_type not in ("Sigmoid", "HardSigmoid") or \
                    _float(other, producers) != _float(gate.input[0], producers):
                continue
            x = _float(other, producers)
            if gate.op_type == "Sigmoid":
                node.input[:] = [x, gate_input]
                gate.input[0] = x
                counts["swishes"] += 1
            elif abs(_attribute(gate, "alpha", 0.2) - 1 / 6) < 1e-6 and abs(_attribute(gate, "beta", 0.5) - 0.5) < 1e-6:
                replaced[id(node)] = helper.make_node("HardSwish", [x], list(node.output), name=node.name)
                counts["hard_swishes"] += 1
            break
    if replaced:
        replace_nodes(graph, [replaced.get(id(n), n) for n in graph.node])
    return counts
