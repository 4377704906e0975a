"""Gates in int8: a sigmoid or hard sigmoid and the multiply it gates (SiLU/Swish `x * sigmoid(x)`, hardswish
`x * hardsigmoid(x)`, squeeze-excite's `h * sigmoid(...)` and the pool before it), quantized step by step, so that
int8 runtimes run them in their int8 kernels instead of a float island (dequantize, float op, quantize) between int8
layers. litert-torch's quantizer annotates none of them, and the converters split SiLU and the hard sigmoid after
quantization, in float.

Measured, 1 thread, VNNI EPYC: the zoo's EfficientNet-style net (49 SiLU and squeeze-excite gates) onnxruntime int8
11.0 -> 8.5 ms (QLinearSigmoid, QLinearMul), LiteRT 7.4 -> 5.5 ms (int8 LOGISTIC, MUL); OpenVINO 7.8 -> 11.2 ms,
so its IR takes the gates in float again, fused into their convolutions (openvino/gates.py). MobileNetV3-Small (19 hardswish,
9 hard-sigmoid squeeze-excites): LiteRT 2.97 -> 1.07 ms (every op in one XNNPACK partition; its int8 HARD_SWISH
kernel is outside XNNPACK), onnxruntime 1.84 -> 1.56 ms (shared/qdq folds the 1/6 into a scale); ExecuTorch takes
the hardswish whole again (executorch/lower.hardswish_whole). PReLU (prelu_decomposed), the zoo's face model:
onnxruntime 0.57 -> 0.38 ms, TFLite Micro's arena 876,544 -> 230,400 B, LiteRT 0.16 -> 0.21 ms (XNNPACK's float
PReLU is faster than three int8 steps, but TFLite Micro and Ethos-U read the same file and run no float op well),
ExecuTorch whole again (executorch/lower.prelu_whole)."""
from __future__ import annotations

SILU = ("silu.default", "silu_.default")
SIGMOID = ("sigmoid.default", "sigmoid_.default")
TANH = ("tanh.default", "tanh_.default")
HARDSIGMOID = ("hardsigmoid.default", "hardsigmoid_.default")
HARDSWISH = ("hardswish.default", "hardswish_.default")
GLU = ("glu.default",)
MUL = ("mul.Tensor", "mul_.Tensor")
RELU = ("relu.default", "relu_.default")
PRELU = ("prelu.default", "_prelu_kernel.default")
BATCH_NORM = ("batch_norm.default",)
LAYERS = ("conv1d.default", "conv2d.default", "convolution.default", "linear.default")  # absorb a batch norm after
# pools whose output litert-torch leaves bare when the next op is not quantized (a squeeze-excite's pool): the
# converters then run them, and what reads them, in float
POOLS = ("adaptive_avg_pool2d.default", "mean.dim", "avg_pool2d.default")
MAX_POOLS = ("max_pool2d.default", "max_pool1d.default")  # their output on their input's grid (runtimes need it)
GATE = "shrink_edge_gate"  # marks the nodes gates_decomposed made


def _aten(node, names) -> bool:
    target = str(getattr(node, "target", ""))
    return getattr(node, "op", None) == "call_function" and target.startswith("aten.") and \
        target.split(".", 1)[1] in names


def gates_decomposed(model) -> int:
    """Each SiLU, GLU, hardswish and hard sigmoid of the exported graph as its definition, so that each step can be
    quantized: SiLU as x * sigmoid(x), GLU as a * sigmoid(b) of x's two halves (Conformer's convolution module),
    hardswish as x * hardsigmoid(x), hard sigmoid as relu6(x + 3) * (1/6). Whole,
    these run in float between int8 layers: converters split SiLU after quantization, litert-torch splits the hard
    sigmoid into a float ADD and MUL, onnxruntime has no QLinear HardSigmoid or HardSwish and LiteRT's XNNPACK
    delegate no int8 HARD_SWISH (its int8 kernel runs outside the delegate: 20 partitions for MobileNetV3-Small).
    Decomposed, every runtime has each step in int8: an ADD with ReLU6 fused, MULs, a sigmoid. Returns how many."""
    import torch

    aten = torch.ops.aten
    graph, done = model.graph, 0
    for node in list(graph.nodes):
        if not _aten(node, SILU + GLU + HARDSWISH + HARDSIGMOID):
            continue
        x = node.args[0]
        with graph.inserting_before(node):
            if _aten(node, GLU):
                dim = node.args[1] if len(node.args) > 1 else -1
                half = x.meta["val"].shape[dim] // 2
                x, gate = (graph.call_function(aten.slice.Tensor, (node.args[0], dim, start, start + half))
                           for start in (0, half))
                steps = [x, gate, graph.call_function(aten.sigmoid.default, (gate,))]
            elif _aten(node, SILU):
                steps = [graph.call_function(aten.sigmoid.default, (x,))]
            else:
                shifted = graph.call_function(aten.add.Tensor, (x, 3.0))
                clamped = graph.call_function(aten.hardtanh.default, (shifted, 0.0, 6.0))
                steps = [shifted, clamped, graph.call_function(aten.mul.Tensor, (clamped, 1 / 6))]
            if not _aten(node, HARDSIGMOID):
                steps.append(graph.call_function(aten.mul.Tensor, (x, steps[-1])))
        _replaced(graph, node, steps)
        done += 1
    return _recompiled(model, done)


def prelu_decomposed(model) -> int:
    """Each PReLU (slopes at most 1, as trained ones are) as slope * x + relu((1 - slope) * x), the same function,
    each step quantized (the slopes as constants): int8 multiplies (the ReLU fused into one) and an add in every
    runtime. Whole, its int8 form runs nowhere but in TFLite's reference kernel: litert-torch splits it after
    quantization into a float RELU, MUL and SUB, onnxruntime has no int8 PRelu, XNNPACK none. Returns how many."""
    import operator

    import torch

    aten = torch.ops.aten
    graph, done = model.graph, 0
    for node in list(graph.nodes):
        if not _aten(node, PRELU) or getattr(node.args[1], "op", None) != "get_attr":
            continue
        x, weight = node.args[:2]
        slope = operator.attrgetter(weight.target)(model).detach()
        if (slope > 1).any():  # relu((1 - slope) * x) = (1 - slope) * relu(x) needs 1 - slope >= 0
            continue
        shape = [1, slope.numel()] + [1] * max(x.meta["val"].dim() - 2, 0)  # along the channels (dim 1)
        with graph.inserting_before(node):
            factors = [_constant(model, f"_prelu_{done}_{name}", value.reshape(shape))
                       for name, value in (("slope", slope), ("rest", 1 - slope))]
            steps = [graph.call_function(aten.mul.Tensor, (x, factors[0])),
                     graph.call_function(aten.mul.Tensor, (x, factors[1]))]
            steps.append(graph.call_function(aten.relu.default, (steps[1],)))
            steps.append(graph.call_function(aten.add.Tensor, (steps[0], steps[2])))
        _replaced(graph, node, steps)
        done += 1
    return _recompiled(model, done)


def batch_norm_decomposed(model) -> int:
    """Each batch norm in eval mode that no layer before it absorbs (after a ReLU, as CREPE-style pitch nets have it;
    after a layer whose output something else reads too, as a pre-activation ResNet's stem feeds its first block's
    batch norm and shortcut) as x * a + b per channel, the same function, both steps quantized: an int8 multiply and
    add in every runtime. Whole, litert-torch splits it after quantization into a float SUB, MUL and ADD, and
    onnxruntime has no int8 BatchNormalization. Runs before prepare_pt2e (quant/scheme.prepared), which folds a
    batch norm into the layer before it whatever else reads that layer. Returns how many."""
    import operator

    import torch

    aten = torch.ops.aten
    graph, done = model.graph, 0
    for node in list(graph.nodes):
        if not _aten(node, BATCH_NORM) or node.args[5] or _absorbed(node) or any(
                n is not None and getattr(n, "op", None) != "get_attr" for n in node.args[1:5]):
            continue
        x = node.args[0]
        gamma, beta, mean, var = (None if n is None else operator.attrgetter(n.target)(model).detach()
                                  for n in node.args[1:5])
        scale = torch.rsqrt(var + node.args[7]) * (1 if gamma is None else gamma)
        shift = (0 if beta is None else beta) - mean * scale
        shape = [1, scale.numel()] + [1] * (x.meta["val"].dim() - 2)
        with graph.inserting_before(node):
            factors = [_constant(model, f"_batch_norm_{done}_{name}", value.reshape(shape))
                       for name, value in (("scale", scale), ("shift", shift))]
            scaled = graph.call_function(aten.mul.Tensor, (x, factors[0]))
            shifted = graph.call_function(aten.add.Tensor, (scaled, factors[1]))
        _replaced(graph, node, [scaled, shifted])
        done += 1
    return _recompiled(model, done)


def _absorbed(batch_norm) -> bool:
    """Whether the layer before a batch norm can take it in: it is a layer, and the batch norm its only reader."""
    layer = batch_norm.args[0]
    return _aten(layer, LAYERS) and len(layer.users) == 1


def _replaced(graph, node, steps: list) -> None:
    """`node` replaced by the last of `steps` (its definition), each step marked GATE and given node's metadata."""
    for new in steps:
        new.meta = {k: v for k, v in node.meta.items() if k != "quantization_annotation"}
        new.meta[GATE] = True
    node.replace_all_uses_with(steps[-1])
    graph.erase_node(node)


def _recompiled(model, done: int) -> int:
    if done:
        model.graph.eliminate_dead_code()  # the constants a PReLU or batch norm read
        model.graph.lint()
        model.recompile()
    return done


def _constant(model, name: str, value):
    """A constant tensor of the graph, as a buffer read by a get_attr node."""
    model.register_buffer(name, value.contiguous())
    node = model.graph.get_attr(name)
    node.meta["val"] = value
    return node


def annotate_gates(model, act_in, act_out, is_float) -> int:
    """Annotate each sigmoid and pool (its input and output) and each multiply of a gate (an activation by a
    sigmoid's output, gates_decomposed's: both inputs and the output) as quantized, keeping what the quantizer
    already set; a max pool after them reads and writes their grid; a ReLU the layer before it could not take in
    (other ops read that layer's output too) reads the layer's grid and has its own. A sigmoid and a tanh write
    TFLite's fixed grids (steps of 1/256 from 0, of 1/128 around 0): TFLite Micro's int8 kernels compute in them
    whatever the file says (an ESPCN-style net's tanh 40.4 dB in LiteRT, 11.4 dB in TFLite Micro; a YOLO-style
    head's sigmoid on a slice, which litert-torch leaves to us, 58.6 against 6.4 dB). Returns how many ops."""
    import torch
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, SharedQuantizationSpec

    def fixed(scale: float, zero_point: int):
        return FixedQParamsQuantizationSpec(dtype=torch.int8, scale=scale, zero_point=zero_point, quant_min=-128,
                                            quant_max=127, qscheme=torch.per_tensor_affine)

    sigmoid_grid, tanh_grid = fixed(1 / 256, -128), fixed(1 / 128, 0)  # litert-torch's and TFLite's

    done = 0
    for node in model.graph.nodes:
        gated = _aten(node, MUL) and len(node.args) > 1 and all(is_float(a) for a in node.args[:2]) \
            and (node.meta.get(GATE) or any(_aten(a, SIGMOID) for a in node.args[:2]))
        if gated and all(_aten(user, RELU) and user.meta.get(GATE) for user in node.users):
            _quantized(node, node.args[:2], act_in, None)  # quantized after the ReLU: runtimes fuse it
            done += 1
        elif gated or (_aten(node, SIGMOID + POOLS) or _aten(node, RELU) and node.meta.get(GATE)) \
                and is_float(node.args[0]):
            _quantized(node, node.args[:2 if gated else 0 if _aten(node, RELU) else 1], act_in,
                       sigmoid_grid if _aten(node, SIGMOID) else act_out)
            done += 1
        elif _aten(node, MAX_POOLS) and "quantization_annotation" not in node.meta \
                and _quantized_output(node.args[0]):  # litert-torch's annotation missed it (a split batch norm before)
            _quantized(node, node.args[:1], act_in, SharedQuantizationSpec((node.args[0], node)))
            done += 1
        elif _aten(node, TANH) and _quantized_output(node.args[0]):
            _quantized(node, node.args[:1], act_in, tanh_grid)
            node.meta["quantization_annotation"].output_qspec = tanh_grid
            for user in node.users:  # read on that grid, not requantized onto one of their own
                if node in (reads := getattr(user.meta.get("quantization_annotation"), "input_qspec_map", {})):
                    reads[node] = SharedQuantizationSpec(node)
            done += 1
        elif _aten(node, RELU) and _aten(node.args[0], LAYERS) and len(node.args[0].users) > 1 \
                and (layer := node.args[0].meta.get("quantization_annotation")) and layer.output_qspec is None:
            # litert-torch quantizes a layer and its ReLU once, after the ReLU, even when other ops read the
            # layer's output: no runtime can fuse them then, so the layer ran in float in onnxruntime and LiteRT,
            # and outside ExecuTorch's XNNPACK delegate, whose program could not load (no portable
            # dequantize_per_channel)
            layer.output_qspec = act_out
            _quantized(node, node.args[:1], act_in, act_out)
            done += 1
    return done


def _quantized_output(node) -> bool:
    annotation = getattr(node, "meta", {}).get("quantization_annotation")
    return annotation is not None and annotation.output_qspec is not None


def _quantized(node, inputs, act_in, act_out) -> None:
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    annotation = node.meta.setdefault("quantization_annotation",
                                      QuantizationAnnotation(output_qspec=act_out, _annotated=True))
    annotation.output_qspec = annotation.output_qspec or act_out
    for arg in inputs:  # an input quantized already (a sigmoid's fixed 1/256 grid, a layer's output) is read on its
        # own grid, not rounded again onto another
        annotation.input_qspec_map.setdefault(arg, SharedQuantizationSpec(arg) if _quantized_output(arg) else act_in)
    annotation._annotated = True
