"""A transformer's attention and LayerNorm written as ops XNNPACK's partitioner takes (its selects: slices.py).

ExecuTorch 1.5.1 decomposes `scaled_dot_product_attention` into a "safe" softmax (`eq`, `logical_not`, `any`,
`full_like`, `where`) and scalar multiplies, and keeps `layer_norm` and `select` whole; XNNPACK's partitioner takes
none of them, so each runs on ExecuTorch's portable kernels and splits the delegate: the zoo's ViT-tiny ran as 26
delegate calls with 75 ops between them. Written here with the same values as views, batched matmuls, a softmax,
means over a 4-D view and elementwise steps, all of which XNNPACK runs.
"""
from __future__ import annotations

from .lower import _each, _replace, _static_shape


def _constant(graph_module, graph, name: str, value: float):
    import torch

    graph_module.register_buffer(name, torch.tensor(value, dtype=torch.float32))
    return graph.get_attr(name)


def attention_as_matmuls(graph_module) -> int:
    """softmax(q kᵀ * scale + mask) v for each `scaled_dot_product_attention` with static shapes, no dropout, not
    causal; returns how many. A boolean mask becomes an additive one once (0 where attended, float32's lowest value
    where not), shared by every attention that reads it. The safe softmax differs only on a row that masks every
    position: it gives 0 there, this an average of the values."""
    import math

    import torch

    aten = torch.ops.aten

    additive = {}  # a boolean mask -> its additive form

    def rewrite(graph, node) -> bool:
        q, k, v, *rest = node.args
        mask = rest[0] if rest else node.kwargs.get("attn_mask")
        dropout = rest[1] if len(rest) > 1 else node.kwargs.get("dropout_p", 0.0)
        causal = rest[2] if len(rest) > 2 else node.kwargs.get("is_causal", False)
        shapes = [_static_shape(x) for x in (q, k, v, node)]
        dtype = mask.meta["val"].dtype if mask is not None and "val" in mask.meta else None
        if dropout or causal or node.kwargs.get("enable_gqa") or any(s is None or len(s) != 4 for s in shapes) or \
                mask is not None and dtype not in (torch.float32, torch.bool):
            return False
        (b, h, length, e), (_, _, keys, _), (_, _, _, ev), out_shape = shapes
        if shapes[1][:2] != [b, h] or shapes[2][:3] != [b, h, keys]:
            return False
        scale = node.kwargs.get("scale") or 1 / math.sqrt(e)
        with graph.inserting_before(node):
            q3 = graph.call_function(aten.reshape.default, (q, [b * h, length, e]))  # a transposed q or k: a copy
            k3 = graph.call_function(aten.reshape.default, (k, [b * h, keys, e]))
            kt = graph.call_function(aten.permute.default, (k3, [0, 2, 1]))
            scores = graph.call_function(aten.bmm.default, (q3, kt))
            factor = _constant(graph_module, graph, f"_attention_scale_{node.name}", scale)
            scores = graph.call_function(aten.mul.Tensor, (scores, factor))
            if dtype == torch.bool and mask not in additive:
                zero = _constant(graph_module, graph, f"_attention_open_{node.name}", 0.0)
                closed = _constant(graph_module, graph, f"_attention_closed_{node.name}",
                                   torch.finfo(torch.float32).min)
                additive[mask] = graph.call_function(aten.where.self, (mask, zero, closed))
            if mask is not None:
                mask = additive.get(mask, mask)
                scores4 = graph.call_function(aten.view.default, (scores, [b, h, length, keys]))
                scores4 = graph.call_function(aten.add.Tensor, (scores4, mask))
                scores = graph.call_function(aten.view.default, (scores4, [b * h, length, keys]))
            weights = graph.call_function(aten._softmax.default, (scores, -1, False))
            v3 = graph.call_function(aten.reshape.default, (v, [b * h, keys, ev]))
            out = graph.call_function(aten.bmm.default, (weights, v3))
            out = graph.call_function(aten.view.default, (out, out_shape))
        return _replace(graph, node, out)

    return _each(graph_module, aten.scaled_dot_product_attention.default, rewrite)


def layer_norms_as_steps(graph_module) -> int:
    """Each `layer_norm` over the last axis as (x - mean) * rsqrt(mean((x - mean)²) + eps) * weight + bias, the
    means over a (N, L, 1, D) view (XNNPACK's mean takes 4-D tensors over their last two axes); returns how many."""
    import torch

    aten = torch.ops.aten

    def rewrite(graph, node) -> bool:
        x, normalized, *rest = node.args
        weight, bias = (rest + [None, None])[:2]
        eps = rest[2] if len(rest) > 2 else 1e-5
        shape = _static_shape(x)
        if shape is None or len(shape) < 2 or len(normalized) != 1:
            return False
        rows = 1
        for d in shape[:-1]:
            rows *= d
        with graph.inserting_before(node):
            x4 = graph.call_function(aten.reshape.default, (x, [1, rows, 1, shape[-1]]))  # x: maybe permuted
            mean = graph.call_function(aten.mean.dim, (x4, [-2, -1], True))
            centred = graph.call_function(aten.sub.Tensor, (x4, mean))
            square = graph.call_function(aten.mul.Tensor, (centred, centred))
            variance = graph.call_function(aten.mean.dim, (square, [-2, -1], True))
            epsilon = _constant(graph_module, graph, f"_layer_norm_eps_{node.name}", eps)
            shifted = graph.call_function(aten.add.Tensor, (variance, epsilon))
            inverse = graph.call_function(aten.rsqrt.default, (shifted,))
            y = graph.call_function(aten.mul.Tensor, (centred, inverse))
            y = graph.call_function(aten.view.default, (y, shape))
            if weight is not None:
                y = graph.call_function(aten.mul.Tensor, (y, weight))
            if bias is not None:
                y = graph.call_function(aten.add.Tensor, (y, bias))
        return _replace(graph, node, y)

    return _each(graph_module, aten.layer_norm.default, rewrite)
