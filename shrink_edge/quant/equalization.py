"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", 2019) on a float program before calibration.

Where a convolution (or linear layer) feeds the next one through nothing but a ReLU, scaling its output channel c
by 1/s and the next layer's input channel c by s leaves the float function unchanged (ReLU(x/s) = ReLU(x)/s for
s > 0). With s = sqrt(r1 / r2), r1 the first layer's weight range for that channel and r2 the second's, both ranges
become sqrt(r1 r2): one channel far larger than the others (depthwise MobileNets, an outlier channel) no longer
spends the activation tensor's single int8 scale. Batch norm is folded into the convolutions first, as PT2E's
prepare does anyway.
"""
from __future__ import annotations

ROUNDS = 4  # chains of layers converge within a few passes over the pairs
PASS_THROUGH = ("relu.default", "relu_.default")
LAYERS = ("conv1d.default", "conv2d.default", "linear.default")


def _op(node) -> str:
    return str(node.target).removeprefix("aten.") if node.op == "call_function" else ""


def pairs(module) -> list[tuple]:
    """(first, second) layer nodes where the first's output reaches only the second, through ReLUs at most, and
    both have weights as parameters of the program."""
    found = []
    for node in module.graph.nodes:
        if _op(node) not in LAYERS or node.args[1].op != "get_attr":
            continue
        current = node
        while len(current.users) == 1 and _op(next(iter(current.users))) in PASS_THROUGH:
            current = next(iter(current.users))
        if len(current.users) != 1:
            continue
        second = next(iter(current.users))
        if _op(second) in LAYERS and second.args[0] is current and second.args[1].op == "get_attr" \
                and (_groups(second) == 1 or _depthwise(module, second)):
            found.append((node, second))
    return found


def _groups(node) -> int:
    return int(node.args[6]) if _op(node).startswith("conv") and len(node.args) > 6 else 1


def _tensor(module, node):
    owner, _, name = node.target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def _depthwise(module, node) -> bool:
    weight = _tensor(module, node.args[1])
    return _groups(node) > 1 and _groups(node) == weight.shape[0] and weight.shape[1] == 1


def equalize(module) -> int:
    """Equalize every pair in place; returns how many pairs there were."""
    import torch
    from torchao.quantization.pt2e.utils import _fuse_conv_bn_

    _fuse_conv_bn_(module)
    found = pairs(module)
    with torch.no_grad():
        for _ in range(ROUNDS):
            for first, second in found:
                w1, w2 = _tensor(module, first.args[1]), _tensor(module, second.args[1])
                bias = _tensor(module, first.args[2]) if len(first.args) > 2 and first.args[2] is not None else None
                r1 = w1.abs().reshape(w1.shape[0], -1).amax(1)
                depthwise = _groups(second) > 1
                r2 = (w2.abs().reshape(w2.shape[0], -1).amax(1) if depthwise
                      else w2.abs().transpose(0, 1).reshape(w2.shape[1], -1).amax(1))
                if r1.shape != r2.shape:
                    continue
                scale = torch.where((r1 > 0) & (r2 > 0), torch.sqrt(r1 / r2.clamp_min(1e-12)), torch.ones_like(r1))
                shape1 = (-1,) + (1,) * (w1.dim() - 1)
                w1.div_(scale.reshape(shape1))
                if bias is not None:
                    bias.div_(scale)
                if depthwise:
                    w2.mul_(scale.reshape((-1,) + (1,) * (w2.dim() - 1)))
                else:
                    w2.mul_(scale.reshape((1, -1) + (1,) * (w2.dim() - 2)))
    module.recompile()
    return len(found)
