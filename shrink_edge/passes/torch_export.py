"""torch -> pt2: capture the float model as a torch.export program with a dynamic batch dimension."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..model.signature import TensorSpec, examples
from .base import Context, Pass


def export_program(module, inputs: tuple[TensorSpec, ...]):
    """torch.export with batch 2 and a batch dynamic in every input: a batch-1 example would specialise it."""
    import torch

    batch = torch.export.Dim("batch", min=1)
    try:
        program = torch.export.export(module, examples(inputs, 2), dynamic_shapes=tuple({0: batch} for _ in inputs))
    except Exception as e:  # torch.export raises many error types; its first line names the culprit
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"torch.export cannot capture the model: {type(e).__name__}: {first}; "
                        "make forward() traceable (no data-dependent control flow) and batch-size agnostic") from None
    attention_views_copied(program)
    eval_dropouts_removed(program)
    return program


def eval_dropouts_removed(program) -> int:
    """Each dropout of the eval-mode program (an identity: `dropout(x, p, train=False)`) replaced by its input.
    torch.export keeps them, and a quantizer annotates what reads them, not what reads the op before: BERT's pooler
    tanh writes TFLite's fixed 1/128 grid, which its classifier read through a dropout requantized onto another
    grid (transformers' MobileBERT: onto the pooler's dense output grid, its tanh clipped to [-0.012, 0.05]). A
    dropout the program returns stays (its name is the output's). Returns how many."""
    import torch

    aten = torch.ops.aten
    dropouts = (aten.dropout.default, aten.feature_dropout.default, aten.alpha_dropout.default,
                aten.feature_alpha_dropout.default)
    graph, removed = program.graph_module.graph, 0
    for node in list(graph.nodes):
        train = node.args[2] if len(node.args) > 2 else node.kwargs.get("train", True)
        if node.target in dropouts and train is False and all(user.op != "output" for user in node.users):
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
            removed += 1
    if removed:
        program.graph_module.recompile()
    return removed


def attention_views_copied(program) -> int:
    """Each view of attention's output after a transpose reads a contiguous copy. torch's CPU attention kernel
    lays its (batch, heads, tokens, dim) output out as (batch, tokens, heads, dim), so transformers'
    `out.transpose(1, 2).contiguous().reshape(...)` decomposes into a view with no copy; a converter that writes the
    attention as matmuls (torch.onnx, so every runtime after it) gets a transpose it cannot view: transformers'
    Swin failed to convert ("Cannot view a tensor with shape [16*s99, 16, 2, 16] and strides (512, 16, 256, 1)").
    Here each such `contiguous` is a copy that no decomposition drops, and a view or reshape right after a
    transpose reads one. Returns how many."""
    import torch

    aten = torch.ops.aten
    transposes, views = (aten.transpose.int, aten.permute.default), (aten.view.default, aten.reshape.default)
    graph, copied = program.graph_module.graph, 0
    moved = [n for n in graph.nodes if n.target == aten.scaled_dot_product_attention.default]
    while moved:
        node = moved.pop()
        for user in list(node.users):
            if user.target == aten.contiguous.default and node.target in transposes:
                user.target, user.args = aten.clone.default, user.args[:1]  # clone takes its format by keyword
                user.kwargs = {"memory_format": torch.contiguous_format}
                copied += 1
            elif user.target in views and node.target in transposes:
                with graph.inserting_before(user):
                    copy = graph.call_function(aten.clone.default, (node,), {"memory_format": torch.contiguous_format})
                copy.meta["val"] = node.meta["val"].clone(memory_format=torch.contiguous_format)
                user.replace_input_with(node, copy)
                copied += 1
            elif user.target in transposes + views:
                moved.append(user)
    if copied:
        program.graph_module.recompile()
    return copied


class TorchExport(Pass):
    name = "torch-export"
    source = "torch"
    target = "pt2"
    version = 3  # 3: eval-mode dropouts removed; 2: attention's transposed output copied before it is viewed

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import torch

        torch.export.save(export_program(ctx.model.load(src), ctx.model.inputs), dst)
