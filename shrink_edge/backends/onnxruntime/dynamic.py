"""onnx -> onnx-dynamic: int8 weights, activations quantized at run time from each input's own range (onnxruntime's
dynamic quantization: its MatMulInteger / DynamicQuantizeMatMul kernels), everything between them in float.

No calibration: each matmul's input gets the range of the values it sees now, so an activation whose range varies
from input to input (transformers' outlier features, recurrent states) loses no more than its own rounding. The
classic case: a 6-layer BERT sentence encoder keeps cosine 0.965 dynamic against 0.39 with static int8 ranges
(onnxruntime's own tools, #15). Static int8 (onnx-int8) stays the choice for convolutional nets and for any runtime
that needs every tensor int8 (NPUs, microcontrollers)."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from ...passes.base import Context, Pass

OPS = ("MatMul", "Gemm", "Attention", "LSTM", "Gather")  # Conv has only ConvInteger: slower than float


class OnnxQuantizeDynamic(Pass):
    name = "onnx-quantize-dynamic"
    source = "onnx"
    target = "onnx-dynamic"
    version = 2  # 2: constants folded first (LSTM weights quantized)

    def settings(self, ctx: Context) -> dict:
        q = ctx.quantization
        return {"per_channel": q.weights_per_channel, "weight_bits": q.weight_bits, "keep_float": q.keep_float,
                "ops": OPS}

    def run(self, src: Path, dst: Path, ctx: Context) -> None:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        q = ctx.quantization
        model = folded(onnx.load(src))
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger; the file is the same
        try:
            with tempfile.TemporaryDirectory() as folder:
                written, source = Path(folder) / "model.onnx", Path(folder) / "folded.onnx"
                onnx.save(model, source)
                quantize_dynamic(source, written, weight_type=QuantType.QInt8, per_channel=q.weights_per_channel,
                                 reduce_range=q.weight_bits == 7, op_types_to_quantize=list(OPS),
                                 nodes_to_exclude=kept_float(model, q.keep_float))
                quantized = onnx.load(written)
        finally:
            logging.disable(logging.NOTSET)
        del quantized.metadata_props[:]
        quantized.producer_name, quantized.producer_version = "shrink-edge", ""
        onnx.save(quantized, dst)


def folded(model):
    """The graph with its constant subgraphs computed: the exporter builds an LSTM's weights from the module's by
    slicing and concatenating them into ONNX's gate order, and onnxruntime's quantizer takes only initializers, so
    without this every LSTM stayed float (a 3-layer LSTM encoder: LSTM x3 float, 1.43 MB; folded:
    DynamicQuantizeLSTM x3, 0.39 MB)."""
    import onnxscript.optimizer

    return onnxscript.optimizer.optimize(model, input_size_limit=1 << 30, output_size_limit=1 << 30)


def kept_float(model, layers: tuple[str, ...]) -> list[str]:
    """The nodes of the layers a recipe keeps in float (or the fallback chose): the float export names each node
    after its module, `module.path/node`."""
    return [n.name for n in model.graph.node
            if any(n.name.startswith(f"{layer}/") or n.name.startswith(f"{layer}.") for layer in layers)]
