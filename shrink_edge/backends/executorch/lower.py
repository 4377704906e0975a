"""pt2 -> executorch and pt2-int8 -> executorch-int8: a .pte for PyTorch's on-device runtime, with every op that
XNNPACK takes delegated to it (the rest on ExecuTorch's portable CPU kernels).

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


def lowered(module, inputs):
    """The module (float or PT2E-converted), exported at batch 1 and lowered with XNNPACK: an edge program."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    class Flat(torch.nn.Module):  # outputs as one flat tuple, in the signature's order
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, *args):
            return tuple(flatten_outputs(self.inner(*args)))

    program = torch.export.export(Flat(), examples(inputs, 1))
    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])


class ExecutorchLower(Pass):
    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        with quiet():
            edge = lowered(load_program(src).module(), ctx.model.inputs)
            dst.write_bytes(edge.to_executorch().buffer)


class ExecutorchLowerFloat(ExecutorchLower):
    name = "executorch-lower"
    source = "pt2"
    target = "executorch"


class ExecutorchLowerInt8(ExecutorchLower):
    name = "executorch-lower-int8"
    source = "pt2-int8"
    target = "executorch-int8"
