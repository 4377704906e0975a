"""pt2 -> onnx and pt2-int8 -> onnx-int8: the dynamo ONNX exporter, the only one that takes PT2E graphs."""
from __future__ import annotations

import ast
import contextlib
import io
import logging
from pathlib import Path

from ...errors import UserError
from ...model.source import load_program
from ...passes.base import Context, Pass
from ...model.signature import examples

OPSET = 18


def _clean(model) -> None:
    """Drop what differs between machines (stack traces, source paths) and name the batch dimension; each node is
    named after the module that computes it (`encoder.layers.0.linear1/node_MatMul_95`), which the int8 file's
    short names replace and the dynamic quantizer reads (keep_float)."""
    for node in model.graph.node:
        scopes = next((ast.literal_eval(p.value) for p in node.metadata_props
                       if p.key == "pkg.torch.onnx.name_scopes"), [])
        if len(scopes) > 2 and scopes[-2]:  # [root '', ..., module path, op]
            node.name = f"{scopes[-2]}/{node.name}"
        del node.metadata_props[:]
        node.doc_string = ""
    del model.metadata_props[:]
    model.doc_string = ""
    for value in [*model.graph.input, *model.graph.output]:
        dim = value.type.tensor_type.shape.dim[0]
        if dim.HasField("dim_param"):
            dim.dim_param = "batch"


class OnnxExport(Pass):
    version = 4  # 4: nodes named after their modules; 3: inputs and outputs named after forward()'s

    def settings(self, ctx: Context) -> dict:
        return {"opset": OPSET}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import onnx
        import torch

        from ..shared.onnx_graph import rename_outputs
        from .pooling import global_average_pools

        program = load_program(src)
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its stages
            exported = torch.onnx.export(program, examples(ctx.model.inputs, 2), dynamo=True, external_data=False,
                                         opset_version=OPSET, verbose=False)
        model = exported.model_proto
        _clean(model)
        rename_outputs(model, list(ctx.model.outputs))  # inputs already carry forward()'s parameter names
        global_average_pools(model)
        self.rewrite(model, ctx)
        onnx.save(model, dst)

    def rewrite(self, model, ctx: Context) -> None:
        """Format-specific changes after export."""


class OnnxExportFloat(OnnxExport):
    name = "onnx-export"
    source = "pt2"
    target = "onnx"


class OnnxExportInt8(OnnxExport):
    name = "onnx-export-int8"
    source = "pt2-int8"
    target = "onnx-int8"
    version = 16  # 16: chains of moves (a roll's slices and concatenations) on quantized values; 15: reflecting and edge pads on quantized values; 14: GRU weights on an int8 grid; 13: zero pads on quantized values; 12: LSTM weights int8 (recurrent.py); 11: constants of Add/Mul uint8; 10: scalars of Add/Mul quantized; 9: 8-bit weights int8 where u8s8 is exact; 8: weights "auto"; 7: Q of constants folded

    def settings(self, ctx: Context) -> dict:
        option = weight_option(ctx)
        return {**super().settings(ctx), "weights": option,
                **({"u8s8_exact_here": u8s8_exact()} if option == "auto" else {})}

    def rewrite(self, model, ctx: Context) -> None:
        from ..shared.qdq import make_ort_fusable, seven_bits, short_names, weight_arrays, weights_as
        from .recurrent import recurrent_int8

        option = weight_option(ctx)
        exact = option == "int8" or option == "auto" and u8s8_exact()  # else 7-bit LSTM weights (always int8)
        recurrent_int8(model, ctx.quantization.keep_float, seven_bits=ctx.quantization.weight_bits == 7 or not exact)
        make_ort_fusable(model)
        if option == "uint8" or option == "auto" and not (seven_bits(weight_arrays(model)) or u8s8_exact()):
            weights_as(model, "uint8")
        short_names(model)


def weight_option(ctx: Context) -> str:
    """How the int8 file stores its weights, which picks onnxruntime's kernels. int8: its u8s8 kernels, which add
    pairs of products in int16 on x86 CPUs without VNNI and saturate unless the weights have 7 bits (`weight_bits`);
    uint8: its u8u8 kernels (the same numbers, exact on every CPU at 8 bits, slower); "auto": int8 where the weights
    have 7 bits or this CPU's u8s8 products are exact (u8s8_exact), else uint8."""
    dtype = ctx.options.get("weights", "auto")
    if dtype not in ("auto", "int8", "uint8"):
        raise UserError(f"ONNX weights '{dtype}' in the target spec: choose \"auto\", \"uint8\" or \"int8\"")
    return dtype


def u8s8_exact(features: dict[str, bool] | None = None) -> bool:
    """Whether this CPU's u8 x s8 products are exact at 8 bits in onnxruntime: x86 with VNNI (AVX512-VNNI or
    AVX-VNNI: VPDPBUSD sums into int32) and arm64 (its dot-product kernels); not x86 without VNNI, where VPMADDUBSW
    adds pairs in int16. An 8-bit file stored int8 here saturates on such a CPU: build for it with weights =
    "uint8" or weight_bits = 7 (docs/targets.md). `features`: the x86 CPU's, as CPUID gives them (PyTorch's
    `torch.cpu.get_capabilities()`), which onnxruntime reads too; /proc/cpuinfo may list the host's under an
    emulator or hypervisor that hides some."""
    import platform

    if platform.machine().lower() in ("aarch64", "arm64"):
        return True
    if features is None:
        import torch

        features = torch.cpu.get_capabilities()
    return bool(features.get("avx512_vnni") or features.get("avx_vnni"))
