"""Decoder LMs as a stateful Core ML model (iOS 18 ML program), the form Apple's on-device LLM guide uses: inputs
`input_ids` [1, T] and `causal_mask` [1, 1, T, P+T], output `logits`, the KV cache as float16 states
(llm/decoder.StateCacheDecoder), compute in float16. Each weight the scheme quantized is a
constexpr_blockwise_shift_scale op holding the scheme's own integers and float16 scales (int4 in blocks or int8 per
row; the token embedding, tied to the output layer, int8 per row; an asymmetric scheme's uint4 codes with its uint4
zero points, or -hqq's float16 ones, as the op's offset), put in place of the converter's float constant.

Prediction needs macOS: elsewhere the package is converted, saved and read back, its states and weights checked
against the scheme (every quantized weight's integers equal to the scheme's), and the run is skipped with that
reason."""
from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import numpy as np

from ...errors import PredictionUnavailable
from ..contract import LanguageModels
from . import own_int4

MAX_CACHE = 2048  # cache positions in the states: generation length bound


def _key(values: np.ndarray) -> str:
    """A weight as the converter holds it (float16, as compute precision float16 casts every constant)."""
    return hashlib.sha256(np.ascontiguousarray(values, np.float16).tobytes()).hexdigest()


def _table(model, quantized) -> dict[str, object]:
    """Each quantized weight by the float16 bytes of the float weight it replaces."""
    from ...llm.weights import linear_layers

    table = {_key(layer.weight.detach().numpy()): quantized.linears[name]
             for name, layer in linear_layers(model.module).items() if name in quantized.linears}
    if quantized.embedding is not None:
        table[_key(model.module.get_input_embeddings().weight.detach().numpy())] = quantized.embedding
    if quantized.lm_head is not None:
        table[_key(model.module.get_output_embeddings().weight.detach().numpy())] = quantized.lm_head
    return table


def _int_weights(table: dict):
    """A graph pass: every float constant found in `table` becomes constexpr_blockwise_shift_scale(its integers,
    its scales)."""
    from coremltools.converters.mil.mil import Builder as mb, types
    from coremltools.converters.mil.mil.passes.graph_pass import AbstractGraphPass

    class IntWeights(AbstractGraphPass):
        def apply(self, prog):
            for function in prog.functions.values():
                with function:
                    for op in list(function.operations):
                        value = op.outputs[0].val if op.op_type == "const" else None
                        if not isinstance(value, np.ndarray) or value.dtype != np.float16 or value.ndim != 2:
                            continue
                        q = table.get(_key(value))
                        if q is None:
                            continue
                        codes = q.codes.numpy()
                        if codes.shape != value.shape:
                            raise ValueError(f"a weight of {value.shape[1]} inputs is not a multiple "
                                             f"of the group {q.block} that Core ML's blocks need")
                        kind = types.np_uint4_dtype if q.zeros is not None else \
                            types.np_int4_dtype if q.bits == 4 else np.int8
                        offset = {} if q.zeros is None else {"offset": q.zeros.numpy().astype(
                            np.float16 if q.zeros.is_floating_point() else kind)}
                        new = mb.constexpr_blockwise_shift_scale(data=codes.astype(kind),
                                                                 scale=q.scales.numpy().astype(np.float16), **offset,
                                                                 before_op=op, name=op.name + "_quantized")
                        op.enclosing_block.replace_uses_of_var_after_op(anchor_op=op, old_var=op.outputs[0],
                                                                       new_var=new, force_replace=True)
                        op.enclosing_block.remove_ops([op])

    return IntWeights()


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    """`path` is the .mlpackage folder."""
    import coremltools as ct
    import torch
    from coremltools.models.utils import _apply_graph_pass

    from ...llm.decoder import StateCacheDecoder
    from .export import _quiet, _save

    length = min(MAX_CACHE, model.context)
    module = StateCacheDecoder(model, length).eval()
    states = [ct.StateType(wrapped_type=ct.TensorType(shape=tuple(buffer.shape), dtype=np.float16), name=name)
              for name, buffer in module.named_buffers() if "_cache_" in name]
    tokens, width = ct.RangeDim(1, length, default=1), ct.RangeDim(1, length, default=1)
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(module, (torch.zeros(1, 4, dtype=torch.int64), torch.zeros(1, 1, 4, 4)))
        converted = ct.convert(traced, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS18,
                               compute_precision=ct.precision.FLOAT16, states=states,
                               inputs=[ct.TensorType(shape=(1, tokens), dtype=np.int32, name="input_ids"),
                                       ct.TensorType(shape=(1, 1, tokens, width), dtype=np.float16,
                                                     name="causal_mask")],
                               outputs=[ct.TensorType(name="logits", dtype=np.float16)])
        if quantized.scheme.bits:
            converted = _apply_graph_pass(converted, _int_weights(_table(model, quantized)), skip_model_load=True)
        _save(converted, path)


def _program(path: Path):
    """The saved package read back as a MIL program (its weights included)."""
    import coremltools as ct
    from coremltools.converters.mil.frontend.milproto.load import load
    from coremltools.models.utils import _convert_model_spec_to_pymil_prog

    model = ct.models.MLModel(str(path), skip_model_load=True)
    return _convert_model_spec_to_pymil_prog(model, model.get_spec().specificationVersion, load)


def facts(path: Path) -> dict:
    """Matrix products (linear) and the embedding gather by the type of their weight, and the bits per weight over
    those weights (each stored once), read back from the package; its states."""
    from .export import _quiet

    with _quiet():
        program = _program(path)
    counts = {"int4": 0, "int8": 0, "float": 0}
    embedding, stored, weights, seen = "float", 0, 0, set()
    for function in program.functions.values():
        for op in function.operations:
            weight = {"linear": "weight", "gather": "x"}.get(op.op_type)
            source = op.inputs[weight].op if weight else None
            if source is None or source.op_type not in ("constexpr_blockwise_shift_scale", "const"):
                continue
            if source.op_type == "const":
                kind, bits = "float", source.outputs[0].val.size * 16
            else:
                width = source.data.dtype.get_bitwidth()
                offset = 0 if source.offset is None else source.offset.val.size * source.offset.dtype.get_bitwidth()
                kind, bits = f"int{width}", source.data.val.size * width + source.scale.val.size * 16 + offset
            if op.op_type == "gather":
                embedding = kind
            else:
                counts[kind] += 1
            if source.name not in seen:
                seen.add(source.name)
                stored, weights = stored + bits, weights + source.outputs[0].shape[0] * source.outputs[0].shape[1]
    states = [v for v in program.functions["main"].inputs.values() if "cache" in v.name]
    return {"matmul_int4": counts["int4"], "matmul_int8": counts["int8"], "matmul_float": counts["float"],
            "embedding": embedding, "bits_per_weight": round(stored / max(weights, 1), 3), "states": len(states),
            "activations": "float16 (compute precision float16), KV cache float16 states"}


def read_back(path: Path, model, quantized) -> dict:
    """Whether the quantized weights in the package are the scheme's integers and scales, all of them."""
    from .export import _quiet

    with _quiet():
        program = _program(path)
    from ...llm.weights import fingerprint

    expected = sorted(fingerprint(q.codes.numpy(), q.scales.numpy(), None if q.zeros is None else q.zeros.numpy())
                      for q in (*quantized.linears.values(), quantized.embedding, quantized.lm_head) if q is not None)
    found = sorted(fingerprint(op.data.val, op.scale.val, None if op.offset is None else op.offset.val)
                   for function in program.functions.values()
                   for op in function.operations if op.op_type == "constexpr_blockwise_shift_scale")
    return {"weights_as_scheme": expected == found}


class Session:
    """Core ML's own stateful loop (macOS): one state per sequence, each call the new tokens and the causal mask
    over every position so far."""

    def __init__(self, path: Path, threads: int = 2):
        if platform.system() != "Darwin":
            raise PredictionUnavailable(f"Core ML prediction needs macOS (this is {platform.system()})")
        import coremltools as ct

        self.model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.CPU_ONLY)
        self.reset()

    def reset(self) -> None:
        self.state = self.model.make_state()
        self.length = 0

    def _run(self, tokens: list[int]) -> np.ndarray:
        end = self.length + len(tokens)
        seen = np.arange(end)[None, :] <= np.arange(self.length, end)[:, None]
        mask = np.where(seen, 0.0, -np.inf).astype(np.float16)[None, None]
        out = self.model.predict({"input_ids": np.array([tokens], np.int32), "causal_mask": mask}, state=self.state)
        self.length = end
        return np.asarray(out["logits"], np.float32)[0]

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self._run(tokens)

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])[-1]


LLM = LanguageModels(suffix=".mlpackage", write=write, session=Session, facts=facts, read_back=read_back,
                     runtime_quantizer=own_int4.QUANTIZER)
