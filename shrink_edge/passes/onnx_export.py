"""pt2 -> onnx and pt2-int8 -> onnx-int8: the dynamo ONNX exporter, the only one that takes PT2E graphs."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ..model_source import load_program
from ..onnx_pooling import global_average_pools
from .base import Context, Pass

OPSET = 18


def _clean(model) -> None:
    """Drop what differs between machines (stack traces, source paths) and name the batch dimension."""
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    del model.metadata_props[:]
    model.doc_string = ""
    for value in [*model.graph.input, *model.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if dim.HasField("dim_param"):
            dim.dim_param = "batch"


class OnnxExport(Pass):
    version = 2  # global means written as GlobalAveragePool

    def settings(self, ctx: Context) -> dict:
        return {"opset": OPSET}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import onnx
        import torch

        program = load_program(src)
        example = (torch.zeros((2, *ctx.model.input_shape[1:])),)
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its stages
            exported = torch.onnx.export(program, example, dynamo=True, external_data=False, opset_version=OPSET,
                                         verbose=False)
        model = exported.model_proto
        _clean(model)
        global_average_pools(model)
        self.rewrite(model)
        onnx.save(model, dst)

    def rewrite(self, model) -> None:
        """Format-specific changes after export."""


class OnnxExportFloat(OnnxExport):
    name = "onnx-export"
    source = "pt2"
    target = "onnx"


class OnnxExportInt8(OnnxExport):
    name = "onnx-export-int8"
    source = "pt2-int8"
    target = "onnx-int8"
    version = 5  # + GlobalAveragePool; 4: uint8 activations, one DequantizeLinear per consumer, short names

    def rewrite(self, model) -> None:
        from ..onnx_qdq import make_ort_fusable, short_names

        make_ort_fusable(model)
        short_names(model)
