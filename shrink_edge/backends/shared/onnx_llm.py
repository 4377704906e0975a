"""A decoder LM as ONNX, for onnxruntime and for OpenVINO's ONNX reader: the KV cache as inputs and outputs
(`past_key_values.<i>.key|value` in, `present.<i>.key|value` out, the names onnxruntime-genai expects), the weights
packed from the scheme's integers: each linear layer a MatMulNBits (4 or 8 bits, the scheme's blocks, symmetric: no
zero points), the token embedding a GatherBlockQuantized of its int8 rows (and, tied, the output layer a MatMulNBits
of the same integers)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from pathlib import Path

import numpy as np

OPSET = 21


def export_float(decoder, path: Path) -> None:
    """torch.onnx (dynamo) of the decoder, the sequence and cache lengths dynamic."""
    import onnx
    import torch

    past, present = decoder.cache_names()

    class Flat(torch.nn.Module):  # the cache as one list argument, so dynamic_shapes can name it
        def __init__(self):
            super().__init__()
            self.decoder = decoder

        def forward(self, input_ids, attention_mask, position_ids, cache):
            return self.decoder(input_ids, attention_mask, position_ids, *cache)

    seq, length = 3, 4
    dynamic = torch.export.Dim.DYNAMIC
    example = (torch.ones(1, seq, dtype=torch.long), torch.ones(1, length + seq, dtype=torch.long),
               torch.arange(length, length + seq)[None], decoder.empty_cache(length))
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
        program = torch.onnx.export(
            Flat().eval(), example, dynamo=True, external_data=False, opset_version=OPSET, verbose=False,
            input_names=["input_ids", "attention_mask", "position_ids", *past], output_names=["logits", *present],
            dynamic_shapes=({1: dynamic}, {1: dynamic}, {1: dynamic}, [{2: dynamic} for _ in past]))
    model = program.model_proto
    for node in model.graph.node:  # the exporter's per-node stack traces: a third of a small model's file
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(model, path)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def pack(float_path: Path, hf_model, quantized, path: Path) -> None:
    """The float file with the scheme's integers in place of its weights. A weight is found by its values (the
    exporter renames and pre-transposes them); one the scheme quantized but the graph does not show is an error,
    never a silent float layer. The embedding table is read by a GatherBlockQuantized and, tied, multiplied by a
    MatMulNBits of its own (each 8 bits: no float table is ever materialized)."""
    import onnx
    from onnx import helper, numpy_helper

    from ...llm.weights import linear_layers
    from .onnx_graph import drop_unused

    model = onnx.load(float_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    digest = {name: _digest(numpy_helper.to_array(init)) for name, init in inits.items()}
    layers = linear_layers(hf_model)
    weights = dict(quantized.linears)
    by_values = {_digest(layers[name].weight.detach().numpy().T): name for name in quantized.linears}
    if quantized.lm_head is not None:
        weights["lm_head"] = quantized.lm_head
        by_values[_digest(hf_model.get_output_embeddings().weight.detach().numpy().T)] = "lm_head"
    table = _digest(hf_model.get_input_embeddings().weight.detach().numpy()) if quantized.embedding else None
    producers = {o: n for n in graph.node for o in n.output}
    replaced, nodes = set(), []
    for node in graph.node:
        weight = node.input[1] if len(node.input) > 1 else None
        if node.op_type == "MatMul" and weight in inits and (name := by_values.get(digest[weight])):
            nodes.append(_matmul_nbits(node, weights[name], graph))
            replaced.add(name)
        elif node.op_type == "MatMul" and weight in producers and producers[weight].op_type == "Transpose" \
                and digest.get(producers[weight].input[0]) == table:  # the output layer tied to the table
            nodes.append(_matmul_nbits(node, quantized.embedding, graph))
        elif node.op_type == "Gather" and digest.get(node.input[0]) == table:
            nodes.append(_gather_quantized(node, quantized.embedding, graph))
        else:
            nodes.append(node)
    if missing := sorted(set(weights) - replaced):
        raise RuntimeError(f"the ONNX graph shows no MatMul with the weight of {missing[0]} "
                           f"({len(missing)} layers): it would stay float")
    del graph.node[:]
    graph.node.extend(nodes)
    drop_unused(graph)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, path)


def _kernel_blocks(q) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Codes [out, K'], scales and zero points (or None) [out, K'/block] in blocks the com.microsoft kernels take
    (powers of two, 16 or more): the scheme's own, or one block per row split into blocks of 32 with its scale and
    zero point repeated (exact), or, where the row is no multiple of 32, that row padded (value 0) to a power of
    two."""
    codes, scales, block = q.codes.numpy(), q.scales.numpy(), q.block
    zeros = None if q.zeros is None else q.zeros.numpy()
    if block >= 16 and not block & (block - 1):
        return codes, scales, zeros, block
    if q.in_features % 32 == 0:
        repeat = q.in_features // 32
        return codes[:, : q.in_features], np.repeat(scales, repeat, axis=1), \
            None if zeros is None else np.repeat(zeros, repeat, axis=1), 32
    block = max(16, 1 << (block - 1).bit_length())
    pad = 0 if zeros is None else np.round(zeros)  # [out, 1]: the padding takes the code nearest value 0
    padding = np.broadcast_to(np.asarray(pad, codes.dtype), (codes.shape[0], block - codes.shape[1]))
    return np.concatenate([codes, padding], axis=1), scales, zeros, block


def _unsigned(codes: np.ndarray, bits: int, shift: bool = True) -> np.ndarray:
    """Codes stored unsigned (symmetric ones + 2^(bits-1): the com.microsoft kernels' default zero point), int4 two
    per byte (the first in the low nibble)."""
    unsigned = (codes.astype(np.int16) + (2 ** (bits - 1) if shift else 0)).astype(np.uint8)
    return unsigned[..., 0::2] | (unsigned[..., 1::2] << 4) if bits == 4 else unsigned


def _gather_quantized(node, q, graph):
    """Gather(table, ids) -> GatherBlockQuantized on the table's int8 or int4 codes."""
    from onnx import helper, numpy_helper

    codes, scales, _, block = _kernel_blocks(q)  # tables are symmetric
    if codes.shape[1] != q.in_features:
        raise RuntimeError(f"an embedding width of {q.in_features} is no multiple of 16, which GatherBlockQuantized "
                           "needs")
    prefix = node.name or node.output[0]
    graph.initializer.extend([
        numpy_helper.from_array(np.ascontiguousarray(_unsigned(codes, q.bits)), f"{prefix}.table"),
        numpy_helper.from_array(scales.astype(np.float32), f"{prefix}.scales")])
    return helper.make_node("GatherBlockQuantized", [f"{prefix}.table", node.input[1], f"{prefix}.scales"],
                            list(node.output), name=prefix, domain="com.microsoft", gather_axis=0, quantize_axis=1,
                            block_size=block, bits=q.bits)


def _matmul_nbits(node, q, graph):
    from onnx import helper, numpy_helper

    codes, scales, zeros, block = _kernel_blocks(q)
    out = codes.shape[0]
    unsigned = _unsigned(codes.reshape(out, -1, block), q.bits, shift=zeros is None)
    prefix = node.name or node.output[0]
    graph.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(unsigned), f"{prefix}.nbits"),
                              numpy_helper.from_array(scales.astype(np.float32).reshape(-1), f"{prefix}.scales")])
    inputs = [node.input[0], f"{prefix}.nbits", f"{prefix}.scales"]
    if zeros is not None and zeros.dtype.kind == "f":  # float (-hqq): the scales' type, [out * blocks]
        graph.initializer.append(numpy_helper.from_array(zeros.astype(np.float32).reshape(-1), f"{prefix}.zero_points"))
        inputs.append(f"{prefix}.zero_points")
    elif zeros is not None:  # uint4 two per byte, each row's padded to whole bytes: [out * ceil(blocks / 2)]
        if zeros.shape[1] % 2:
            zeros = np.pad(zeros, ((0, 0), (0, 1)))
        graph.initializer.append(numpy_helper.from_array(_unsigned(zeros, q.bits, shift=False).reshape(-1),
                                                         f"{prefix}.zero_points"))
        inputs.append(f"{prefix}.zero_points")
    return helper.make_node("MatMulNBits", inputs,
                            list(node.output), name=prefix, domain="com.microsoft", K=q.in_features, N=out,
                            bits=q.bits, block_size=block, accuracy_level=0)


def packed(model, quantized, scratch: Path) -> Path:
    """The ONNX file of this scheme, made once per export in `scratch` (the float export shared by every scheme)."""
    from ...llm.decoder import Decoder
    from ..contract import once

    scaled = quantized.module is not None  # -awq: a float model of its own
    float_name = f"llm.float.{quantized.scheme.name}.onnx" if scaled else "llm.float.onnx"
    float_path = once(scratch, float_name, lambda p: export_float(Decoder(model).eval(), p))
    if not quantized.scheme.bits:
        return float_path
    return once(scratch, f"llm.{quantized.scheme.name}.onnx", lambda p: pack(float_path, model.module, quantized, p))


def window_inputs(path: Path, windows: list[list[int]]) -> list[dict]:
    """Token windows as the inputs of the ONNX decoder at `path`, each prefilled from an empty cache: what the
    runtimes' own calibrated quantizers (NNCF, onnxruntime's GPTQ) read."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    past = [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in graph.input
            if i.name.startswith("past_key_values")]
    return [{"input_ids": np.array([w], np.int64), "attention_mask": np.ones((1, len(w)), np.int64),
             "position_ids": np.arange(len(w), dtype=np.int64)[None],
             **{name: np.zeros((1, shape[1], 0, shape[3]), np.float32) for name, shape in past}} for w in windows]
