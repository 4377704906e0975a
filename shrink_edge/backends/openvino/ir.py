"""Make the OpenVINO IR read from a QDQ ONNX as small as NNCF's own, with the same outputs.

A small int8 IR is mostly XML text, and the ONNX frontend writes more of it than it needs to:
- every FakeQuantize range as a [1, 1, 1, 1] constant (each dimension is a line, twice: in the constant and in
  the FakeQuantize's port). A scalar broadcasts the same way;
- a FakeQuantize after each MaxPool and Reshape that repeats the one before it (PT2E gives those ops their
  input's quantization, and the max or reshape of values on a grid is on that grid): it is the identity, up to
  the last bit of its float arithmetic (on the sample and the digits model the outputs stay bit-identical).

And one rewrite for speed: a concatenation whose inputs and output share one grid (quant/data_movement.py) reads
its inputs quantized, as NNCF's IR does (concatenations_on_one_grid).
"""
from __future__ import annotations

import numpy as np

RANGES = ("input_low", "input_high", "output_low", "output_high")
KEEPS_GRID = {"MaxPool", "Reshape", "Squeeze", "Unsqueeze"}  # outputs are some of the input's values


def _keeps_grid(op) -> bool:
    """Whether every output value is one of the input's. (A zero Pad's are too, but the FakeQuantize after it stays:
    without it the CPU plugin fuses the Pad into the convolution, and the pitch model's first layer then ran on a
    slower kernel, 0.058 -> 0.235 ms.)"""
    return op.get_type_name() in KEEPS_GRID or (
        op.get_type_name() == "Interpolate" and op.get_attributes().get("mode") == "nearest")


def _ranges(fake_quantize) -> list[np.ndarray] | None:
    nodes = [fake_quantize.input_value(i).get_node() for i in range(1, 5)]
    if any(n.get_type_name() != "Constant" for n in nodes):
        return None
    return [n.get_data() for n in nodes]


def scalar_ranges(model) -> int:
    """Replace [1, ..., 1] FakeQuantize range constants with scalars; returns how many."""
    from openvino import opset13

    replaced = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "FakeQuantize":
            continue
        for i, name in enumerate(RANGES, 1):
            constant = op.input_value(i).get_node()
            if constant.get_type_name() != "Constant" or any(d != 1 for d in constant.get_output_shape(0)):
                continue
            scalar = opset13.constant(constant.get_data().reshape(()))
            scalar.set_friendly_name(f"{op.get_friendly_name()}/{name}")
            op.input(i).replace_source_output(scalar.output(0))
            replaced += 1
    return replaced


def _same_quantization(a, b) -> bool:
    ra, rb = _ranges(a), _ranges(b)
    return (ra is not None and rb is not None and a.get_levels() == b.get_levels()
            and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(ra, rb)))


def repeated_fake_quantizes(model) -> int:
    """Remove every FakeQuantize that repeats the one its input passed through unchanged; returns how many."""
    removed = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "FakeQuantize":
            continue
        source = _grid_source(op.input_value(0))
        users = [t.get_node().get_type_name() for t in op.output(0).get_target_inputs()]
        if source.get_type_name() != "FakeQuantize" or "Result" in users or not _same_quantization(op, source):
            continue
        op.output(0).replace(op.input_value(0))
        removed += 1
    return removed


def _grid_source(value):
    """The op that `value` comes from, through ops that keep a grid."""
    source = value.get_node()
    while _keeps_grid(source):
        source = source.input_value(0).get_node()
    return source


def _on_grid(value, fake_quantize) -> bool:
    """Whether `value` comes, through ops that keep a grid, from a FakeQuantize with `fake_quantize`'s ranges."""
    source = _grid_source(value)
    return source.get_type_name() == "FakeQuantize" and _same_quantization(source, fake_quantize)


def concatenations_on_one_grid(model) -> int:
    """Each Concat whose inputs and output share one grid made to read its inputs quantized and write without a
    FakeQuantize after it. OpenVINO's ONNX frontend folds the quantize/dequantize pairs before a Concat into the one
    after it, so a skip connection reaches the Concat in float beside its own FakeQuantize for the next layer; the
    CPU plugin then runs that skip's rounding as a separate f32 op and cannot fuse the other into the convolution
    (the zoo's U-Net: 5 f32 subgraphs, 178 of 873 us; NNCF's IR, quantized at the Concat's inputs: 1, 8 us).
    An input is read through a FakeQuantize with the Concat's ranges that already rounds it for another layer.
    Returns how many."""
    rewritten = 0
    for op in model.get_ordered_ops():
        users = list(op.output(0).get_target_inputs()) if op.get_type_name() == "Concat" else []
        after = users[0].get_node() if len(users) == 1 else None
        if after is None or after.get_type_name() != "FakeQuantize" or any(
                u.get_node().get_type_name() == "Result" for u in after.output(0).get_target_inputs()):
            continue
        quantized = []
        for value in op.input_values():
            siblings = [u.get_node() for u in value.get_target_inputs()]
            rounding = next((s for s in siblings if s.get_type_name() == "FakeQuantize" and s is not after
                             and _same_quantization(s, after)), None)
            quantized.append(value if _on_grid(value, after) else rounding.output(0) if rounding else None)
        if any(q is None for q in quantized):
            continue
        for i, value in enumerate(quantized):
            op.input(i).replace_source_output(value)
        after.output(0).replace(op.output(0))
        rewritten += 1
    return rewritten


def compact(model) -> dict[str, int]:
    """Rewrite in place; returns what changed."""
    changes = {"scalar_ranges": scalar_ranges(model), "repeated_fake_quantizes": repeated_fake_quantizes(model),
               "concatenations_on_one_grid": concatenations_on_one_grid(model)}
    model.validate_nodes_and_infer_types()
    return changes


def canonical_names(model) -> int:
    """Rename the ops OpenVINO named from a process-wide counter (`Reshape_18756`, also on the constant it folded a
    Reshape into: the number depends on what the process converted before) by their position, so that the same
    model gives the same IR bytes in any process. Inputs and outputs keep their names. Returns how many."""
    import re

    renamed = 0
    for i, op in enumerate(model.get_ordered_ops()):
        generated = re.fullmatch(r"([A-Z][A-Za-z0-9]*)_\d+", op.get_friendly_name())
        if generated and op.get_type_name() not in ("Parameter", "Result"):
            op.set_friendly_name(f"{generated.group(1)}_{i}")
            renamed += 1
    return renamed

