"""Every int8 activation of an ONNX QDQ model, read in onnxruntime: each QuantizeLinear's output becomes a graph
output too (as onnxruntime's qdq_loss_debug does). A tensor that is a graph output cannot be fused away, so
onnxruntime runs those layers unfused: the values are the QDQ graph's, not necessarily those of its fused kernels."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..contract import Intermediate
from .session import predict


def intermediates(path: Path, inputs: dict[str, np.ndarray]) -> list[Intermediate]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    constants.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node
                      if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"})
    wanted = []
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] in constants or len(node.input) < 3:
            continue
        scale, zero = constants.get(node.input[1]), constants.get(node.input[2])
        if scale is None or zero is None or scale.size != 1:
            continue
        wanted.append((node.output[0], float(scale), int(zero), zero.dtype))
    outputs = {o.name for o in model.graph.output}
    for name, _, _, dtype in wanted:
        if name not in outputs:
            model.graph.output.append(onnx.helper.make_tensor_value_info(
                name, onnx.helper.np_dtype_to_tensor_dtype(dtype), None))
    with tempfile.TemporaryDirectory() as folder:
        exposed = Path(folder) / path.name
        onnx.save(model, exposed)
        values = predict(exposed, inputs)
    return [Intermediate(name, scale, (values[name].astype(np.float32) - zero) * scale)
            for name, scale, zero, _ in wanted]
