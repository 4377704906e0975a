"""TFLite Micro's CONCATENATION takes at most 10 inputs (`kMaxInputNum`, concatenation.cc); a wider one (the 49
steps of an unrolled GRU, which litert-torch writes as one concatenation) becomes a tree of concatenations of at
most 10, each part quantized as the whole: the same values, which TFLite Micro can prepare."""
from __future__ import annotations

import copy

MAX_INPUTS = 10


def split_wide(data: bytes) -> bytes:
    """The .tflite with every concatenation of more than MAX_INPUTS inputs split; the same bytes where none is."""
    from ai_edge_litert import schema_py_generated as schema

    from ..shared.tflite_io import packed, repackable

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    codes = {i for i, c in enumerate(model.operatorCodes)
             if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.CONCATENATION}
    wide = [(graph, op) for graph in model.subgraphs for op in graph.operators
            if op.opcodeIndex in codes and len(op.inputs) > MAX_INPUTS]
    if not wide or not repackable(model):
        return data
    for graph, op in wide:
        before = graph.operators.index(op)
        parts = []
        inputs = list(op.inputs)
        while len(inputs) > MAX_INPUTS:
            groups = [inputs[i:i + MAX_INPUTS] for i in range(0, len(inputs), MAX_INPUTS)]
            inputs = [group[0] if len(group) == 1 else _part(model, graph, op, group, parts) for group in groups]
        op.inputs = inputs
        graph.operators[before:before] = parts
    return packed(model)


def _part(model, graph, whole, group: list[int], parts: list) -> int:
    """A concatenation of `group` into a new tensor quantized as `whole`'s output; its index."""
    from ai_edge_litert import schema_py_generated as schema

    out = graph.tensors[whole.outputs[0]]
    axis = whole.builtinOptions.axis % len(out.shape)
    tensor = copy.deepcopy(out)
    tensor.shape = list(out.shape)
    tensor.shape[axis] = sum(int(graph.tensors[i].shape[axis]) for i in group)
    tensor.shapeSignature = None
    tensor.name = f"{out.name}_part{len(parts)}"
    model.buffers.append(schema.BufferT())
    tensor.buffer = len(model.buffers) - 1
    graph.tensors.append(tensor)
    part = copy.deepcopy(whole)
    part.inputs, part.outputs = list(group), [len(graph.tensors) - 1]
    parts.append(part)
    return part.outputs[0]
