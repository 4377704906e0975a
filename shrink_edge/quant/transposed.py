"""Transposed convolutions in int8 (a segmenter's or super-resolution net's upsampling, a decoder's). litert-torch's
quantizer annotates convolutions but not transposed ones, so each ran in float between int8 layers (onnxruntime:
ConvTranspose; LiteRT: DEQUANTIZE, TRANSPOSE_CONV, QUANTIZE). Annotated as a convolution is: the input and weights
int8, the weights with one scale per output channel, which is axis 1 of a transposed convolution's weight (groups
of 1 only: with more, axis 1 holds each group's outputs); a ReLU that alone reads it quantized after it, as
litert-torch fuses conv + ReLU."""
from __future__ import annotations

from dataclasses import replace

from .gates import RELU, _aten

TRANSPOSED = ("conv_transpose1d.default", "conv_transpose2d.input")


def annotate_transposed_convolutions(model, config, act_in, act_out) -> int:
    """Annotate each float transposed convolution the quantizer left bare; returns how many."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    done = 0
    for node in model.graph.nodes:
        if not _aten(node, TRANSPOSED) or "quantization_annotation" in node.meta or _groups(node) != 1:
            continue
        x, weight, bias = (list(node.args) + [None] * 3)[:3]
        qspecs = {x: act_in, weight: replace(config.weight, ch_axis=1)}
        if bias is not None and config.bias is not None:
            qspecs[bias] = config.bias
        relus = list(node.users) if node.users and all(_aten(u, RELU) for u in node.users) else []
        node.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map=qspecs, output_qspec=None if relus else act_out, _annotated=True)
        for relu in relus:
            relu.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=act_out, _annotated=True)
        done += 1
    return done


def _groups(node) -> int:
    """conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)"""
    return node.args[6] if len(node.args) > 6 else node.kwargs.get("groups", 1)
