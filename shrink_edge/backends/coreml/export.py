"""Core ML .mlpackage (mlprogram, iOS 17+): W8A8 from the int8 program, a weight-only int8 variant and float16.

coremltools writes random item UUIDs into Manifest.json, today's date into the model's metadata and protobuf maps
in hash order; `_save` fixes all three so that the same program gives the same package bytes. It also writes
ExecuTorch's debugger mapping (executorch_debug_handle_mapping.json, not a package item: Core ML never reads it)
next to a program that came from torch.export, larger than the model itself; `_save` leaves it out."""
from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
import warnings
from pathlib import Path

from ...model.signature import examples
from ...model.source import load_program
from ...passes.base import Context, Pass
from ..shared.coreml_rank import pairs_above_max_rank_dropped

DEPLOYMENT_TARGET = "iOS17"
RECURRENT_WEIGHT = re.compile(r"weight_(ih|hh)_l\d+(_reverse)?")  # nn.LSTM/GRU/RNN's, in the const ops' names


@contextlib.contextmanager
def _quiet():
    """coremltools prints progress bars and warns that it was tested up to an older torch."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _known_ops(program):
    """The program with no decompositions (coremltools converts the high-level ops better), except for the ops its
    torch frontend lacks that torch can decompose (HF transformers' attention mask builds `new_ones`; `aten.gru`
    unrolls into its steps); what is left coremltools refuses by name."""
    import torch
    from coremltools.converters.mil.frontend.torch.torch_op_registry import _TORCH_OPS_REGISTRY
    from coremltools.converters.mil.frontend.torch.utils import sanitize_op_kind
    from torch._decomp import core_aten_decompositions

    table = core_aten_decompositions()
    program = program.run_decompositions({})
    while unknown := {node.target for node in program.graph.nodes
                      if isinstance(node.target, torch._ops.OpOverload) and node.target in table
                      and sanitize_op_kind(node.target.name()) not in _TORCH_OPS_REGISTRY}:
        program = program.run_decompositions({op: table[op] for op in unknown})
    return program


def _static(program, inputs):
    """The program exported again at the --input-shape batch: a fixed shape is what the Neural Engine runs (a
    flexible one keeps a model on the CPU or GPU), and coremltools fails on some ops of a dynamic batch (GroupNorm:
    "Cannot add const [is0, 64, 1, 799]")."""
    import torch

    return torch.export.export(program.module(), examples(inputs))


def _convert(program):
    import coremltools as ct

    return ct.convert(_known_ops(program), convert_to="mlprogram",
                      minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET))


def _named(model, outputs: tuple[str, ...]):
    """The outputs named as the model names them (Core ML calls them after the last op, dequantize_per_tensor_7);
    the inputs already carry forward()'s parameter names."""
    import coremltools as ct

    spec = model.get_spec()
    current = [f.name for f in spec.description.output]
    if len(current) != len(outputs) or current == list(outputs):
        return model
    for old, new in zip(current, outputs):
        ct.utils.rename_feature(spec, old, new)
    return ct.models.MLModel(spec, weights_dir=model.weights_dir, skip_model_load=True)


def _save(model, dst: Path) -> None:
    from coremltools.proto import Model_pb2

    model.save(str(dst))
    (dst / "executorch_debug_handle_mapping.json").unlink(missing_ok=True)
    manifest_path = dst / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    ids = {old: str(uuid.uuid5(uuid.NAMESPACE_URL, f"shrink-edge:{item['path']}"))
           for old, item in manifest["itemInfoEntries"].items()}
    manifest["itemInfoEntries"] = {ids[old]: item for old, item in sorted(manifest["itemInfoEntries"].items(),
                                                                          key=lambda kv: ids[kv[0]])}
    manifest["rootModelIdentifier"] = ids[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4) + "\n")
    spec_path = next(dst.glob("Data/com.apple.CoreML/*.mlmodel"))
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    spec.description.metadata.userDefined.pop("com.github.apple.coremltools.conversion_date", None)
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))


class CoremlExportInt8(Pass):
    """The int8 program's quantize/dequantize pairs become Core ML quantize/dequantize and
    constexpr_affine_dequantize ops: weights and activations int8; the recurrent layers' weights, which PT2E leaves
    float, int8 per channel (_recurrent_weights_int8)."""
    name = "coreml-export-int8"
    source = "pt2-int8"
    target = "coreml-int8"
    version = 8  # 8: no quantize of more than five dimensions; 7: recurrent weights int8; 6: a static batch; 5: ops coremltools lacks decomposed; 4: outputs named; 3: reproducible bytes, no debug mapping

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        with _quiet():
            program = _static(load_program(src), ctx.model.inputs)
            pairs_above_max_rank_dropped(program.graph_module)
            model = _convert(program)
            model = _recurrent_weights_int8(model, ctx.quantization.keep_float)
            _save(_named(model, ctx.model.outputs), dst)


def _recurrent_weights_int8(model, keep_float: tuple[str, ...]):
    """The LSTM, GRU and RNN weights (the const ops named after nn.LSTM's weight_ih_l0, ...) of layers not in
    `keep_float` linearly quantized to int8 per channel: PT2E has no int8 recurrent layer, so the int8 package held
    them in float16 (a 3-layer LSTM encoder, 1.4 M parameters: 4.1 MB, its weight-only package 2.7 MB)."""
    import coremltools.optimize.coreml as cto

    kept = tuple(f"p_{layer.replace('.', '_')}_" for layer in keep_float)
    names = [op.name for function in model._mil_program.functions.values() for op in function.operations
             if op.op_type == "const" and RECURRENT_WEIGHT.search(op.name) and not op.name.startswith(kept)]
    if not names:
        return model
    int8 = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                       weight_threshold=0)
    return cto.linear_quantize_weights(model, config=cto.OptimizationConfig(
        op_name_configs={name: int8 for name in names}))


class CoremlExportWeights8(Pass):
    """Float activations, weights linearly quantized to int8 per channel (coremltools' optimizer)."""
    name = "coreml-export-w8"
    version = 7  # 7: a static batch; 6: ops coremltools lacks decomposed; 5: outputs named; 4: every weight quantized, small ones too
    source = "pt2"
    target = "coreml-w8"

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import coremltools.optimize.coreml as cto

        config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0))
        with _quiet():
            model = _convert(_static(load_program(src), ctx.model.inputs))
            _save(_named(cto.linear_quantize_weights(model, config=config), ctx.model.outputs), dst)


class CoremlExportFp16(Pass):
    """Float16 weights and compute (coremltools' default precision for an mlprogram): what the Neural Engine and
    the GPU run."""
    name = "coreml-export-fp16"
    version = 2  # 2: a static batch
    source = "pt2"
    target = "coreml-fp16"

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        with _quiet():
            _save(_named(_convert(_static(load_program(src), ctx.model.inputs)), ctx.model.outputs), dst)
