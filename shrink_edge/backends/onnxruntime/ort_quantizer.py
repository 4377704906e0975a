"""onnxruntime's own quantizers (quantize_dynamic, quantize_static) on our float ONNX: the graph's constant
subgraphs folded first, their log quieted, the file written without what differs from run to run."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path


def quantized_with(quantize, src: Path, dst: Path) -> None:
    """`quantize(source, written, model)` run on the folded float model at `src` (the quantizers take paths), its
    file saved at `dst`."""
    import onnx

    model = folded(onnx.load(src))
    logging.disable(logging.WARNING)  # their advice to pre-process, the opset they raise, on the root logger
    try:
        with tempfile.TemporaryDirectory() as folder:
            source, written = Path(folder) / "folded.onnx", Path(folder) / "model.onnx"
            onnx.save(model, source)
            quantize(source, written, model)
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
