"""Static input shapes for OpenVINO IR: the CPU plugin infers the shapes of a model with a dynamic dimension (the
batch the ONNX exporter leaves open) on every call, 0.15-0.2 ms an inference (ViT-tiny 0.50 -> 0.32 ms,
MobileNetV3-Small 1.44 -> 1.25 ms, 1 thread, AVX-512 VNNI + AMX Xeon), as much as a small model's compute. So the IR
fixes them at the model's input shape (--input-shape); an app that batches reshapes it before compiling
(`model.reshape`), as OpenVINO's own performance guide advises for static workloads.
"""
from __future__ import annotations

from pathlib import Path


def static_inputs(model, shapes: list[tuple[int, ...]] | None = None) -> int:
    """Fix each input's dynamic dimensions in place: at `shapes` (one per input, in order), else at 1. Returns how
    many were dynamic."""
    fixed, wanted = 0, {}
    for i, port in enumerate(model.inputs):
        dims = list(port.get_partial_shape())
        fixed += sum(d.is_dynamic for d in dims)
        wanted[port.get_any_name()] = [d.get_length() if d.is_static else (shapes[i][k] if shapes else 1)
                                       for k, d in enumerate(dims)]
    if fixed:
        model.reshape(wanted)
    return fixed


def float_ir(onnx_file: Path, folder: Path) -> Path:
    """A float ONNX file as OpenVINO IR with static inputs (float32 weights): the float baseline the benchmarks time
    int8 IRs against, shaped as they are."""
    import openvino as ov

    model = ov.convert_model(str(onnx_file))
    static_inputs(model)
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(folder / "model.xml"), compress_to_fp16=False)
    return folder
