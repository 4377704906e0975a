"""A decoder LM as ONNX, for onnxruntime and for OpenVINO's ONNX reader: the KV cache as inputs and outputs
(`past_key_values.<i>.key|value` in, `present.<i>.key|value` out, the names onnxruntime-genai expects), the weights
packed from the scheme's integers: each linear layer a MatMulNBits (4 or 8 bits, the scheme's blocks, symmetric: no
zero points), the token embedding (and the output layer tied to it) one int8 table behind a DequantizeLinear, per
row."""
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
    never a silent float layer."""
    import onnx
    from onnx import helper, numpy_helper

    from ...llm.weights import linear_layers

    model = onnx.load(float_path)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    layers = linear_layers(hf_model)
    weights = dict(quantized.linears)
    by_values = {_digest(layers[name].weight.detach().numpy().T): name for name in quantized.linears}
    if quantized.lm_head is not None:
        weights["lm_head"] = quantized.lm_head
        by_values[_digest(hf_model.get_output_embeddings().weight.detach().numpy().T)] = "lm_head"
    table = hf_model.get_input_embeddings().weight.detach().numpy()
    table_digest = _digest(table)
    replaced, nodes, table_names = set(), [], set()
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            name = by_values.get(_digest(numpy_helper.to_array(inits[node.input[1]])))
            if name is not None:
                nodes.append(_matmul_nbits(node, weights[name], graph))
                replaced.add(name)
                continue
        if node.op_type == "Transpose" and node.input[0] in inits and quantized.embedding is not None \
                and _digest(numpy_helper.to_array(inits[node.input[0]])) == table_digest:
            table_names.add(node.input[0])
        if node.op_type == "Gather" and node.input[0] in inits and quantized.embedding is not None \
                and _digest(numpy_helper.to_array(inits[node.input[0]])) == table_digest:
            table_names.add(node.input[0])
        nodes.append(node)
    if missing := sorted(set(weights) - replaced):
        raise RuntimeError(f"the ONNX graph shows no MatMul with the weight of {missing[0]} "
                           f"({len(missing)} layers): it would stay float")
    del graph.node[:]
    graph.node.extend(nodes)
    for name in table_names:  # the table itself becomes int8 codes + per-row scales, dequantized where it is read
        values = numpy_helper.to_array(inits[name])
        q = quantized.embedding
        graph.initializer.remove(inits[name])
        graph.initializer.extend([numpy_helper.from_array(q.codes.numpy()[:, : q.in_features], f"{name}.codes"),
                                  numpy_helper.from_array(q.scales[:, 0].numpy(), f"{name}.scales")])
        graph.node.insert(0, helper.make_node("DequantizeLinear", [f"{name}.codes", f"{name}.scales"], [name],
                                              axis=0, name=f"{name}.dequantize"))
    _drop_unused(graph)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, path)


def _matmul_nbits(node, q, graph):
    from onnx import helper, numpy_helper

    out, padded = q.codes.shape
    codes, block = q.codes.numpy(), q.block
    if block & (block - 1) or block < 16:  # one block per row: MatMulNBits takes powers of two, pad with zeros
        block = max(16, 1 << (block - 1).bit_length())
        codes = np.pad(codes, ((0, 0), (0, block - padded)))
    offset = 2 ** (q.bits - 1)   # MatMulNBits' default zero point: codes stored unsigned
    unsigned = (codes.astype(np.int16) + offset).astype(np.uint8).reshape(out, -1, block)
    if q.bits == 4:
        unsigned = unsigned[:, :, 0::2] | (unsigned[:, :, 1::2] << 4)
    prefix = node.name or node.output[0]
    graph.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(unsigned), f"{prefix}.nbits"),
                              numpy_helper.from_array(q.scales.numpy().reshape(-1), f"{prefix}.scales")])
    return helper.make_node("MatMulNBits", [node.input[0], f"{prefix}.nbits", f"{prefix}.scales"],
                            list(node.output), name=prefix, domain="com.microsoft", K=q.in_features, N=out,
                            bits=q.bits, block_size=block, accuracy_level=0)


def _drop_unused(graph) -> None:
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def packed(model, quantized, scratch: Path) -> Path:
    """The ONNX file of this scheme, made once per export in `scratch` (the float export shared by every scheme)."""
    from ...llm.decoder import Decoder
    from ..contract import once

    float_path = once(scratch, "llm.float.onnx", lambda p: export_float(Decoder(model).eval(), p))
    if not quantized.scheme.bits:
        return float_path
    return once(scratch, f"llm.{quantized.scheme.name}.onnx", lambda p: pack(float_path, model.module, quantized, p))
