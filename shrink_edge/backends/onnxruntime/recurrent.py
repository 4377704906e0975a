"""An int8 file's LSTM layers as onnxruntime's DynamicQuantizeLSTM: int8 weights (a scale per gate row), the input
and the state quantized at run time. PT2E has no int8 LSTM and onnxruntime no static one, so an LSTM stayed float in
the int8 file (a 2-layer LSTM encoder, hidden 128: 866 KB of the float file's 875 KB; with this 236 KB, 43.3 dB, and
1.49x the float file's speed at 1 thread). onnxruntime has no int8 GRU kernel: a GRU runs float (facts.float_ops),
its weights rounded to the same row-wise int8 grid and stored float, so that the runtimes that read this file agree
and OpenVINO stores them as int8 (openvino/recurrent.py). Stored int8 behind a DequantizeLinear here instead, the
zoo's GRU keyword spotter ran 0.053 -> 0.071 ms: onnxruntime dequantizes them on every call."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..shared.onnx_graph import replace_nodes
from ..shared.per_row import per_row
from .ort_quantizer import folded, kept_float


def recurrent_int8(model: onnx.ModelProto, keep_float: tuple[str, ...], seven_bits: bool) -> int:
    """Replace, in place, each LSTM whose weights are constants (once the graph's constant subgraphs are computed:
    the exporter builds them by slicing the module's) and that `keep_float` leaves to int8, and round such a GRU's
    weights; `seven_bits` where 8-bit products saturate on this CPU class (export.u8s8_exact). Returns how many
    layers."""
    if not any(n.op_type in ("LSTM", "GRU") for n in model.graph.node):
        return 0
    model.CopyFrom(folded(model))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    kept = set(kept_float(model, keep_float))
    levels = 63 if seven_bits else 127
    nodes, replaced, lstms = [], 0, 0
    for node in graph.node:
        layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
        if node.op_type not in ("LSTM", "GRU") or node.name in kept or layout != 0 or \
                not all(name in weights for name in node.input[1:3]):
            nodes.append(node)
            continue
        if node.op_type == "GRU":  # W [dirs, 3 hidden, input], R [dirs, 3 hidden, hidden]
            for name in node.input[1:3]:
                codes, scales = per_row(numpy_helper.to_array(weights[name]), levels)
                weights[name].CopyFrom(numpy_helper.from_array(codes.astype(np.float32) * scales[..., None], name))
            nodes.append(node)
            replaced += 1
            continue
        inputs = list(node.input) + [""] * (8 - len(node.input))
        quantized = []
        for name in node.input[1:3]:  # W [dirs, 4 hidden, input], R [dirs, 4 hidden, hidden]
            codes, scales = per_row(numpy_helper.to_array(weights[name]), levels)
            quantized += [numpy_helper.from_array(codes.transpose(0, 2, 1).copy(), f"{name}_int8"),
                          numpy_helper.from_array(scales, f"{name}_scale"),
                          numpy_helper.from_array(np.zeros(scales.shape, np.int8), f"{name}_zero_point")]
        graph.initializer.extend(quantized)
        w, w_scale, w_zero, r, r_scale, r_zero = (t.name for t in quantized)
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name != "layout"}
        nodes.append(helper.make_node("DynamicQuantizeLSTM", [inputs[0], w, r, *inputs[3:8], w_scale, w_zero,
                                                              r_scale, r_zero],
                                      list(node.output), node.name, domain="com.microsoft", **attributes))
        replaced, lstms = replaced + 1, lstms + 1
    if lstms:
        replace_nodes(graph, nodes)
        if not any(o.domain == "com.microsoft" for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return replaced
