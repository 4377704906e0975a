"""Fixes for bugs in the tools we drive, each in one marked place with a test that notices when it goes stale."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, reduce


@contextmanager
def litert_conv_bn_qat_patterns() -> Iterator[None]:
    """litert-torch 0.10 (and its 0.11 nightly) hands torch.export a bare function when annotating conv+BN for
    QAT ("Expected `mod` to be an instance of `torch.nn.Module`, got <class 'function'>"). Wrap such pattern
    functions in torchao's WrapperModule while the quantizer annotates. tests/test_workarounds.py fails when
    the bug is fixed upstream (drop this) or the fix stops working."""
    import litert_torch.quantize.pt2e_quantizer_utils as utils
    from torch import nn
    from torchao.quantization.pt2e import WrapperModule

    original = utils._get_aten_graph_module_for_pattern

    def wrapped(pattern, example_inputs, is_cuda=False, **kwargs):
        if not isinstance(pattern, nn.Module):
            pattern = WrapperModule(pattern)
        return original(pattern, example_inputs, is_cuda, **kwargs)

    utils._get_aten_graph_module_for_pattern = wrapped
    try:
        yield
    finally:
        utils._get_aten_graph_module_for_pattern = original


@contextmanager
def litert_gru_without_hidden_state() -> Iterator[None]:
    """litert-torch 0.10 annotates a GRU by its inputs (x, h0) and fails with "IndexError: list index out of range"
    when forward() calls gru(x) with no initial hidden state, as most keyword spotters do. While the quantizer
    annotates, such a GRU gets its input and outputs annotated as litert-torch does for the others; the rest goes to
    litert-torch's own annotator. tests/test_workarounds.py fails when the bug is fixed upstream."""
    import itertools

    import litert_torch.quantize.pt2e_quantizer_utils as utils
    import torch
    from torch.fx.passes.utils.source_matcher_utils import get_source_partitions
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    original = utils.OP_TO_ANNOTATOR["gru_io_only"]

    def annotate(gm, config, filter_fn=None):
        partitions = list(itertools.chain(*get_source_partitions(gm.graph, [torch.nn.GRU], filter_fn).values()))
        alone = [p for p in partitions if len(p.input_nodes) < 2 and not utils._is_annotated(p.input_nodes + p.output_nodes)]
        for p in alone:
            user = next(iter(p.input_nodes[0].users))
            user.meta["quantization_annotation"] = QuantizationAnnotation(
                input_qspec_map={p.input_nodes[0]: utils.get_input_act_qspec(config)}, _annotated=True)
            for output in p.output_nodes:
                output.meta["quantization_annotation"] = QuantizationAnnotation(
                    output_qspec=utils.get_output_act_qspec(config), _annotated=True)
            utils._mark_nodes_as_annotated(list(p.nodes))
        skipped = {id(n) for p in alone for n in p.nodes}
        rest = original(gm, config, lambda n: id(n) not in skipped and (filter_fn is None or filter_fn(n)))
        return [p.nodes for p in alone] + (rest or [])

    utils.OP_TO_ANNOTATOR["gru_io_only"] = annotate
    try:
        yield
    finally:
        utils.OP_TO_ANNOTATOR["gru_io_only"] = original


@cache
def _fusing_quantizer():
    import operator

    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer
    from litert_torch.quantize.pt2e_quantizer_utils import get_input_act_qspec, get_output_act_qspec
    from torch.fx import Node
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

    from .data_movement import annotate_data_movement
    from .gates import annotate_gates, gates_decomposed, prelu_decomposed
    from .transposed import annotate_transposed_convolutions

    adds = (torch.ops.aten.add.Tensor, torch.ops.aten.add_.Tensor)
    relus = (torch.ops.aten.relu.default, torch.ops.aten.relu_.default)

    clamps = (torch.ops.aten.hardtanh.default, torch.ops.aten.hardtanh_.default, torch.ops.aten.clamp.default)
    layers = (torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default, torch.ops.aten.convolution.default,
              torch.ops.aten.linear.default, torch.ops.aten.batch_norm.default,
              torch.ops.aten._native_batch_norm_legit.default, *adds)

    def _is_float(node) -> bool:  # not the int64 batch-norm counters, not symbolic sizes
        value = node.meta.get("val") if isinstance(node, Node) else None
        return isinstance(value, torch.Tensor) and value.is_floating_point()

    def _fuse_clamps(model, act_out) -> None:
        """litert-torch fuses conv+ReLU (one quantize, after the ReLU) but not conv+ReLU6: the conv's output is
        quantized, and ReLU6 shares its range, negatives included (MobileNetV2: often under 100 of the 256 steps
        left for [0, 6]). Runtimes fuse ReLU6 into the layer, so that rounding only loses accuracy, and onnxruntime
        runs each such ReLU6 in float between a dequantize and a quantize (MobileNetV2: 35 of them, 7.5 of its
        20 ms). Move the layer's output quantization behind the clamp, as for ReLU."""
        for node in model.graph.nodes:
            if node.op != "call_function" or node.target not in clamps or not isinstance(node.args[0], Node):
                continue
            layer = node.args[0]
            if layer.target == operator.getitem:  # batch norm's (output, mean, var) in QAT graphs
                layer = layer.args[0]
            annotation = layer.meta.get("quantization_annotation")
            own = node.meta.get("quantization_annotation")  # litert-torch's: shares the layer's output qparams
            if (layer.target not in layers or annotation is None or annotation.output_qspec is None
                    or len(node.args[0].users) != 1
                    or own is not None and not isinstance(own.output_qspec, SharedQuantizationSpec)):
                continue
            annotation.output_qspec = None
            node.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=act_out, _annotated=True)

    def _integer_arithmetic_unannotated(model) -> None:
        """litert-torch annotates every `mul` partition, integer ones included: the dynamic batch's shape
        arithmetic (a `reshape(-1, 49, c)` of Swin-style windows exports as `16 * batch`: PT2E then observed a
        SymInt, "'int' object has no attribute 'numel'") and index arithmetic on int64 tensors (transformers'
        Swin numbers its shifted-window regions `row * 3 + column`, T5 buckets relative positions: "histogram_cpu"
        not implemented for 'Long'). Either failed the model on every target. Only float tensors are quantized (a
        recurrent layer's tuple output is: litert-torch's LSTM and GRU annotations stay)."""
        def integer(node) -> bool:
            if not isinstance(node, Node):
                return False
            value = node.meta.get("val")
            if node.op == "get_attr":  # a constant (T5's relative position buckets): no recorded value
                value = reduce(getattr, node.target.split("."), model)
            return isinstance(value, (int, float, torch.SymInt, torch.SymFloat)) \
                or isinstance(value, torch.Tensor) and not value.dtype.is_floating_point

        for node in model.graph.nodes:
            annotation = node.meta.get("quantization_annotation")
            if annotation is None:
                continue
            if integer(node):
                del node.meta["quantization_annotation"]
                continue
            for arg in [a for a in annotation.input_qspec_map if integer(a)]:
                del annotation.input_qspec_map[arg]

    class FusingQuantizer(PT2EQuantizer):
        """litert-torch 0.10's quantizer with three fixes (tests/test_workarounds.py checks each):
        - it leaves the edge between two chained residual adds (add -> add) unquantized, so the .tflite falls
          back to DEQUANTIZE -> float ADD -> QUANTIZE there. Annotate every float add (inputs, and the output
          where litert-torch left it bare, unless a relu follows: TFLite fuses add+relu);
        - conv/linear + ReLU6 gets one quantization, after the clamp (_fuse_clamps);
        - integer arithmetic (the dynamic batch's sizes, index tensors) is left unquantized
          (_integer_arithmetic_unannotated).
        And transposed convolutions are quantized (transposed.py), gates (SiLU, squeeze-excite) in and out
        (gates.py), concatenations and resizes on shared grids (data_movement.py)."""

        def transform_for_annotation(self, model):
            model = super().transform_for_annotation(model)
            gates_decomposed(model)
            if not self.global_config.is_qat:  # QAT trains PReLU's slopes (batch norms: scheme.prepared)
                prelu_decomposed(model)
            return model

        def annotate(self, model):
            with litert_gru_without_hidden_state():
                model = super().annotate(model)
            _integer_arithmetic_unannotated(model)
            act_in, act_out = get_input_act_qspec(self.global_config), get_output_act_qspec(self.global_config)
            for node in model.graph.nodes:
                if node.op != "call_function" or node.target not in adds or not _is_float(node):
                    continue
                # add -> relu runs fused (TFLite ADD with ReLU): quantize after the relu only (after a ReLU6:
                # _fuse_clamps)
                fused = all(user.target in relus for user in node.users)
                annotation = node.meta.setdefault("quantization_annotation", QuantizationAnnotation(
                    output_qspec=None if fused else act_out, _annotated=True))
                for arg in node.args[:2]:
                    if _is_float(arg):
                        annotation.input_qspec_map.setdefault(arg, act_in)
            _fuse_clamps(model, act_out)
            annotate_transposed_convolutions(model, self.global_config, act_in, act_out)
            annotate_gates(model, act_in, act_out, _is_float)
            annotate_data_movement(model, act_in, _is_float)
            return model

    return FusingQuantizer


def __getattr__(name):  # the quantizer class is built on first use: litert-torch is slow to import
    if name == "FusingQuantizer":
        return _fusing_quantizer()
    raise AttributeError(name)
