"""The int8 scheme every backend shares: a PT2E quantizer built from a target spec's settings.

litert-torch's quantizer gives symmetric int8 weights (per channel by default) and asymmetric int8
activations per tensor, which TFLite, ONNX QDQ, OpenVINO and Core ML all take (`weight_bits` = 7 narrows the
weights to [-63, 63] for onnxruntime on x86 CPUs without VNNI, shrink_edge/targets/onnx.toml). How calibration picks each
activation's range is the scheme's `observer`:
- "histogram" (litert-torch's default): torchao's HistogramObserver, the range that minimises the L2 error of the
  int8 values over the calibration histogram (clips rare outliers when that costs less than the coarser step);
- "minmax": the observed minimum and maximum, nothing clipped;
- "percentile": the range holding 99.99% of the observed values (TensorRT's and onnxruntime's Percentile).
"""
from dataclasses import replace
from functools import cache

from ..config.targets import Quantization

PERCENTILE = 99.99


def make_quantizer(scheme: Quantization, qat: bool = False):
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config

    from .workarounds import FusingQuantizer

    config = get_symmetric_quantization_config(is_per_channel=scheme.weights_per_channel, is_qat=qat)
    if scheme.weight_bits != 8:  # symmetric, narrow: [-63, 63] for 7 bits, as litert-torch's [-127, 127] for 8
        top = 2 ** (scheme.weight_bits - 1) - 1
        config = replace(config, weight=replace(config.weight, quant_min=-top, quant_max=top))
    if not qat and scheme.observer != "histogram":
        activation = replace(config.input_activation, observer_or_fake_quant_ctr=_observer(scheme.observer))
        config = replace(config, input_activation=activation, output_activation=activation)
    return FusingQuantizer().set_global(config)


@cache
def _observer(name: str):
    from torchao.quantization.pt2e.observer import HistogramObserver, MinMaxObserver

    class PercentileObserver(HistogramObserver):
        """The histogram's central PERCENTILE % as the range (widened to include 0, as int8 ranges must)."""

        def calculate_qparams(self):
            import torch

            if self.histogram.sum() == 0:
                return super().calculate_qparams()
            edges = torch.linspace(float(self.min_val), float(self.max_val), self.bins + 1)
            cdf = self.histogram.cumsum(0) / self.histogram.sum()
            tail = (1 - PERCENTILE / 100) / 2
            low = edges[int(torch.searchsorted(cdf, torch.tensor(tail)))]
            high = edges[min(int(torch.searchsorted(cdf, torch.tensor(1 - tail))) + 1, self.bins)]
            return self._calculate_qparams(torch.clamp(low, max=0.0).reshape(1), torch.clamp(high, min=0.0).reshape(1))

    chosen = {"minmax": MinMaxObserver, "percentile": PercentileObserver}[name]
    return chosen.with_args(eps=2**-12)


def converted(prepared, keep_float=(), fold: bool = True, bias_inputs=None):
    """A calibrated (or QAT-trained) PT2E model converted to its int8 program: the layers named in `keep_float`
    left in float (quant_points.bypass), biases corrected for the weights' rounding on `bias_inputs` if given
    (bias_correction.py), weights folded to int8 constants unless `fold` is off (the debugger wants each weight's
    float -> quantize -> dequantize), biases on their int32 grid."""
    from torchao.quantization.pt2e.quantize_pt2e import _quant_node_constraint, constant_fold, convert_pt2e

    from . import quant_points
    from ..errors import UserError

    module = convert_pt2e(prepared, fold_quantize=False)
    if missing := quant_points.unknown(module, keep_float):
        raise UserError(f"keep_float names {', '.join(missing)}, not a quantized layer of the model; its layers: "
                        f"{', '.join(quant_points.layers(module))}")
    quant_points.bypass(module, keep_float)
    if bias_inputs is not None:  # before the weights are folded: each layer's float weight is still in the graph
        from .bias_correction import correct_biases

        correct_biases(module, bias_inputs)
    if fold:
        constant_fold(module, _quant_node_constraint)
    biases_on_int32_grid(module)
    return module


def prepared(module, scheme: Quantization):
    """The exported float program with observers for post-training quantization (PT2E's prepare_pt2e). Batch norms
    that no layer can absorb are split first (gates.batch_norm_decomposed): prepare_pt2e folds a batch norm into the
    convolution before it even when other ops read that convolution, which then read normalized values (a
    pre-activation ResNet: its stem's shortcut did, cosine 0.60 to float)."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    from .gates import batch_norm_decomposed

    batch_norm_decomposed(module)
    return prepare_pt2e(module, make_quantizer(scheme))


def quick_int8(module, inputs, scheme: Quantization, fold: bool = True):
    """`module` in int8, calibrated on one example of `inputs` (the model's input specs): enough to see what a
    converter makes of its int8 ops before any training, not for its accuracy."""
    import torch

    from ..model.signature import examples

    example = examples(inputs, 1)
    observed = prepared(torch.export.export(module, example).module(), scheme)
    with torch.no_grad():
        observed(*example)
    return converted(observed, fold=fold)


def unfold_weights(module) -> int:
    """Turn int8 constant -> dequantize into float constant -> quantize -> dequantize, with the same int8 values.
    Returns how many."""
    import torch

    qd = torch.ops.quantized_decomposed
    pairs = {qd.dequantize_per_channel.default: qd.quantize_per_channel.default,
             qd.dequantize_per_tensor.default: qd.quantize_per_tensor.default}
    graph, done = module.graph, 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in pairs or node.args[0].op != "get_attr":
            continue
        weight = getattr(module, node.args[0].target)
        if weight.dtype != torch.int8:
            continue
        values = [getattr(module, a.target) if isinstance(a, torch.fx.Node) else a for a in node.args]
        name = f"{node.args[0].target}_float"
        module.register_buffer(name, node.target(*values))
        with graph.inserting_before(node):
            quantized = graph.call_function(pairs[node.target], (graph.get_attr(name), *node.args[1:]))
        node.args = (quantized, *node.args[1:])
        done += 1
    graph.eliminate_dead_code()
    module.recompile()
    return done


def biases_on_int32_grid(module) -> int:
    """Round each convolution and linear bias of a converted int8 program onto the int32 grid that every int8
    runtime stores it on (step: input scale x weight scale, per output channel). PT2E keeps biases in float,
    so without this the torch reference adds a bias that no deployed artifact has: measured on the sample's QAT
    program, 46% of its outputs differed from LiteRT's by 1-3 LSB, and 0.5% by 1 LSB with the biases rounded.
    The artifacts do not change: their converters round these biases to the same integers. Returns how many."""
    import torch

    qd = torch.ops.quantized_decomposed
    dequantize = (qd.dequantize_per_tensor.default, qd.dequantize_per_channel.default)
    layers = (torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)

    def scale(node):
        value = node.args[1]
        return module.get_buffer(value.target).double() if isinstance(value, torch.fx.Node) else float(value)

    tensors = {**dict(module.named_buffers()), **dict(module.named_parameters())}
    rounded = 0
    for node in module.graph.nodes:
        if node.op != "call_function" or node.target not in layers or len(node.args) < 3 or node.args[2] is None:
            continue
        x, weight, bias = node.args[:3]
        if x.target not in dequantize or weight.target not in dequantize or bias.op != "get_attr":
            continue
        step = scale(x) * scale(weight)
        values = tensors[bias.target]
        with torch.no_grad():
            values.copy_(torch.round(values.double() / step) * step)
        rounded += 1
    return rounded
