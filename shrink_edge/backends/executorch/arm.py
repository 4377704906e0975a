"""ExecuTorch's Arm backend needs TOSA's serializer (the tosa-tools wheel). tosa-tools pins numpy < 2.2 on Python
3.11 (2026.5.0, the version executorch 1.5.1's ethos-u extra names, and 2026.8.0 alike) while this stack runs numpy
2.4, with which its serializer works: scripts/setup.sh installs it without its dependencies into a folder of its own
beside the environment, kept off sys.path (and so off `pip check`) until a lowering for an Arm target needs it."""
from __future__ import annotations

import sys
from pathlib import Path

from ...errors import UserError
from .graph import called, through_quantize

FOLDER = Path(sys.prefix) / "tosa-tools"


def tosa_tools() -> None:
    """tosa_serializer importable, or one line that says how to install it."""
    if FOLDER.is_dir() and str(FOLDER) not in sys.path:
        sys.path.append(str(FOLDER))
    try:
        import tosa_serializer  # noqa: F401
    except ImportError:
        raise UserError(f"ExecuTorch's Arm backend needs tosa-tools, not found in {FOLDER}: run scripts/setup.sh, or "
                        f"pip install --no-deps --target {FOLDER} tosa-tools==2026.5.0") from None


def spatial_means_pooled(graph_module) -> int:
    """Global average pooling (adaptive_avg_pool2d to 1x1, or a mean over H and W of an NCHW tensor) as one
    avg_pool2d over the whole map, then a view where the mean dropped H and W: TOSA's AVG_POOL2D, which Vela runs on
    the NPU. The Arm backend would otherwise decompose the mean into a sum and a multiplication by a float constant,
    which fails on a program that its own quantizer did not annotate ("Expected matching dtypes but got torch.int32
    and torch.float32"). Returns how many were rewritten."""
    import torch

    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    rewritten = 0
    for node in list(graph_module.graph.nodes):
        if node.op != "call_function" or node.target not in (aten.adaptive_avg_pool2d.default, aten.mean.dim):
            continue
        x = node.args[0]
        shape = tuple(int(d) for d in x.meta["val"].shape) if "val" in getattr(x, "meta", {}) else ()
        if len(shape) != 4:
            continue
        if node.target == aten.adaptive_avg_pool2d.default:
            if list(node.args[1]) != [1, 1]:
                continue
            keepdim = True
        else:
            keepdim = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
            if sorted(d % 4 for d in node.args[1]) != [2, 3]:
                continue
        with graph_module.graph.inserting_after(node):
            pooled = graph_module.graph.call_function(aten.avg_pool2d.default, (x, list(shape[2:]), [1, 1]))
        rounded = [d for q in node.users if q.target == qd.quantize_per_tensor.default for d in q.users
                   if d.target == qd.dequantize_per_tensor.default]
        node.replace_all_uses_with(pooled)
        if not keepdim:  # dropped after the output's quantize -> dequantize (the partitioner wants a pool's output
            for value in rounded or [pooled]:  # quantized), and rounded again on the same grid (exact), as the
                graph = graph_module.graph     # next op wants a dequantized input
                with graph.inserting_after(value):
                    flat = graph.call_function(aten.view.default, (value, list(shape[:2])))
                result = flat
                if value is not pooled:
                    with graph.inserting_after(flat):
                        again = graph.call_function(qd.quantize_per_tensor.default, (flat, *value.args[1:6]))
                    with graph.inserting_after(again):
                        result = graph.call_function(qd.dequantize_per_tensor.default, (again, *value.args[1:6]))
                value.replace_all_uses_with(result, delete_user_cb=lambda user: user is not flat)
        graph_module.graph.erase_node(node)
        rewritten += 1
    if rewritten:
        graph_module.graph.lint()
        graph_module.recompile()
    return rewritten


def arm_lowered(program, partitioner, attempts: int = 8):
    """The program marked (mark_quantized) and lowered with an Arm partitioner. A delegate's output must be int8 (the
    INT profile has no float tensors): where the partitioner took a marked op but not the op that rounds its result
    (an op it refuses, a select of the ViT's attention), the delegate would return int8 where the program expects
    float, so those ops are left unmarked and the program lowered again."""
    import copy

    from executorch.exir import to_edge_transform_and_lower

    excluded: set[str] = set()
    for _ in range(attempts):
        attempt = copy.deepcopy(program)
        mark_quantized(attempt, excluded)
        edge = to_edge_transform_and_lower(attempt, partitioner=[partitioner])
        if not (leaks := float_delegate_outputs(edge)):
            return edge
        excluded |= leaks
    raise RuntimeError(f"the Arm partition still returns float tensors after {attempts} attempts: {sorted(leaks)}")


def float_delegate_outputs(edge) -> set[str]:
    """The program's nodes (their names when marked) whose float results leave an Arm delegate."""
    import torch

    found = set()
    module = edge.exported_program().graph_module
    for node in module.graph.nodes:
        if node.op != "call_function" or node.target != torch.ops.higher_order.executorch_call_delegate:
            continue
        delegate = getattr(module, node.args[0].target)
        [output] = [n for n in delegate.original_module.graph.nodes if n.op == "output"]
        for value in output.args[0]:
            if getattr(value.meta.get("val"), "dtype", None) in (torch.float32, torch.float16):
                found.add(value.meta.get("custom", {}).get(NAME, value.name))
    return found


NAME = "shrink_edge_node"  # the program's node name, carried into the edge graph in the node's custom meta


def mark_quantized(program, excluded=frozenset()) -> int:
    """Mark the ops of an int8 program that run on int8 data, as ExecuTorch's Arm quantizer marks those it annotates
    (the partitioner takes no other): every op whose inputs are dequantized int8 tensors, constants or other such ops,
    and whose output is quantized again or read only by such ops (an op whose float result leaves the program, a
    detector's reshape before its output, stays on the CPU), except a convolution or linear layer with float weights
    (keep_float), and a reshape of a permuted tensor (reshaped_permutation). Our int8 program comes from the
    quantizer every target shares, so its nodes carry no Arm marks. Returns how many were marked."""
    import torch
    from executorch.backends.arm.common.annotation_meta import ArmAnnotationInfo

    qd = torch.ops.quantized_decomposed
    conversions = {qd.quantize_per_tensor.default, qd.dequantize_per_tensor.default, qd.dequantize_per_channel.default}
    dequantized = conversions - {qd.quantize_per_tensor.default}
    aten = torch.ops.aten
    weighted = {aten.conv1d.default, aten.conv2d.default, aten.linear.default, aten.conv_transpose2d.input}
    user = set(program.graph_signature.user_inputs)
    marked: set = set()
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        node.meta.setdefault("custom", {})[NAME] = node.name
        if node.target in conversions or node.name in excluded or reshaped_permutation(node):
            continue
        constants = {a for a in node.all_input_nodes if a.op == "placeholder" and a.name not in user}
        if node.target in weighted and node.args[1] in constants:
            continue  # float weights: a layer kept in float
        live = [a for a in node.all_input_nodes if a not in constants]
        if live and all(a in marked or (a.op == "call_function" and a.target in dequantized) for a in live):
            marked.add(node)
    while dropped := {n for n in marked if any(u not in marked and u.target != qd.quantize_per_tensor.default
                                               for u in n.users)}:
        marked -= dropped
    for node in marked:
        node.meta.setdefault("custom", {})[ArmAnnotationInfo.CUSTOM_META_KEY] = dict(ArmAnnotationInfo(quantized=True))
    return len(marked)


def reshaped_permutation(node) -> bool:
    """A reshape of a 4-D map permuted to channels-last (`permute(0, 2, 3, 1)`, through its quantize/dequantize
    pair): ExecuTorch 1.5.1's Arm backend orders its elements wrongly inside a delegate (the zoo's detector, whose
    heads are permuted to NHWC and reshaped into anchors: 15.9 dB against the int8 program, 62.4 dB with those
    reshapes left on the CPU). An attention's permutations of its heads, (0, 2, 1, 3), come out right."""
    import torch

    aten = torch.ops.aten
    if node.target not in (aten.view.default, aten.reshape.default, aten.flatten.using_ints):
        return False
    source = through_quantize(node.args[0]) or node.args[0]
    return called(source, "permute") and list(source.args[1]) == [0, 2, 3, 1]


def biases_quantized(graph_module) -> int:
    """The float bias of each int8 convolution or linear layer as int32 at the scale input x weight, dequantized
    per channel, as the Arm quantizer writes it (and as LiteRT and the NPU compute it): the partitioner keeps a
    linear layer whole only when every input is dequantized. Returns how many were rewritten."""
    import torch

    qd, aten = torch.ops.quantized_decomposed, torch.ops.aten
    graph = graph_module.graph
    rewritten = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in (aten.conv1d.default, aten.conv2d.default,
                                                              aten.linear.default) or len(node.args) < 3:
            continue
        x, w, b = node.args[:3]
        if not (getattr(b, "op", None) == "get_attr" and getattr(x, "target", None) == qd.dequantize_per_tensor.default
                and getattr(w, "target", None) in (qd.dequantize_per_channel.default, qd.dequantize_per_tensor.default)):
            continue
        bias = _constant(graph_module, b).float()
        weight_scale = _constant(graph_module, w.args[1]) if w.target == qd.dequantize_per_channel.default else \
            torch.full_like(bias, float(w.args[1]))
        scale = (float(_constant(graph_module, x.args[1])) * weight_scale.double()).reshape(-1)
        values = torch.round(bias.double() / scale).clamp(-2**31, 2**31 - 1).to(torch.int32)
        names = [f"_int32_bias_{rewritten}", f"_int32_bias_scale_{rewritten}", f"_int32_bias_zero_point_{rewritten}"]
        for name, tensor in zip(names, (values, scale.float(), torch.zeros(len(scale), dtype=torch.int64))):
            graph_module.register_buffer(name, tensor)
        with graph.inserting_before(node):
            q, s, z = (graph.get_attr(name) for name in names)
            dequantized = graph.call_function(qd.dequantize_per_channel.default,
                                              (q, s, z, 0, -2**31, 2**31 - 1, torch.int32))
        node.replace_input_with(b, dequantized)
        rewritten += 1
    if rewritten:
        graph.eliminate_dead_code()
        graph.lint()
        graph_module.recompile()
    return rewritten


def _constant(graph_module, value):
    """A scale or zero point: a number, or a get_attr node's tensor."""
    import torch

    if getattr(value, "op", None) == "get_attr":
        holder = graph_module
        for part in value.target.split("."):
            holder = getattr(holder, part)
        return holder.detach()
    return torch.tensor(value)


def relus_split(graph_module) -> int:
    """A ReLU after an op other than a convolution or linear layer (a residual add) rounds that op's output on its
    own output's grid first: the Arm backend fuses a ReLU into convolutions and linear layers only, and wants every
    other op's output quantized. Exact: 0 is on every int8 grid, so rounding and the ReLU commute. Returns how many
    were split."""
    import torch

    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    graph = graph_module.graph
    split = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in (aten.relu.default, aten.relu_.default):
            continue
        source, users = node.args[0], list(node.users)
        if getattr(source, "op", None) != "call_function" or source.target in (
                aten.conv1d.default, aten.conv2d.default, aten.linear.default, qd.dequantize_per_tensor.default) \
                or not users or any(u.target != qd.quantize_per_tensor.default for u in users):
            continue
        grid = users[0].args[1:6]
        with graph.inserting_before(node):
            rounded = graph.call_function(qd.quantize_per_tensor.default, (source, *grid))
            again = graph.call_function(qd.dequantize_per_tensor.default, (rounded, *grid))
        node.replace_input_with(source, again)
        split += 1
    if split:
        graph.lint()
        graph_module.recompile()
    return split


def pool_inputs_rounded(graph_module) -> int:
    """A pool that averages a float result (ResNet's last ReLU, EfficientNet's SiLU before squeeze-excite) reads it
    rounded: on the grid another reader already rounds it to, else on the pool's own output grid, as LiteRT's int8
    MEAN does (input and output share their scale): the Arm backend pools int8 tensors only. Not exact: within one output step of pooling the float values. A pool whose
    output is flattened before it is rounded is rounded first (exact). Returns how many tensors were rounded."""
    import torch

    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    graph = graph_module.graph
    rounded = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target != aten.avg_pool2d.default:
            continue
        source, grid = node.args[0], _grid_after(node)
        if grid is None:
            continue
        if getattr(source, "target", None) != qd.dequantize_per_tensor.default:
            value = next((d for q in source.users if q.target == qd.quantize_per_tensor.default for d in q.users
                          if d.target == qd.dequantize_per_tensor.default), None)  # rounded already for another reader
            if value is None:
                with graph.inserting_before(node):
                    again = graph.call_function(qd.quantize_per_tensor.default, (source, *grid))
                    value = graph.call_function(qd.dequantize_per_tensor.default, (again, *grid))
            node.replace_input_with(source, value)
            rounded += 1
        [user] = node.users
        if user.target != qd.quantize_per_tensor.default:  # a flatten before the rounding: rounded first (exact,
            with graph.inserting_after(node):             # the same grid), as the backend wants a pool's output
                again = graph.call_function(qd.quantize_per_tensor.default, (node, *grid))
            with graph.inserting_after(again):
                value = graph.call_function(qd.dequantize_per_tensor.default, (again, *grid))
            node.replace_all_uses_with(value, delete_user_cb=lambda n: n is not again)
            rounded += 1
    if rounded:
        graph.lint()
        graph_module.recompile()
    return rounded


def _grid_after(node):
    """The quantization (scale, zero point, range, dtype) the node's output is rounded to next, through ops that only
    move values (views, flattening, permutations); None if it is not rounded before something else reads it."""
    import torch

    aten, qd = torch.ops.aten, torch.ops.quantized_decomposed
    moves = (aten.view.default, aten.reshape.default, aten.flatten.using_ints, aten.permute.default,
             aten.squeeze.dims, aten.unsqueeze.default)
    while len(node.users) == 1:
        [node] = node.users
        if node.target == qd.quantize_per_tensor.default:
            return tuple(node.args[1:6])
        if node.target not in moves:
            return None
    return None


def arm_graph(graph_module) -> int:
    """The int8 program's graph as ExecuTorch's Arm backend takes it: global means as pools that read int8, ReLUs
    after adds split off, biases in int32."""
    return spatial_means_pooled(graph_module) + pool_inputs_rounded(graph_module) + relus_split(graph_module) + \
        biases_quantized(graph_module)


def dequantized_inside():
    """A partitioner check: a dequantize whose result is read by an op left unmarked (it stays on the CPU) stays out
    of the delegate. Taken in, the TOSA graph returned the int8 tensor where the program expects the float one (the
    ViT's attention: three float outputs of a delegate holding int8 values)."""
    from executorch.backends.arm.common.annotation_meta import ArmAnnotationInfo
    from torch.fx.passes.operator_support import OperatorSupportBase

    def marked(node) -> bool:
        return bool(node.meta.get("custom", {}).get(ArmAnnotationInfo.CUSTOM_META_KEY, {}).get("quantized"))

    class DequantizedInside(OperatorSupportBase):
        def is_node_supported(self, submodules, node) -> bool:
            if "dequantize_per" not in str(node.target):
                return True
            return all(marked(user) or "quantize_per" in str(user.target) for user in node.users)

    return [DequantizedInside()]
