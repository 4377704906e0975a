"""Bias correction (Nagel et al., "Data-Free Quantization", 2019; NNCF's and AIMET's empirical variant) on an int8
program before its weights are folded.

Rounding a layer's weights to int8 shifts the mean of each output channel: E[(W - W_q) x] is not zero when the
inputs x have a non-zero mean (post-ReLU activations always do), and the shift adds up through the layers. Measured
on the calibration data with the inputs the int8 program itself gives each layer, that shift is added to the
layer's bias, so each channel's mean output is the float weights' again. Depthwise layers, with 9 weights per
channel, shift the most. Layers without a bias are left as they are.
"""
from __future__ import annotations

import numpy as np

LAYERS = ("aten.conv1d.default", "aten.conv2d.default", "aten.linear.default")
BATCH = 32


def _float_weight(node):
    """The get_attr node of a layer's float weight behind its dequantize(quantize(w)), or None."""
    dq = node.args[1]
    q = dq.args[0] if dq.op == "call_function" and "dequantize" in str(dq.target) else None
    w = q.args[0] if q is not None and q.op == "call_function" and "quantize" in str(q.target) else None
    return w if w is not None and w.op == "get_attr" else None


def _attr(module, target: str):
    owner, _, name = target.rpartition(".")
    return getattr(module.get_submodule(owner) if owner else module, name)


def correct_biases(module, inputs: list[np.ndarray]) -> int:
    """Add each quantized layer's mean output shift to its bias, in place; returns how many layers were corrected."""
    import torch

    layers = {n: (_float_weight(n), n.args[2]) for n in module.graph.nodes
              if n.op == "call_function" and str(n.target) in LAYERS and len(n.args) > 2 and n.args[2] is not None
              and n.args[2].op == "get_attr" and _float_weight(n) is not None}
    sums = {n: 0.0 for n in layers}
    counts = {n: 0 for n in layers}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            out = super().run_node(node)
            if node in layers:
                args, kwargs = self.fetch_args_kwargs_from_env(node)
                weight = self.fetch_attr(layers[node][0].target)
                error = node.target(args[0], weight - args[1], None, *args[3:], **kwargs)  # (W - W_q) x, no bias
                channel = error.dim() - 1 if "linear" in str(node.target) else 1
                sums[node] = sums[node] + error.double().sum([d for d in range(error.dim()) if d != channel])
                counts[node] += error.numel() // error.shape[channel]
            return out

    recorder = Recorder(module)
    with torch.no_grad():
        for i in range(0, len(inputs[0]), BATCH):
            recorder.run(*(torch.from_numpy(x[i:i + BATCH]) for x in inputs))
        for node, (_, bias) in layers.items():
            if counts[node]:
                parameter = _attr(module, bias.target)
                parameter.add_((sums[node] / counts[node]).to(parameter.dtype))
    return sum(1 for n in layers if counts[n])
