"""Core ML quantizes no tensor of more than five dimensions ("Core ML only supports tensors with rank <= 5"), and a
Swin or MobileViT window partition passes through six: both Core ML paths (coremltools, ExecuTorch's Core ML
delegate) take the int8 program without its quantize -> dequantize pairs there."""
from __future__ import annotations

MAX_RANK = 5


def pairs_above_max_rank_dropped(graph_module) -> int:
    """Drop each quantize -> dequantize pair on a tensor of more than MAX_RANK dimensions. Such a tensor is a
    rearrangement of a quantized value (quant/data_movement.py reads it on its input's grid), whose values lie on
    that grid already: no value changes. Returns how many."""
    import torch

    decomposed = torch.ops.quantized_decomposed
    quantize = (decomposed.quantize_per_tensor.default, decomposed.quantize_per_tensor.tensor)
    dequantize = (decomposed.dequantize_per_tensor.default, decomposed.dequantize_per_tensor.tensor)
    graph, dropped = graph_module.graph, 0
    for node in list(graph.nodes):
        if node.target in quantize and node.meta["val"].dim() > MAX_RANK \
                and all(user.target in dequantize for user in node.users):
            for user in list(node.users):
                user.replace_all_uses_with(node.args[0])
                graph.erase_node(user)
            graph.erase_node(node)
            dropped += 1
    if dropped:
        graph_module.recompile()
    return dropped
