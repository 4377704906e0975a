"""onnx -> onnx-fp16: the float model with float16 weights and compute (onnxruntime's float16 converter), float32
inputs and outputs so that an app feeds it as it fed the float file. What GPUs (CUDA, DirectML, WebGPU) and Apple's
Core ML provider run at half the memory; onnxruntime's CPU provider has few float16 kernels and widens the rest to
float32 at load (session.facts counts which ops keep float16)."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass


class OnnxConvertFp16(Pass):
    name = "onnx-convert-fp16"
    source = "onnx"
    target = "onnx-fp16"
    version = 1

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = convert_float_to_float16(onnx.load(src), keep_io_types=True)
        onnx.save(model, dst)
