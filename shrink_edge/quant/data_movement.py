"""Concatenation, resizing, padding, slicing and rearranging in int8. litert-torch's quantizer finds `cat` by its
source partition, which torch.export (2.13, non-strict) no longer records, never annotates a resize, and carries a
grid through `view` and `permute` but not `transpose`, `reshape` or a split; so a U-Net's skip connections and
upsampling, a ShuffleNet's channel shuffle and split ran in float between int8 layers (onnxruntime: Resize, Concat,
Reshape, Transpose and Split in float; ExecuTorch: a float concatenation and three conversions per skip).
Annotated here as litert-torch meant to and as ExecuTorch's XNNPACKQuantizer does: a resize (nearest or bilinear,
whose values lie within its input's range) and a zero pad (zero is on every grid: the zero point) read and write
their input's grid, as do a rearrangement (view, reshape, transpose, squeeze, pixel shuffle: the same values), a
slice and each part of a split of a quantized value (a GLU's halves, a YOLO head's boxes and scores, a C2f block's
chunk: onnxruntime kept DequantizeLinear -> Slice or Split -> QuantizeLinear in float when the parts were rounded
onto grids of their own), and a concatenation's inputs and output share one grid, its first input's where that one
is quantized already, observed over all of them: the int8 concatenation every runtime has copies bytes, and an
input on another grid is requantized once, before it. Left float: a concatenation the model returns (a detector's
anchors: no int8 op reads it, and its inputs would only be rounded again) and one of a constant (a ViT's class
token: ExecuTorch 1.5.1 failed to load the XNNPACK program whose int8 concatenation read it, error 0x1)."""
from __future__ import annotations

import operator

from .gates import _aten, _quantized_output

CONCATENATIONS = ("cat.default", "concat.default")
VIEWS = ("expand", "view", "reshape", "unsqueeze", "clone", "repeat")
PADS = ("pad.default", "constant_pad_nd.default")  # zeros (on every grid: its zero point) or, reflecting, copies
RESIZES = PADS + ("upsample_nearest1d.vec", "upsample_nearest1d.default", "upsample_nearest2d.vec",
           "upsample_nearest2d.default", "_upsample_nearest_exact2d.vec", "_upsample_nearest_exact2d.default",
           "upsample_bilinear2d.vec", "upsample_bilinear2d.default", "upsample_linear1d.vec",
           "upsample_linear1d.default")
SLICES = ("slice.Tensor", "select.int", "narrow.default")  # some of the input's values
REARRANGES = ("view.default", "reshape.default", "_unsafe_view.default", "transpose.int", "permute.default",
              "t.default", "flatten.using_ints", "unflatten.int", "squeeze.dim", "squeeze.dims", "squeeze.default",
              "unsqueeze.default", "clone.default", "contiguous.default", "pixel_shuffle.default",
              "pixel_unshuffle.default", "roll.default")  # the same values
SPLITS = ("chunk.default", "split.Tensor", "split_with_sizes.default", "tensor_split.sections",
          "tensor_split.indices", "unbind.int")  # a tuple of slices, each read through a getitem


def annotate_data_movement(model, act_in, is_float) -> int:
    """Annotate each float resize, pad, rearrangement, slice, split and concatenation the quantizer left bare;
    returns how many."""
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    def grid(source):  # an input read on its own grid where it has one, else observed
        return SharedQuantizationSpec(source) if _quantized_output(source) else act_in

    done = 0
    for node in model.graph.nodes:
        if "quantization_annotation" in node.meta or not is_float(node):
            continue
        if _aten(node, RESIZES) and is_float(node.args[0]):
            source = node.args[0]
            node.meta["quantization_annotation"] = QuantizationAnnotation(
                input_qspec_map={source: grid(source)}, output_qspec=SharedQuantizationSpec((source, node)),
                _annotated=True)
            done += 1
        elif _aten(node, SLICES + REARRANGES) and _quantized_output(source := node.args[0]):
            node.meta["quantization_annotation"] = QuantizationAnnotation(
                input_qspec_map={source: SharedQuantizationSpec(source)},
                output_qspec=SharedQuantizationSpec((source, node)), _annotated=True)
            _read_on_its_grid(node)
            done += 1
        elif node.target is operator.getitem and _aten(split := node.args[0], SPLITS) \
                and _quantized_output(source := split.args[0]):  # the tuple itself is never observed
            node.meta["quantization_annotation"] = QuantizationAnnotation(
                output_qspec=SharedQuantizationSpec(source), _annotated=True)
            _read_on_its_grid(node)
            done += 1
        elif _aten(node, CONCATENATIONS) and (inputs := [a for a in node.args[0] if is_float(a)]) \
                and not any(_constant(a) for a in inputs) and any(u.op != "output" for u in node.users):
            first, shared = inputs[0], SharedQuantizationSpec((inputs[0], node))
            node.meta["quantization_annotation"] = QuantizationAnnotation(
                input_qspec_map={first: grid(first), **{a: shared for a in inputs[1:]}}, output_qspec=shared,
                _annotated=True)
            done += 1
    return done


def _read_on_its_grid(node) -> None:
    """Its readers annotated already (a convolution, gates.py's GLU multiply and sigmoid) read it on its grid."""
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    for user in node.users:
        if node in (reads := getattr(user.meta.get("quantization_annotation"), "input_qspec_map", {})):
            reads[node] = SharedQuantizationSpec(node)


def _constant(node) -> bool:
    """A parameter or buffer, or a view of one (a class token expanded to the batch)."""
    while getattr(node, "op", None) == "call_function" and str(node.target).startswith("aten.") \
            and str(node.target).split(".")[1] in VIEWS:
        node = node.args[0]
    return getattr(node, "op", None) == "get_attr"
