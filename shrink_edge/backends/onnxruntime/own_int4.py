"""onnxruntime's own int4: its MatMulNBits quantizer's round-to-nearest, symmetric blocks of 32 with int8
activations (accuracy_level 4, or 0 where the spec says `activations = "float"`), what onnxruntime-genai's model
builder writes for the CPU by default, on our float ONNX: every linear layer, the output layer (a tied one given its
own transposed copy of the table, which the quantizer needs as a constant) and the embedding table
(GatherBlockQuantized). Not its HQQ: its float zero points run on onnxruntime's slow reference path
(unsupported_scheme in llm.py); not its k-quant, which fails on some shapes in onnxruntime 1.32 ("cannot reshape
array of size 160 into shape (64,newaxis)" packing a 64-wide layer's zero points)."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from ..contract import RuntimeQuantizer

BLOCK = 32


def _untied_output(model) -> None:
    """MatMul(hidden, Transpose(table)) -> MatMul(hidden, a constant holding the transposed table)."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        transpose = producers.get(node.input[1]) if node.op_type == "MatMul" else None
        if transpose is None or transpose.op_type != "Transpose" or transpose.input[0] not in inits:
            continue
        table = numpy_helper.to_array(inits[transpose.input[0]])
        name = f"{transpose.input[0]}.transposed"
        graph.initializer.append(numpy_helper.from_array(table.T.copy(), name))
        node.input[1] = name


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    import onnx
    from onnxruntime.quantization import QuantFormat, matmul_nbits_quantizer as q

    from ..shared.onnx_graph import drop_unused
    from .llm import _genai_folder, level

    proto = onnx.load(float_file())
    _untied_output(proto)
    config = q.DefaultWeightOnlyQuantConfig(block_size=BLOCK, is_symmetric=True, accuracy_level=level(options),
                                            quant_format=QuantFormat.QOperator,
                                            op_types_to_quantize=("MatMul", "Gather"),
                                            quant_axes=(("MatMul", 0), ("Gather", 1)))
    quantizer = q.MatMulNBitsQuantizer(proto, algo_config=config)
    with contextlib.redirect_stdout(io.StringIO()):
        quantizer.process()
    drop_unused(quantizer.model.model.graph)  # the float table, now read by nothing
    onnx.save(quantizer.model.model, path)
    _genai_folder(model, path)


QUANTIZER = RuntimeQuantizer("onnxruntime's MatMulNBits quantizer, round-to-nearest, blocks of 32", write)
