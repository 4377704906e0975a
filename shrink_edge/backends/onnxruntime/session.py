"""Run an ONNX model in onnxruntime on the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model.signature import by_name_else_position
from .timing import session  # one session recipe for profiling and verifying

BATCH = 250


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Batches of BATCH samples; one sample at a time for a dynamically quantized file, whose activation ranges are
    taken per run (a DynamicQuantizeLinear in the graph): as an app runs it, not from the loudest of 250 samples."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph  # read once: the session's options and the batch
    sess = session(path, graph=graph)
    batch = 1 if any(n.op_type == "DynamicQuantizeLinear" for n in graph.node) else BATCH
    names = [i.name for i in sess.get_inputs()]
    if (arrays := by_name_else_position(inputs, names)) is None:
        raise RuntimeError(f"{path.name} has inputs {', '.join(names)}; given {', '.join(inputs)}")
    feeds = dict(zip(names, arrays))
    n = len(next(iter(inputs.values())))
    chunks = [sess.run(None, {k: v[i:i + batch] for k, v in feeds.items()}) for i in range(0, n, batch)]
    return {o.name: np.concatenate(parts) for o, parts in zip(sess.get_outputs(), zip(*chunks))}


def fused_graph(path: Path):
    """The graph onnxruntime's CPU provider runs after its extended optimizations (the QDQ fusions every CPU gets,
    not the layout changes of the level above), as an onnx GraphProto."""
    import tempfile

    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(Path(tmp) / "fused.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return onnx.load(Path(tmp) / "fused.onnx").graph


def float_ops(path: Path) -> list[str]:
    """The ops onnxruntime computes in float once it has fused the QDQ graph: an op that reads a dequantized value,
    a float input or another such op's output, each as OP or OP xN; the quantize and dequantize nodes themselves are
    not counted, nor Shape and Size, which read a tensor's dimensions, not its values (so a Reshape of int8 values
    to a computed shape, and the int8 ops after it, are not float: a GRU's QGemm was counted so)."""
    import onnx

    graph = fused_graph(path)
    floating = {v.name for v in graph.input if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    found = []
    for node in graph.node:  # in topological order
        reads_float = node.op_type not in ("Shape", "Size") and any(name in floating for name in node.input)
        if node.op_type == "DequantizeLinear" or reads_float and node.op_type != "QuantizeLinear":
            floating.update(node.output)
        if reads_float and node.op_type not in ("QuantizeLinear", "DequantizeLinear", *DYNAMIC_OPS):
            found.append(node.op_type)
    return _counted(found)


DYNAMIC_OPS = ("DynamicQuantizeMatMul", "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeLSTM", "ConvInteger",
               "QAttention", "DynamicQuantizeLinear")
COMPUTE_OPS = ("MatMul", "FusedMatMul", "Gemm", "Conv", "FusedConv", "Attention", "LSTM", "GRU")


def facts(path: Path) -> dict:
    """For an int8 file: how it stores its weights, which picks onnxruntime's kernels (export.weight_option), and
    the ops that run in float. For a dynamic one (dynamic.py): its int8 kernels and the compute ops left in float.
    For a float16 one (fp16.py): its float16 weights and which ops this CPU computes in float16. Nothing for a float
    file. A file with int16 activations (a16w8.py) says so: onnxruntime computes its every op in float between them."""
    import onnx

    from ..shared.qdq import seven_bits, weight_arrays

    model = onnx.load(path)
    if halves := sum(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return {"weights": f"float16 x{halves}", **_float16_compute(path)}
    weights = weight_arrays(model)
    if weights or any(n.op_type == "QuantizeLinear" for n in model.graph.node):  # a QDQ file
        kinds = sorted({str(a.dtype) for a in weights})
        stored = ", ".join(kinds) + (" (7 bits)" if seven_bits(weights) else
                                     " (8 bits: exact on x86 with VNNI and arm64, saturates on x86 without VNNI)"
                                     if kinds == ["int8"] else "") if weights else "float: no layer's weights int8"
        wide = {"activations": "int16"} if _int16_activations(model) else {}
        dynamic = _counted([n.op_type for n in model.graph.node if n.op_type in DYNAMIC_OPS])  # recurrent.py
        return {**wide, "weights": stored, **({"dynamic_int8_ops": dynamic} if dynamic else {}),
                "float_ops": float_ops(path)}
    ops = [n.op_type for n in fused_graph(path).node]
    dynamic = _counted([op for op in ops if op in DYNAMIC_OPS and op != "DynamicQuantizeLinear"])
    if not dynamic:
        return {}
    return {"weights": "int8, activations quantized at run time", "int8_ops": dynamic,
            "float_ops": _counted([op for op in ops if op in COMPUTE_OPS])}


def _int16_activations(model) -> bool:
    """Whether a QuantizeLinear node quantizes to int16 (its zero point's type)."""
    import onnx

    int16 = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT16}
    return any(n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in int16 for n in model.graph.node)


def _float16_compute(path: Path) -> dict:
    """The compute ops onnxruntime's CPU provider runs in float16 and those it widened to float32 at load (it
    inserts casts around ops without a float16 kernel on this CPU)."""
    import onnx

    graph = fused_graph(path)
    half = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT16}
    half |= {v.name for v in graph.input if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
    found = {"float16_ops": [], "float32_ops": []}
    for node in graph.node:  # in topological order
        if node.op_type == "Cast":
            to = next(a.i for a in node.attribute if a.name == "to")
            if to == onnx.TensorProto.FLOAT16:
                half.update(node.output)
            continue
        reads_half = any(name in half for name in node.input)
        if reads_half:
            half.update(node.output)
        if node.op_type in COMPUTE_OPS:
            found["float16_ops" if reads_half else "float32_ops"].append(node.op_type)
    return {k: _counted(v) for k, v in found.items()}


def _counted(ops: list[str]) -> list[str]:
    found: dict[str, int] = {}
    for op in ops:
        found[op] = found.get(op, 0) + 1
    return [f"{name} x{n}" if n > 1 else name for name, n in found.items()]
