"""Gates in int8: a sigmoid and the multiply it gates (SiLU/Swish `x * sigmoid(x)`, squeeze-excite's
`h * sigmoid(...)`), quantized in and out, so that int8 runtimes run them in their int8 kernels instead of a float
island (dequantize, float op, quantize) between int8 layers. litert-torch's quantizer annotates neither, and keeps
SiLU whole, which every converter then decomposes into a sigmoid and a multiply after quantization, both float.

Measured on the zoo's EfficientNet-style net (49 SiLU and squeeze-excite gates), 1 thread, VNNI EPYC: onnxruntime
int8 11.0 -> 8.5 ms (QLinearSigmoid, QLinearMul), LiteRT 7.4 -> 5.5 ms (int8 LOGISTIC, MUL); OpenVINO 7.8 -> 11.2 ms,
so its IR takes the sigmoid's output in float again (shared/qdq.float_sigmoids)."""
from __future__ import annotations

SILU = ("silu.default", "silu_.default")
SIGMOID = ("sigmoid.default", "sigmoid_.default")
MUL = ("mul.Tensor", "mul_.Tensor")


def _aten(node, names) -> bool:
    target = str(getattr(node, "target", ""))
    return getattr(node, "op", None) == "call_function" and target.startswith("aten.") and \
        target.split(".", 1)[1] in names


def silu_as_gate(model) -> int:
    """Each SiLU of the exported graph as x * sigmoid(x) (the same function), so each of the two can be quantized.
    Returns how many."""
    import torch

    graph, done = model.graph, 0
    for node in list(graph.nodes):
        if not _aten(node, SILU):
            continue
        x = node.args[0]
        with graph.inserting_before(node):
            gate = graph.call_function(torch.ops.aten.sigmoid.default, (x,))
            product = graph.call_function(torch.ops.aten.mul.Tensor, (x, gate))
        for new in (gate, product):
            new.meta = {k: v for k, v in node.meta.items() if k != "quantization_annotation"}
        node.replace_all_uses_with(product)
        graph.erase_node(node)
        done += 1
    if done:
        graph.lint()
        model.recompile()
    return done


def annotate_gates(model, act_in, act_out, is_float) -> int:
    """Annotate each sigmoid (its input and output) and each multiply of an activation by a sigmoid's output (both
    inputs and the output) as quantized, keeping what the quantizer already set. Returns how many ops."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    done = 0
    for node in model.graph.nodes:
        gated = _aten(node, MUL) and len(node.args) > 1 and all(is_float(a) for a in node.args[:2]) \
            and any(_aten(a, SIGMOID) for a in node.args[:2])
        if not (gated or _aten(node, SIGMOID) and is_float(node.args[0])):
            continue
        annotation = node.meta.setdefault("quantization_annotation",
                                          QuantizationAnnotation(output_qspec=act_out, _annotated=True))
        if annotation.output_qspec is None:
            annotation.output_qspec = act_out
        for arg in node.args[:2 if gated else 1]:  # an input quantized already (a sigmoid's fixed 1/256 grid, a
            # layer's output) is read on its own grid, not rounded again onto another
            produced = getattr(arg, "meta", {}).get("quantization_annotation")
            shared = produced is not None and produced.output_qspec is not None
            annotation.input_qspec_map.setdefault(arg, SharedQuantizationSpec(arg) if shared else act_in)
        annotation._annotated = True
        done += 1
    return done
