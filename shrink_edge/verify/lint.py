"""Before any training: will the model convert for each target? Compares the float program with what a target
spec declares: its shape and per-layer limits (batch, stride, kernel, channels, depth multiplier). Each problem
names the layer behind it. Which ops convert is for the real converters to say (conversion_check.py)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config.targets import TargetSpec

CONVOLUTIONS = ("conv1d", "conv2d")


def op_name(target) -> str:
    """aten.conv2d.default -> conv2d"""
    parts = str(target).split(".")
    return parts[1] if parts[0] == "aten" and len(parts) > 1 else str(target)


def _where(node) -> str:
    """The module an op comes from: 'features.0.0: Conv2d'."""
    stack = node.meta.get("nn_module_stack") or {}
    path, kind = next(reversed(stack.values())) if stack else ("", "the model's forward")
    return f"{path or 'forward'}: {str(kind).rsplit('.', 1)[-1]}"


@dataclass(frozen=True)
class Layer:
    where: str
    stride_height: int
    output_height: int
    kernel: tuple[int, int]     # dilated height, width
    channels_in: int
    channels_out: int
    groups: int


def layers(program) -> list[Layer]:
    """The convolutions and fully-connected layers, with what the limits concern."""
    found = []
    for node in program.graph.nodes:
        name = op_name(node.target) if node.op == "call_function" else ""
        if name not in (*CONVOLUTIONS, "linear"):
            continue
        weight = tuple(node.args[1].meta["val"].shape)
        if name == "linear":
            found.append(Layer(_where(node), 1, 1, (1, 1), weight[1], weight[0], 1))
            continue
        args = [*node.args, *[None] * 7][:7]
        stride, dilation, groups = args[3] or [1], args[5] or [1], args[6] or 1
        stride, dilation = ([v] if isinstance(v, int) else list(v) for v in (stride, dilation))
        kernel = [(k - 1) * dilation[min(i, len(dilation) - 1)] + 1 for i, k in enumerate(weight[2:])]
        if name == "conv1d":  # TFLite runs it as a conv2d one row high
            stride, kernel, height = [1], [1, *kernel], 1
        else:
            height = int(node.meta["val"].shape[2])
        found.append(Layer(_where(node), stride[0], height, (kernel[0], kernel[-1]), weight[1] * groups, weight[0],
                           groups))
    return found


def beyond_limits(program, spec: TargetSpec, input_shape: tuple[int, ...]) -> list[str]:
    """Each of the target's shape and per-layer limits that the model breaks, with the layer."""
    limits, problems = spec.limits, []
    if limits.batch is not None and input_shape[0] != limits.batch:
        problems.append(f"batch {input_shape[0]} (--input-shape) where it runs batch {limits.batch} only")
    for layer in layers(program):
        at = f"in {layer.where}"
        if limits.max_stride_height and layer.output_height > 1 and layer.stride_height > limits.max_stride_height:
            problems.append(f"stride {layer.stride_height} along the height {at} (at most {limits.max_stride_height})")
        if limits.max_kernel_height and layer.kernel[0] > limits.max_kernel_height:
            problems.append(f"kernel {layer.kernel[0]} high {at} (at most {limits.max_kernel_height})")
        if limits.max_kernel_area and layer.kernel[0] * layer.kernel[1] > limits.max_kernel_area:
            problems.append(f"kernel {layer.kernel[0]}x{layer.kernel[1]} {at} (at most {limits.max_kernel_area} "
                            "elements)")
        if limits.max_channels and max(layer.channels_in, layer.channels_out) > limits.max_channels:
            problems.append(f"{max(layer.channels_in, layer.channels_out)} channels {at} "
                            f"(at most {limits.max_channels})")
        depthwise = layer.groups == layer.channels_in > 1
        if not limits.depth_multiplier and depthwise and layer.channels_out > layer.channels_in:
            problems.append(f"depthwise convolution with depth multiplier {layer.channels_out // layer.channels_in} "
                            f"{at} (only 1, or a single input channel)")
    return problems


def dynamic_dims(module) -> list[int]:
    """The dimensions of a program module's first input (`ExportedProgram.module()`) that it declares dynamic."""
    import torch

    first = next(n for n in module.graph.nodes if n.op == "placeholder")
    return [i for i, size in enumerate(first.meta["val"].shape) if isinstance(size, torch.SymInt)]
