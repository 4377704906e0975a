"""pt2 -> executorch and pt2-int8 -> executorch-int8: a .pte for PyTorch's on-device runtime, with every op that
XNNPACK takes delegated to it (the rest on ExecuTorch's portable CPU kernels); pt2-int8 -> executorch-coreml-int8:
the same int8 program delegated to Core ML (Apple devices), for iOS 17+, the first whose Core ML has int8
activations (with iOS 15, the default, coremltools refuses the program's int8 quantize/dequantize pairs).

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

from ...model_source import load_program
from ...passes.base import Context, Pass
from ...signature import examples, flatten_outputs


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


def lowered(module, inputs, partitioner=xnnpack):
    """The module (float or PT2E-converted), exported at batch 1 and lowered with a delegate (XNNPACK unless
    another partitioner is given): an edge program."""
    import torch
    from executorch.exir import to_edge_transform_and_lower

    class Flat(torch.nn.Module):  # outputs as one flat tuple, in the signature's order
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, *args):
            return tuple(flatten_outputs(self.inner(*args)))

    program = torch.export.export(Flat(), examples(inputs, 1))
    graph_module = program.module()
    if spatial_means_kept(graph_module):
        program = torch.export.export(graph_module, examples(inputs, 1))  # traced again: fresh shapes on every node
    return to_edge_transform_and_lower(program, partitioner=[partitioner()])


def spatial_means_kept(graph_module) -> int:
    """`x.mean((2, 3))` of an NCHW tensor as mean(keepdim=True) then a view to (N, C): the same values, and XNNPACK
    delegates both (its partitioner takes mean.dim only with keepdim=True, and left the sample-sized nets' global
    pooling on the portable kernels). Returns how many were rewritten."""
    import torch

    rewritten = 0
    for node in list(graph_module.graph.nodes):
        if node.op != "call_function" or node.target != torch.ops.aten.mean.dim or len(node.args) < 2:
            continue
        x, dims = node.args[:2]
        keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        rank = len(x.meta["val"].shape) if "val" in getattr(x, "meta", {}) else None
        if keepdim or rank != 4 or sorted(d % 4 for d in dims) != [2, 3]:
            continue
        node.args, node.kwargs = (x, [2, 3], True), {}
        with graph_module.graph.inserting_after(node):
            n, c = (int(d) for d in x.meta["val"].shape[:2])  # static: exported at batch 1
            squeezed = graph_module.graph.call_function(torch.ops.aten.view.default, (node, [n, c]))
        node.replace_all_uses_with(squeezed, delete_user_cb=lambda user: user is not squeezed)
        rewritten += 1
    if rewritten:
        graph_module.graph.lint()
        graph_module.recompile()
    return rewritten


class ExecutorchLower(Pass):
    version = 2  # 2: spatial means delegated
    partitioner = staticmethod(xnnpack)

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        with quiet():
            edge = lowered(load_program(src).module(), ctx.model.inputs, self.partitioner)
            dst.write_bytes(edge.to_executorch().buffer)


class ExecutorchLowerFloat(ExecutorchLower):
    name = "executorch-lower"
    source = "pt2"
    target = "executorch"


class ExecutorchLowerInt8(ExecutorchLower):
    name = "executorch-lower-int8"
    source = "pt2-int8"
    target = "executorch-int8"


class ExecutorchLowerCoreml(ExecutorchLower):
    name = "executorch-lower-coreml"
    source = "pt2-int8"
    target = "executorch-coreml-int8"
    version = 1
    partitioner = staticmethod(coreml)
