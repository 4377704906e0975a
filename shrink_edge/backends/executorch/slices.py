"""Pieces of a tensor written as the one slicing op XNNPACK's partitioner takes, `slice`.

ExecuTorch 1.5.1's XNNPACK partitioner takes neither `split` (with sizes, or a `chunk`), `unbind` nor `select`, so each
ran on ExecuTorch's portable kernels and cut the delegate in two: a YOLOv8 C2f block's `chunk` (the zoo-style YOLO
head: 4 portable ops), an unrolled recurrent layer's gates and time steps (recurrent.py), a transformer's class-token
select, a Swin block's roll. Written here as slices (and views where an axis goes; a roll's pieces concatenated), the
same values.
"""
from __future__ import annotations

from .lower import _each, _replace, _static_shape


def _pieces_as_slices(graph_module, target, dim_index: int, bounds) -> int:
    """Each getitem of a `target` call (a split or an unbind; its axis is argument `dim_index`) as a slice of its
    input, viewed to the piece's shape where that drops the axis; `bounds(node, length)` gives each piece's (start,
    end) on the axis."""
    import operator

    import torch

    aten = torch.ops.aten

    def rewrite(graph, node) -> bool:
        x = node.args[0]
        dim = node.args[dim_index] if len(node.args) > dim_index else node.kwargs.get("dim", 0)
        shape, readers = _static_shape(x), list(node.users)
        if shape is None or not all(r.target is operator.getitem and _static_shape(r) for r in readers):
            return False
        dim %= len(shape)
        pieces = bounds(node, shape[dim])
        for reader in readers:
            start, end = pieces[reader.args[1]]
            with graph.inserting_before(reader):
                part = graph.call_function(aten.slice.Tensor, (x, dim, start, end))
                if _static_shape(reader) != shape[:dim] + [end - start] + shape[dim + 1:]:
                    part = graph.call_function(aten.view.default, (part, _static_shape(reader)))
            _replace(graph, reader, part)
        graph.erase_node(node)
        return True

    return _each(graph_module, target, rewrite)


def _in_sizes(sizes, length: int) -> list[tuple[int, int]]:
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [(start, min(start + size, length)) for start, size in zip(starts, sizes)]


def splits_as_slices(graph_module) -> int:
    """Each `split` (into equal pieces: an LSTM's gates; or of given sizes) and `chunk` (a C2f block's halves) as
    slices; returns how many."""
    import math

    import torch

    aten = torch.ops.aten
    equal = lambda size, length: _in_sizes([size] * math.ceil(length / size), length)  # noqa: E731
    return (_pieces_as_slices(graph_module, aten.split.Tensor, 2, lambda n, length: equal(n.args[1], length))
            + _pieces_as_slices(graph_module, aten.split_with_sizes.default, 2,
                                lambda n, length: _in_sizes(list(n.args[1]), length))
            + _pieces_as_slices(graph_module, aten.chunk.default, 2,
                                lambda n, length: equal(math.ceil(length / n.args[1]), length)))


def unbinds_as_slices(graph_module) -> int:
    """Each `unbind` (the time steps) as slices and views without the axis; returns how many."""
    import torch

    return _pieces_as_slices(graph_module, torch.ops.aten.unbind.int, 1,
                             lambda node, length: [(i, i + 1) for i in range(length)])


def selects_as_slices(graph_module) -> int:
    """Each `select` (one index along an axis) as a slice of that index and a view without the axis; returns how
    many."""
    import torch

    aten = torch.ops.aten

    def rewrite(graph, node) -> bool:
        x, dim, index = node.args
        shape, out = _static_shape(x), _static_shape(node)
        if shape is None or out is None:
            return False
        dim, index = dim % len(shape), index % shape[dim]
        with graph.inserting_before(node):
            part = graph.call_function(aten.slice.Tensor, (x, dim, index, index + 1))
            view = graph.call_function(aten.view.default, (part, out))
        return _replace(graph, node, view)

    return _each(graph_module, aten.select.int, rewrite)


def rolls_as_slices(graph_module) -> int:
    """Each `roll` along given axes (a Swin block's shifted windows) as two slices and their concatenation per
    axis: ExecuTorch decomposes it into arange, fmod and index_select, which ran on the portable kernels; returns
    how many."""
    import torch

    aten = torch.ops.aten

    def rewrite(graph, node) -> bool:
        x, shifts = node.args[:2]
        dims = node.args[2] if len(node.args) > 2 else node.kwargs.get("dims", [])
        shape = _static_shape(x)
        if shape is None or not dims or len(shifts) != len(dims):  # without axes a roll flattens first
            return False
        rolled = x
        with graph.inserting_before(node):
            for shift, dim in zip(shifts, dims):
                dim = dim % len(shape)
                if (shift := shift % shape[dim]) == 0:
                    continue
                tail = graph.call_function(aten.slice.Tensor, (rolled, dim, shape[dim] - shift, shape[dim]))
                head = graph.call_function(aten.slice.Tensor, (rolled, dim, 0, shape[dim] - shift))
                rolled = graph.call_function(aten.cat.default, ([tail, head], dim))
        if rolled is x:
            node.replace_all_uses_with(x)
            graph.erase_node(node)
            return True
        return _replace(graph, node, rolled)

    return _each(graph_module, aten.roll.default, rewrite)
