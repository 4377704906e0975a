"""Rewrite a QDQ ONNX graph so that onnxruntime's CPU kernels fuse it fully, without changing its numbers.

onnxruntime on x86 fuses QDQ convolutions, adds and matmuls into QLinear* kernels only with uint8
activations, and only where each DequantizeLinear has one consumer. The PT2E export has int8 activations
and shared DequantizeLinear nodes, so half its convolutions stayed float. Here: activations become uint8
with zero point + 128 (the same real values: (q + 128) - (z + 128) = q - z), weights stay int8, and every
shared activation DequantizeLinear is duplicated per consumer.

The exporter also names every node and value after the torch graph ("dequantize_per_channel_12",
"features.3.body.0.0.weight_bias"), a sixth of a small int8 model's bytes; `short_names` numbers them instead,
keeping the graph's input and output names that apps look up.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .onnx_graph import consumers, drop_unused, replace_nodes

ELEMENTWISE = ("Add", "Mul")  # their constant operands are quantized like activations, not weights


def _constants(graph) -> dict[str, np.ndarray]:
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def fold_constant_quantize(model: onnx.ModelProto) -> int:
    """Replace QuantizeLinear of a float constant (a weight the exporter left unfolded, e.g. attention's packed
    projections) by the int8 constant it computes, so its DequantizeLinear reads a weight like every other. Returns
    how many."""
    graph = model.graph
    constants = _constants(graph)
    kept, folded = [], 0
    for node in graph.node:
        inputs = list(node.input)
        if node.op_type != "QuantizeLinear" or len(inputs) < 3 or not all(i in constants for i in inputs[:3]):
            kept.append(node)
            continue
        x, scale, zero = (constants[i] for i in inputs[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and x.ndim > 1:  # per channel along `axis`
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        info = np.iinfo(zero.dtype)
        values = np.clip(np.rint(x / scale) + zero.astype(np.int32), info.min, info.max).astype(zero.dtype)
        graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
        folded += 1
    if folded:
        replace_nodes(graph, kept)
    return folded


def make_ort_fusable(model: onnx.ModelProto) -> dict[str, int]:
    """Rewrite in place; returns what changed."""
    graph = model.graph
    fold_constant_quantize(model)
    constants, readers = _constants(graph), consumers(graph)
    retyped = 0
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        zero = constants.get(node.input[2])
        if zero is None or zero.dtype != np.int8:
            continue
        if node.input[0] in constants:  # a weight stays int8; a constant an Add or Mul reads (PReLU's slopes) is
            # an operand like the activation beside it: QLinearAdd and QLinearMul take one type
            if not all(u.op_type in ELEMENTWISE for u in readers.get(node.output[0], [])):
                continue
            name = f"{node.input[0]}_u8"
            if name not in constants:
                values = constants[node.input[0]].astype(np.int16) + 128
                graph.initializer.append(numpy_helper.from_array(values.astype(np.uint8), name))
                constants[name] = values
            node.input[0] = name
        name = f"{node.name or node.output[0]}_zero_point_u8"
        graph.initializer.append(numpy_helper.from_array((zero.astype(np.int16) + 128).astype(np.uint8), name))
        node.input[2] = name
        retyped += 1
    folded = scales_folded(model)
    scalars = quantized_scalars(model)
    pads = pads_quantized(model)
    moves = moves_quantized(model)

    readers = consumers(graph)
    duplicated, nodes = 0, []
    for node in graph.node:
        nodes.append(node)
        users = readers.get(node.output[0], []) if node.op_type == "DequantizeLinear" else []
        if node.input[0] in constants or len(users) < 2:
            continue
        for i, user in enumerate(users[1:], 1):
            copy = helper.make_node("DequantizeLinear", list(node.input), [f"{node.output[0]}_dup{i}"],
                                    name=f"{node.name}_dup{i}")
            copy.attribute.extend(node.attribute)
            user.input[:] = [copy.output[0] if n == node.output[0] else n for n in user.input]
            nodes.append(copy)
            duplicated += 1
    replace_nodes(graph, _topological(nodes))
    return {"uint8_activation_qdq": retyped, "folded_scales": folded, "quantized_scalars": scalars,
            "quantized_pads": pads, "quantized_moves": moves, "duplicated_dequantize": duplicated}


def pads_quantized(model: onnx.ModelProto) -> int:
    """Each zero, reflecting or edge Pad between a dequantize and a quantize on one grid run on the quantized
    values, a zero pad padding with the zero point (the code of 0.0): onnxruntime keeps DequantizeLinear -> Pad ->
    QuantizeLinear in float (a temporal convolution net's causal pads, a style-transfer net's reflection pads), where
    its Pad takes int8 and uint8 directly. Returns how many."""
    graph = model.graph
    constants, readers = _constants(graph), consumers(graph)
    producers = {output: node for node in graph.node for output in node.output}
    quantizes = []
    for pad in graph.node:
        source, users = producers.get(pad.input[0]), readers.get(pad.output[0], [])
        value = pad.input[2] if len(pad.input) > 2 and pad.input[2] else None
        zeros = all(a.s == b"constant" for a in pad.attribute if a.name == "mode")  # else copies of its values
        if pad.op_type != "Pad" or zeros and value is not None and (value not in constants or constants[value].any()) \
                or source is None or source.op_type != "DequantizeLinear" or len(users) != 1 \
                or users[0].op_type != "QuantizeLinear" or not _same_grid(source, users[0], constants):
            continue
        value = source.input[2] if zeros else ""  # a reflect or edge pad reads no value
        pad.input[:] = [source.input[0], pad.input[1], value, *pad.input[3:]]
        pad.output[0] = users[0].output[0]
        quantizes.append(users[0])
    for node in quantizes:
        graph.node.remove(node)
    drop_unused(graph)
    return len(quantizes)


def quantized_moves_dequantized(model: onnx.ModelProto) -> int:
    """pads_quantized and moves_quantized undone, for converters that read quantization from QDQ pairs (OpenVINO
    turns a Pad of quantized values into explicit dequantization arithmetic): each Pad or move of quantized values
    reads them dequantized (a pad with 0.0) and is quantized again on the same grid, exact as its values lie on it.
    Returns how many."""
    graph = model.graph
    grids = {node.output[0]: list(node.input[1:3]) for node in graph.node if node.op_type == "QuantizeLinear"}
    nodes, done = [], 0
    for node in graph.node:
        reads = [i for i in _moved(node) if i in grids] if node.op_type in MOVES or node.op_type == "Pad" else []
        if not reads:
            nodes.append(node)
            continue
        grid = grids[reads[0]]
        for i, name in enumerate(node.input):
            if name in reads:
                nodes.append(helper.make_node("DequantizeLinear", [name, *grid], [f"{name}_dq{done}"],
                                              name=f"{name}_dq{done}"))
                node.input[i] = f"{name}_dq{done}"
        if node.op_type == "Pad" and len(node.input) > 2:
            node.input[2] = ""
        outputs = list(node.output)
        node.output[:] = [f"{name}_moved" for name in outputs]
        nodes.append(node)
        for name in outputs:
            nodes.append(helper.make_node("QuantizeLinear", [f"{name}_moved", *grid], [name], name=f"{name}_q"))
            grids[name] = grid
        done += 1
    replace_nodes(graph, nodes)
    return done


MOVES = ("Slice", "Split", "Concat", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Gather", "Identity",
         "DepthToSpace", "SpaceToDepth", "Tile", "Expand")  # ops that move values, never compute new ones


def _moved(node: onnx.NodeProto) -> list[str]:
    """The inputs whose values a move (or pad) moves: a concatenation's every input, else its first."""
    return list(node.input) if node.op_type == "Concat" else list(node.input[:1])


def moves_quantized(model: onnx.ModelProto) -> int:
    """Each chain of moves (MOVES) between dequantizes and quantizes of one per-tensor grid runs on the quantized
    values: onnxruntime runs one DequantizeLinear -> Slice -> QuantizeLinear on them, not a chain of two or more,
    and torch.roll exports as two Slices and a Concat per dimension (a Swin block's shifted windows ran in float).
    A move reading a dequantize reads its input instead; a quantize after a move is dropped, its readers reading the
    move. Returns how many moves now move quantized values."""
    graph = model.graph
    constants, readers = _constants(graph), consumers(graph)
    producers = {output: node for node in graph.node for output in node.output}
    ends = {o.name for o in graph.output}

    def grid(node: onnx.NodeProto):
        scale, zero = (constants.get(n) for n in (list(node.input[1:3]) + [""] * 2)[:2])
        if scale is None or zero is None or scale.size != 1 or zero.size != 1:
            return None
        return scale.item(), zero.dtype.str, zero.item()

    on, moves = {}, []  # value -> the grid its values lie on; the moves of such values, in order
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] not in constants and (g := grid(node)):
            on[node.output[0]] = g
        elif node.op_type in MOVES and len(found := {on.get(i) for i in _moved(node)}) == 1 and None not in found:
            on.update(dict.fromkeys(node.output, found.pop()))
            moves.append(node)
    kept = {id(node) for node in moves}

    def stays(node: onnx.NodeProto) -> bool:
        """Its inputs come quantized and its outputs go to quantizes on their grid or to moves that stay."""
        g = on[node.output[0]]
        return all(producers[i].op_type == "DequantizeLinear" or id(producers[i]) in kept for i in _moved(node)) \
            and all(o not in ends and readers.get(o) and all(
                u.op_type == "QuantizeLinear" and grid(u) == g and u.output[0] not in ends
                or id(u) in kept and o in _moved(u) and o not in u.input[len(_moved(u)):]
                for u in readers[o]) for o in node.output)

    while dropped := [node for node in moves if id(node) in kept and not stays(node)]:
        kept -= {id(node) for node in dropped}

    def chained(node: onnx.NodeProto) -> bool:
        """Whether a move that stays reads or feeds another (one alone is onnxruntime's own fusion)."""
        return any(id(producers[i]) in kept for i in _moved(node)) \
            or any(id(u) in kept for o in node.output for u in readers[o])

    kept = {id(node) for node in moves if id(node) in kept and chained(node)}
    renamed, quantizes = {}, []
    for node in (n for n in moves if id(n) in kept):
        for i, name in enumerate(_moved(node)):
            if producers[name].op_type == "DequantizeLinear":
                node.input[i] = producers[name].input[0]
        for output in node.output:
            for user in readers[output]:
                if user.op_type == "QuantizeLinear":
                    renamed[user.output[0]] = output
                    quantizes.append(user)
    for node in quantizes:
        graph.node.remove(node)
    for node in graph.node:
        node.input[:] = [renamed.get(name, name) for name in node.input]
    drop_unused(graph)
    return len(kept)


def _same_grid(dequantize: onnx.NodeProto, quantize: onnx.NodeProto, constants: dict) -> bool:
    """Whether a dequantize and a quantize have one per-tensor scale and zero point."""
    if len(dequantize.input) < 3 or len(quantize.input) < 3:
        return False
    pairs = [(constants.get(a), constants.get(b)) for a, b in zip(dequantize.input[1:3], quantize.input[1:3])]
    return all(a is not None and b is not None and a.size == 1 and a.dtype == b.dtype and np.array_equal(a, b)
               for a, b in pairs)


def scales_folded(model: onnx.ModelProto) -> int:
    """Fold each multiply of a quantized value by a positive scalar c (a hard sigmoid's 1/6) into the quantization
    after it: Q(DQ(Q(x)) * c; s, z) becomes Q(x; s / c, z), the same codes less one rounding, one QLinearMul fewer
    (MobileNetV3-Small: 28). Returns how many."""
    graph = model.graph
    constants, readers = _constants(graph), consumers(graph)
    producers = {o: node for node in graph.node for o in node.output}
    removed, added = set(), {}
    for node in graph.node:
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        scalar = [i for i in _scalars(node, constants) if float(constants[i].reshape(())) > 0]
        dequantize = next((producers.get(i) for i in node.input if i not in scalar), None)
        quantize = producers.get(dequantize.input[0]) if dequantize is not None else None
        after = readers.get(node.output[0], [])
        if len(scalar) != 1 or dequantize is None or dequantize.op_type != "DequantizeLinear" or quantize is None \
                or quantize.op_type != "QuantizeLinear" or len(after) != 1 or after[0].op_type != "QuantizeLinear" \
                or any(constants.get(n.input[1], np.zeros(2)).size != 1 for n in (quantize, after[0])):
            continue
        out = after[0]
        scale = float(constants[out.input[1]].reshape(())) / float(constants[scalar[0]].reshape(()))
        name = f"{out.output[0]}_folded_scale"
        graph.initializer.append(numpy_helper.from_array(np.array(scale, np.float32), name))
        added[id(out)] = helper.make_node("QuantizeLinear", [quantize.input[0], name, out.input[2]], list(out.output),
                                          name=f"{out.name}_folded")
        removed.update((id(node), id(out)))
    if added:
        nodes = [added.get(id(n), n) for n in graph.node if id(n) not in removed or id(n) in added]
        replace_nodes(graph, _topological(nodes))
        drop_unused(graph)
    return len(added)


def _scalars(node: onnx.NodeProto, constants: dict) -> list[str]:
    """The node's inputs that are one-element float constants."""
    return [i for i in node.input if i in constants and constants[i].size == 1 and constants[i].dtype == np.float32]


def _quantized_after(node: onnx.NodeProto, readers: dict) -> bool:
    """Whether every reader of the node's output is a QuantizeLinear, or a Clip or Relu that only QuantizeLinear
    nodes read (onnxruntime drops such a clamp when the quantization's range lies within it)."""
    users = readers.get(node.output[0], [])
    return bool(users) and all(u.op_type == "QuantizeLinear" or u.op_type in ("Clip", "Relu") and all(
        r.op_type == "QuantizeLinear" for r in readers.get(u.output[0], [])) for u in users)


def quantized_scalars(model: onnx.ModelProto) -> int:
    """Read each float scalar of an Add or Mul between uint8 DequantizeLinear and QuantizeLinear nodes (`x + 3`,
    `x * (1/6)`: a hard sigmoid's steps) through a uint8 DequantizeLinear of its own, exactly (255 steps of
    |c| / 255), so that onnxruntime fuses the op into QLinearAdd or QLinearMul, which take no float input. Returns
    how many."""
    graph = model.graph
    constants, readers = _constants(graph), consumers(graph)
    producers = {o: node for node in graph.node for o in node.output}
    added, done = [], 0
    for node in graph.node:
        if node.op_type not in ELEMENTWISE or len(node.input) != 2:
            continue
        scalar = _scalars(node, constants)
        other = [producers.get(i) for i in node.input if i not in scalar]
        if len(scalar) != 1 or len(other) != 1 or other[0] is None or other[0].op_type != "DequantizeLinear" \
                or constants.get(other[0].input[2], np.zeros(1, np.int8)).dtype != np.uint8 \
                or not _quantized_after(node, readers):
            continue
        value = float(constants[scalar[0]].reshape(()))
        if value == 0:
            continue
        name = f"{node.output[0]}_scalar"
        graph.initializer.extend([
            numpy_helper.from_array(np.array(255 if value >= 0 else 0, np.uint8), f"{name}_q"),
            numpy_helper.from_array(np.array(abs(value) / 255, np.float32), f"{name}_scale"),
            numpy_helper.from_array(np.array(0 if value >= 0 else 255, np.uint8), f"{name}_zero")])
        added.append(helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zero"], [name],
                                      name=f"{name}_dequantize"))
        node.input[:] = [name if i == scalar[0] else i for i in node.input]
        done += 1
    if done:
        replace_nodes(graph, _topological([*added, *graph.node]))
    return done


def weight_arrays(model: onnx.ModelProto) -> list[np.ndarray]:
    """The quantized weights: the constant inputs of DequantizeLinear nodes, not a quantized scalar and not an
    operand of an Add or Mul (PReLU's slopes, a batch norm's scale and shift: activations' type, shared/qdq)."""
    initializers = {i.name: i for i in model.graph.initializer}
    readers = consumers(model.graph)
    arrays = [numpy_helper.to_array(initializers[n.input[0]]) for n in model.graph.node
              if n.op_type == "DequantizeLinear" and n.input[0] in initializers
              and not all(u.op_type in ELEMENTWISE for u in readers.get(n.output[0], []))]
    return [a for a in arrays if a.size > 1]


def seven_bits(weights: list[np.ndarray]) -> bool:
    """Every weight is int8 in [-64, 63]: int8 kernels that add pairs of u8 x s8 products in int16 (x86 without
    VNNI) cannot saturate on them."""
    return bool(weights) and all(a.dtype == np.int8 and a.min() >= -64 and a.max() <= 63 for a in weights)


def weights_as(model: onnx.ModelProto, dtype: str) -> int:
    """Store the weights as "uint8" (value + 128, zero point + 128) or back as "int8": the same numbers either way.
    With uint8 weights onnxruntime runs its u8u8 kernels: its u8s8 kernels on x86 CPUs without VNNI (AVX2, AVX-512
    without VNNI) add pairs of u8 x s8 products in int16, which saturates. Measured on this AVX2 machine: the
    sample's int8 file agreed with the float model on 97.7% of the held-out images (99.2% with uint8 weights), and
    a two-output model's outputs kept cosine 0.973 / 0.960 (0.9999 / 0.9998). Returns how many tensors changed."""
    source, target, shift = ((onnx.TensorProto.INT8, np.uint8, 128) if dtype == "uint8"
                             else (onnx.TensorProto.UINT8, np.int8, -128))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    names = {name for node in graph.node if node.op_type == "DequantizeLinear" and len(node.input) >= 3
             and node.input[0] in initializers and initializers[node.input[0]].data_type == source
             for name in (node.input[0], node.input[2]) if name in initializers}  # a value two nodes read: once
    for name in names:
        shifted = numpy_helper.to_array(initializers[name]).astype(np.int16) + shift
        initializers[name].CopyFrom(numpy_helper.from_array(shifted.astype(target), name))
    return len(names)


def unshared_weight_parameters(model: onnx.ModelProto) -> int:
    """Give every weight's DequantizeLinear its own scale and zero point. The exporter stores equal constants once,
    and OpenVINO's low-precision transformations leave a layer in f32 when its weights' zero point is shared with
    another layer's (found on a model whose first conv and last linear both had 16 zero-valued zero points).
    Returns how many were copied."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    readers = consumers(graph)
    copied = 0
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in initializers:
            continue
        for slot in range(1, len(node.input)):
            name = node.input[slot]
            if name in initializers and len(readers.get(name, [])) > 1:
                copy = numpy_helper.from_array(numpy_helper.to_array(initializers[name]), f"{name}_{copied}")
                graph.initializer.append(copy)
                readers[name].remove(node)
                node.input[slot] = copy.name
                copied += 1
    return copied


def _topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Consumers were rewired to copies appended after them: restore a valid order."""
    produced_by = {out: i for i, n in enumerate(nodes) for out in n.output}
    order, seen = [], set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for name in nodes[i].input:
            if name in produced_by:
                visit(produced_by[name])
        order.append(nodes[i])

    for i in range(len(nodes)):
        visit(i)
    return order


def short_names(model: onnx.ModelProto) -> None:
    """Rename nodes n<i> and inner values v<i>; graph inputs and outputs keep their names."""
    graph = model.graph
    kept = {v.name for v in [*graph.input, *graph.output]}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in kept:
            return name
        return names.setdefault(name, f"v{len(names)}")

    for initializer in graph.initializer:
        initializer.name = short(initializer.name)
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.input[:] = [short(n) for n in node.input]
        node.output[:] = [short(n) for n in node.output]
    for value in graph.value_info:
        value.name = short(value.name)

