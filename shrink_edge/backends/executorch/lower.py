"""pt2 -> executorch and pt2-int8 -> executorch-int8: a .pte for PyTorch's on-device runtime, with every op that
XNNPACK takes delegated to it (the rest on ExecuTorch's portable CPU kernels); pt2-int8 -> executorch-coreml-int8:
the same int8 program delegated to Core ML (Apple devices), for iOS 17+, the first whose Core ML has int8
activations (with iOS 15, the default, coremltools refuses the program's int8 quantize/dequantize pairs);
pt2-int8 -> executorch-ethos-u-int8: the same program delegated to an Arm Ethos-U NPU (ExecuTorch's Arm backend:
TOSA, then Vela's command stream inside the .pte).

The int8 program is the one every other target starts from (PTQ, or the QAT checkpoint): its quantizer
(symmetric int8 weights per channel, asymmetric int8 activations per tensor) is the scheme XNNPACKQuantizer's
symmetric config writes, so XnnpackPartitioner takes its Q/DQ groups as they are: nothing is re-calibrated. The
.pte has a static batch of 1, as apps call it; verification runs it sample by sample.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ...model.source import load_program
from ...passes.base import Context, Pass
from ...model.signature import examples, flatten_outputs
from .arm import arm_graph, arm_lowered, dequantized_inside
from .graph import called, same_input, through_quantize


@contextlib.contextmanager
def quiet():
    """executorch and torchao print warnings (torchao's CUDA extensions, deprecated pytree enums) on import and
    while lowering."""
    logging.getLogger("torch").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield


def xnnpack():
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    return XnnpackPartitioner()


def coreml():
    import coremltools as ct
    from executorch.backends.apple.coreml.compiler import CoreMLBackend
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    return CoreMLPartitioner(compile_specs=CoreMLBackend.generate_compile_specs(
        minimum_deployment_target=ct.target.iOS17))


def ethos_u(options: dict):
    """ExecuTorch's Ethos-U partitioner for the NPU and memory system the target's [options] name (as the ethos-u
    targets do)."""
    spec = _ethos_u_spec(options)
    from executorch.backends.arm.ethosu import EthosUPartitioner

    return EthosUPartitioner(spec, additional_checks=dequantized_inside())


def tosa(options: dict):
    """ExecuTorch's TOSA partitioner with the TOSA profile of that NPU: it takes the same ops, and its delegate holds
    the TOSA graph the Ethos-U backend gives Vela."""
    spec = _ethos_u_spec(options)
    from executorch.backends.arm.tosa.backend import TOSABackend
    from executorch.backends.arm.tosa.partitioner import TOSAPartitioner

    return TOSAPartitioner(TOSABackend.filter_tosa_compile_specs(spec), additional_checks=dequantized_inside())


def _ethos_u_spec(options: dict):
    from ..shared.vela import vela_config
    from .arm import tosa_tools

    tosa_tools()
    import executorch.kernels.quantized  # noqa: F401  (the portable kernels that quantize inputs, dequantize outputs)
    from executorch.backends.arm.ethosu import EthosUCompileSpec

    config = vela_config(options)
    return EthosUCompileSpec(config["accelerator"], system_config=config["system_config"],
                             memory_mode=config["memory_mode"])


def lowered(module, inputs, partitioner=None, rewrite=None, lower=None):
    """The module (float or PT2E-converted), exported at batch 1 (for XNNPACK its recurrent layers unrolled), its
    graph rewritten for the delegate (`rewrite`: for_xnnpack unless given) and lowered with a delegate (XNNPACK
    unless another partitioner is given; `lower`, if given, lowers the exported program in its own way): an edge
    program."""
    partitioner, rewrite = partitioner or xnnpack(), rewrite or for_xnnpack
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from .recurrent import unrolled

    class Flat(torch.nn.Module):  # outputs as one flat tuple, in the signature's order
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, *args):
            return tuple(flatten_outputs(self.inner(*args)))

    program = torch.export.export(Flat(), examples(inputs, 1))
    if isinstance(partitioner, XnnpackPartitioner):
        program = unrolled(program)  # XNNPACK takes a recurrent layer's steps once they are slices (recurrent.py)
    graph_module = program.module()
    if rewrite(graph_module):
        program = torch.export.export(graph_module, examples(inputs, 1))  # traced again: fresh shapes on every node
    if lower:
        return lower(program, partitioner)
    return to_edge_transform_and_lower(program, partitioner=[partitioner])


def _each(graph_module, target, rewrite) -> int:
    """rewrite(graph, node) on each call of `target`; how many it changed (the graph then checked and recompiled)."""
    rewritten = sum(bool(rewrite(graph_module.graph, node)) for node in list(graph_module.graph.nodes)
                    if node.op == "call_function" and node.target == target)
    if rewritten:
        graph_module.graph.lint()
        graph_module.recompile()
    return rewritten


def _read_as(graph, node, shape) -> None:
    """Every reader of `node` reads it viewed as `shape`."""
    import torch

    with graph.inserting_after(node):
        view = graph.call_function(torch.ops.aten.view.default, (node, shape))
    node.replace_all_uses_with(view, delete_user_cb=lambda user: user is not view)


def _replace(graph, node, new) -> bool:
    """`new` takes `node`'s place (and its recorded shape) for every reader; `node` is erased. True, for _each."""
    new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    graph.erase_node(node)
    return True


def _static_shape(node) -> list[int] | None:
    return [int(d) for d in node.meta["val"].shape] if "val" in getattr(node, "meta", {}) else None


def means_kept(graph_module) -> int:
    """A mean over some axes of a tensor of up to four as the one mean XNNPACK's partitioner takes (4-D, over axes
    2 and 3, keepdim=True), then a view to the mean's shape: the tensor viewed as 4-D (trailing axes of 1) and its
    mean's axes moved last (a permute) where they are not; the same values. `x.mean((2, 3))` of an NCHW map, a
    channels-last map's `mean((1, 2))` (a Swin stage) and a sequence's mean over its tokens ran on the portable
    kernels. Returns how many were rewritten."""
    import torch

    aten = torch.ops.aten

    def rewrite(graph, node) -> bool:
        if len(node.args) < 2 or not node.args[1]:
            return False
        x, dims = node.args[:2]
        keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        shape, out = _static_shape(x), _static_shape(node)  # static: exported at batch 1
        if shape is None or out is None or len(shape) > 4:
            return False
        rank, reduced = len(shape), sorted({d % len(shape) for d in dims})
        axes = reduced + list(range(rank, 4))[:2 - len(reduced)]  # trailing axes of 1 make up two
        if len(axes) != 2 or rank == 4 and reduced == [2, 3] and keepdim:
            return False
        order = [d for d in range(4) if d not in axes] + axes
        with graph.inserting_before(node):
            moved = graph.call_function(aten.view.default, (x, shape + [1] * (4 - rank))) if rank < 4 else x
            if order != [0, 1, 2, 3]:
                moved = graph.call_function(aten.permute.default, (moved, order))
            mean = graph.call_function(aten.mean.dim, (moved, [2, 3], True))
            view = graph.call_function(aten.view.default, (mean, out))
        return _replace(graph, node, view)

    return _each(graph_module, aten.mean.dim, rewrite)


def prelu_in_4d(graph_module) -> int:
    """PReLU of a tensor that is not 4-D ((N, C) after a linear layer, (N, C, L) in a 1-D net) as a view to
    (N, C, L or 1, 1), the PReLU, and a view back: the same values. XNNPACK lays PReLU out channels-last and
    ExecuTorch 1.5.1's ChannelsLastTaggedReshapePass fails the whole lowering on any other rank ("Attempting to
    convert non-NHWC compatible node to NHWC"). Returns how many were rewritten."""
    import torch

    def rewrite(graph, node) -> bool:
        x = node.args[0]
        shape = _static_shape(x)
        if shape is None or not 2 <= len(shape) < 4:
            return False
        with graph.inserting_before(node):
            wide = graph.call_function(torch.ops.aten.view.default, (x, shape + [1] * (4 - len(shape))))
        node.args = (wide, *node.args[1:])
        _read_as(graph, node, shape)
        return True

    return _each(graph_module, torch.ops.aten.prelu.default, rewrite)


def hardswish_whole(graph_module) -> int:
    """The int8 program's hardswish, split into quantized steps for the runtimes that run each step in int8
    (quant/gates.py: x * (relu6(x + 3) * 1/6)), as one hardswish between a dequantize and a quantize: XNNPACK has
    no int8 hardswish, and ExecuTorch 1.5.1 runs the steps' scalar adds and multiplies in float inside the
    delegate, each between two converts, slower than its float hardswish (MobileNetV3-Small int8: 2.00 ms split,
    1.40 ms whole, float 1.90 ms). Returns how many."""
    import torch

    def rewrite(graph, node) -> bool:
        if len(node.args) != 2:
            return False
        x, gate = node.args
        scaled = through_quantize(gate)
        clamped = through_quantize(scaled.args[0]) if called(scaled, "mul") and scaled.args[1] == 1 / 6 else None
        shifted = clamped.args[0] if called(clamped, "hardtanh") and tuple(clamped.args[1:]) == (0, 6) else None
        if not (called(shifted, "add") and shifted.args[1] == 3 and same_input(shifted.args[0], x)):
            return False
        with graph.inserting_before(node):
            whole = graph.call_function(torch.ops.aten.hardswish.default, (x,))
        whole.meta = dict(node.meta)
        node.replace_all_uses_with(whole)
        return True

    return _dead_code_dropped(graph_module, _each(graph_module, torch.ops.aten.mul.Tensor, rewrite))


def prelu_whole(graph_module) -> int:
    """The int8 program's PReLU, split into quantized steps (quant/gates.py: slope * x + relu((1 - slope) * x)), as
    one PReLU between a dequantize and a quantize, its slopes as the program rounded them: XNNPACK has no int8
    PReLU, and ExecuTorch 1.5.1 runs the steps' multiplies by a constant in float between converts, slower than its
    float PReLU (the zoo's face model int8: 0.25 ms split, 0.18 ms whole, float 0.30 ms). Returns how many."""
    import operator

    import torch

    def constant(node):  # the float value of dequantize(an int8 constant), else None
        if not called(node, "dequantize_per_tensor") or getattr(node.args[0], "op", None) != "get_attr":
            return None
        codes = operator.attrgetter(node.args[0].target)(graph_module)
        return (codes.float() - node.args[2]) * node.args[1]

    def rewrite(graph, node) -> bool:
        for scaled, rectified in (node.args[:2], node.args[1::-1]):
            scaled, rectified = through_quantize(scaled), through_quantize(rectified)
            rest = rectified.args[0] if called(rectified, "relu") else None
            if not (called(scaled, "mul") and called(rest, "mul") and same_input(scaled.args[0], rest.args[0])):
                continue
            slope, kept = constant(scaled.args[1]), constant(rest.args[1])
            if slope is None or kept is None or slope.shape != kept.shape or \
                    not torch.allclose(slope + kept, torch.ones_like(slope), atol=0.02):
                continue
            name = f"_prelu_slope_{node.name}"
            graph_module.register_buffer(name, slope.flatten().contiguous())
            with graph.inserting_before(node):
                weight = graph.get_attr(name)
                whole = graph.call_function(torch.ops.aten.prelu.default, (scaled.args[0], weight))
            whole.meta = dict(node.meta)
            node.replace_all_uses_with(whole)
            return True
        return False

    return _dead_code_dropped(graph_module, _each(graph_module, torch.ops.aten.add.Tensor, rewrite))


def _dead_code_dropped(graph_module, done: int) -> int:
    if done:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
    return done


def reshapes_as_views(graph_module) -> int:
    """Each unsqueeze and squeeze as a view to its (static) shape, and each expand to its input's own shape (a
    batch-1 broadcast) dropped: the same values, and XNNPACK's partitioner takes a view but leaves the others on the
    portable CPU kernels (an audio model's `wave[:, None, :, None]`: 1 op outside the delegate, which the executorch
    target's full-delegation budget refuses; nn.MultiheadAttention's squeeze, a class token's expand)."""
    import torch

    aten = torch.ops.aten

    def as_view(graph, node) -> bool:
        if (shape := _static_shape(node)) is None:
            return False
        if node.target == aten.expand.default:
            if _static_shape(node.args[0]) != shape:
                return False
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
            return True
        with graph.inserting_before(node):
            view = graph.call_function(aten.view.default, (node.args[0], shape))
        return _replace(graph, node, view)

    return sum(_each(graph_module, target, as_view)
               for target in (aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.expand.default))


def for_coreml(graph_module) -> int:
    """The rewrites every delegate's lowering takes (means as 4-D spatial means, hardswish and PReLU whole, PReLU
    in 4-D, reshapes as views); how many were made."""
    return (means_kept(graph_module) + hardswish_whole(graph_module) + prelu_whole(graph_module)
            + prelu_in_4d(graph_module) + reshapes_as_views(graph_module))


def for_xnnpack(graph_module) -> int:
    """Those, and for XNNPACK a transformer's attention and LayerNorm (transformer.py), splits, chunks, unbinds,
    selects and rolls (slices.py) and an unrolled recurrent layer's zeros (recurrent.py) as ops it takes; how many
    were made. Core ML has a LayerNorm, an attention and recurrent layers of its own."""
    from .recurrent import zeros_as_constants
    from .slices import rolls_as_slices, selects_as_slices, splits_as_slices, unbinds_as_slices
    from .transformer import attention_as_matmuls, layer_norms_as_steps

    return (for_coreml(graph_module) + attention_as_matmuls(graph_module) + layer_norms_as_steps(graph_module)
            + selects_as_slices(graph_module) + splits_as_slices(graph_module) + unbinds_as_slices(graph_module)
            + rolls_as_slices(graph_module) + zeros_as_constants(graph_module))


class ExecutorchLower(Pass):
    version = 10  # 10: a LayerNorm of transposed tokens; 9: rolls as slices, means over any axes delegated; 8: splits and chunks as slices (slices.py); 7: recurrent layers unrolled for XNNPACK, their weights int8 in the int8 file (recurrent.py); 6: squeezes as views, attention, LayerNorm and selects for XNNPACK (transformer.py); 5: unsqueezes as views; 4: hardswish and PReLU whole; 3: PReLU in 4-D; 2: spatial means delegated
    rewrite = lower = None  # the delegate's own graph preparation and lowering (see lowered)

    def partitioner(self, ctx: Context):
        return xnnpack()

    def rewriter(self, ctx: Context):
        return self.rewrite

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        with quiet():
            edge = lowered(load_program(src).module(), ctx.model.inputs, self.partitioner(ctx), self.rewriter(ctx),
                           self.lower)
            dst.write_bytes(edge.to_executorch().buffer)


class ExecutorchLowerFloat(ExecutorchLower):
    name = "executorch-lower"
    source = "pt2"
    target = "executorch"


class ExecutorchLowerInt8(ExecutorchLower):
    name = "executorch-lower-int8"
    source = "pt2-int8"
    target = "executorch-int8"

    def settings(self, ctx: Context) -> dict:
        return {**super().settings(ctx), "keep_float": list(ctx.quantization.keep_float)}

    def rewriter(self, ctx: Context):
        """XNNPACK's rewrites, and a recurrent layer's steps as dynamically quantized linear layers (PT2E leaves
        them float), but those `keep_float` names."""
        from .recurrent import recurrent_weights_int8

        return lambda graph_module: for_xnnpack(graph_module) + recurrent_weights_int8(
            graph_module, ctx.quantization.keep_float)


class ExecutorchLowerCoreml(ExecutorchLower):
    name = "executorch-lower-coreml"
    source = "pt2-int8"
    target = "executorch-coreml-int8"
    version = 3  # 3: no quantize of more than five dimensions; 2: squeezes as views, expands to the same shape dropped

    @staticmethod
    def rewrite(graph_module) -> int:
        """Every delegate's rewrites, and no quantize of more than five dimensions (Core ML has none)."""
        from ..shared.coreml_rank import pairs_above_max_rank_dropped

        return for_coreml(graph_module) + pairs_above_max_rank_dropped(graph_module)

    def partitioner(self, ctx: Context):
        return coreml()


class ExecutorchLowerEthosU(ExecutorchLower):
    """The int8 program through ExecuTorch's Arm backend: its graph rewritten and its int8 ops marked as the Arm
    quantizer would (arm.py), then lowered for the NPU."""
    name = "executorch-lower-ethos-u"
    source = "pt2-int8"
    target = "executorch-ethos-u-int8"
    version = 2  # 2: a reshape of a permuted tensor left on the CPU (arm.reshaped_permutation)
    rewrite, lower = staticmethod(arm_graph), staticmethod(arm_lowered)

    def settings(self, ctx: Context) -> dict:
        from ..shared.vela import vela_config

        return vela_config(ctx.options)

    def partitioner(self, ctx: Context):
        return ethos_u(ctx.options)


class ExecutorchLowerTosa(ExecutorchLowerEthosU):
    """The same, with the TOSA graph itself as the delegate: what the NPU build computes, runnable in the TOSA
    reference model (tosa.py)."""
    name = "executorch-lower-tosa"
    target = "executorch-tosa-int8"

    def partitioner(self, ctx: Context):
        return tosa(ctx.options)
