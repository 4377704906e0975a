"""LSTM, GRU and RNN layers unrolled into steps XNNPACK's partitioner takes.

ExecuTorch 1.5.1 decomposes `aten.lstm` and `aten.gru` while lowering, after our graph rewrites, into per-step
linear layers and gates joined by `split` (the gates' chunk), `unbind` (the time steps) and a `zeros` initial
state, which XNNPACK does not take: the zoo's GRU keyword spotter ran as 50 delegate calls with 148 portable ops
between them. Here the layers are unrolled first (torch's own decompositions, the same values), the splits and
unbinds written as slices and views (slices.py) and the zeros as constants. PT2E leaves the recurrent layers float,
so in the int8 file each step's linear layer becomes XNNPACK's dynamically quantized one (int8 weights, its input
quantized per call): a GRU and an LSTM of 128 units over 49 frames, 1,075 KB -> 480 KB and 1.63 -> 0.87 ms (1
thread), cosine 0.99998 to float.
"""
from __future__ import annotations

import re

from .lower import _each, _replace, _static_shape


def unrolled(program):
    """The exported program with its recurrent layers decomposed into their steps (itself if it has none)."""
    import torch
    from torch._decomp import get_decompositions

    aten = torch.ops.aten
    recurrent = [aten.lstm.input, aten.gru.input, aten.rnn_tanh.input, aten.rnn_relu.input]
    if not any(n.op == "call_function" and n.target in recurrent for n in program.graph.nodes):
        return program
    return program.run_decompositions(get_decompositions(recurrent))


def zeros_as_constants(graph_module) -> int:
    """Each `zeros` of a static shape (an initial state) as a constant; returns how many."""
    import torch

    def rewrite(graph, node) -> bool:
        if (shape := _static_shape(node)) is None or node.meta["val"].dtype != torch.float32:
            return False
        name = f"_zeros_{node.name}"
        graph_module.register_buffer(name, torch.zeros(shape))
        with graph.inserting_before(node):
            constant = graph.get_attr(name)
        return _replace(graph, node, constant)

    return _each(graph_module, torch.ops.aten.zeros.default, rewrite)


RECURRENT_WEIGHT = re.compile(r"(^|\.)weight_(ih|hh)_l\d+(_reverse)?$")


def recurrent_weights_int8(graph_module, keep_float=()) -> int:
    """Each linear step of an unrolled recurrent layer (not in `keep_float`) as XNNPACK's dynamically quantized
    fully connected layer: int8 weights with a scale per row, its input quantized per call (choose_qparams), as
    XNNPACKQuantizer's dynamic scheme marks a linear layer. PT2E leaves `aten.lstm`/`aten.gru` float, so the int8
    file held the recurrent weights in float; returns how many steps."""
    import operator

    import torch
    from torch.ao.quantization.fx import _decomposed  # noqa: F401 - registers quantized_decomposed

    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    packed = {}  # a weight's get_attr target -> (int8 weight node, scales node, zero points node)

    def recurrent(weight) -> bool:
        """Whether a weight is a recurrent layer's (nn.GRU/LSTM/RNN name them weight_ih_l0, weight_hh_l1_reverse,
        ...; a loaded program keeps the names, not the module types) and its layer is not kept float."""
        if getattr(weight, "op", None) != "get_attr" or not RECURRENT_WEIGHT.search(weight.target):
            return False
        path = weight.target.rpartition(".")[0]
        return not any(path == k or path.endswith(f".{k}") for k in keep_float)

    def rewrite(graph, node) -> bool:
        x, weight = node.args[:2]
        if not recurrent(weight):
            return False
        if weight.target not in packed:
            w = operator.attrgetter(weight.target)(graph_module).detach().float()
            scales = (w.abs().amax(1) / 127).clamp(min=torch.finfo(torch.float32).eps)
            codes = torch.clamp(torch.round(w / scales[:, None]), -127, 127).to(torch.int8)
            names = []
            for suffix, value in (("int8", codes), ("scales", scales),
                                  ("zero_points", torch.zeros(len(scales), dtype=torch.int64))):
                name = f"_{weight.target.replace('.', '_')}_{suffix}"
                graph_module.register_buffer(name, value)
                names.append(name)
            with graph.inserting_after(weight):
                packed[weight.target] = [graph.get_attr(n) for n in names]
        codes, scales, zeros = packed[weight.target]
        with graph.inserting_before(node):
            choose = graph.call_function(qd.choose_qparams.tensor,
                                         (x, -128, 127, torch.finfo(torch.float32).eps, torch.int8))
            scale, zero = (graph.call_function(operator.getitem, (choose, i)) for i in (0, 1))
            quantized = graph.call_function(qd.quantize_per_tensor.tensor, (x, scale, zero, -128, 127, torch.int8))
            read = graph.call_function(qd.dequantize_per_tensor.tensor,
                                       (quantized, scale, zero, -128, 127, torch.int8))
            weights = graph.call_function(qd.dequantize_per_channel.default,
                                          (codes, scales, zeros, 0, -127, 127, torch.int8))
        node.args = (read, weights, *node.args[2:])
        return True

    done = _each(graph_module, aten.linear.default, rewrite)
    if done:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
        read = {n.target for n in graph_module.graph.nodes if n.op == "get_attr"}
        for target in set(packed) - read:  # the float weights, now unread: not exported again
            module_path, _, name = target.rpartition(".")
            owner = graph_module.get_submodule(module_path) if module_path else graph_module
            delattr(owner, name)
    return done
