"""What is inside an artifact: size, ops census and I/O types."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..errors import UserError


def inspect_artifact(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"artifact not found: {path}")
    readers = {".onnx": _inspect_onnx, ".tflite": _inspect_tflite}
    if path.suffix not in readers:
        raise UserError(f"cannot inspect {path}: unknown kind '{path.suffix}'; supported: {', '.join(readers)}")
    return {"path": str(path), "size_bytes": path.stat().st_size, **readers[path.suffix](path)}


def _inspect_onnx(path: Path) -> dict:
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, OSError, ValueError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"{path} is not a valid ONNX model: {type(e).__name__}: {first}") from None
    dtype = onnx.helper.tensor_dtype_to_np_dtype

    def describe(values):
        return [{"name": v.name, "dtype": str(dtype(v.type.tensor_type.elem_type)),
                 "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]} for v in values]

    ops = Counter(n.op_type for n in model.graph.node)
    return {"format": "onnx", "opset": max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                                           default=None),
            "inputs": describe(model.graph.input), "outputs": describe(model.graph.output),
            "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))}


def _inspect_tflite(path: Path) -> dict:
    from ..backends.litert.session import inspector

    try:
        interpreter = inspector(path)
    except (ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise UserError(f"{path} is not a valid TFLite model: {first}") from None

    def describe(details):
        return [{"name": d["name"], "dtype": d["dtype"].__name__, "shape": [int(v) for v in d["shape"]],
                 "quantization": list(d["quantization"])} for d in details]

    ops = Counter(op["op_name"] for op in interpreter._get_ops_details())
    return {"format": "tflite", "inputs": describe(interpreter.get_input_details()),
            "outputs": describe(interpreter.get_output_details()),
            "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))}
