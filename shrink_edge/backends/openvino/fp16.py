"""onnx -> openvino-fp16: the float model as OpenVINO IR with float16 weights (`compress_to_fp16`), what its GPU and
NPU plugins run in float16. The CPU plugin widens the weights to float32 at load (or runs bfloat16/float16 where
the CPU has those instructions and the app asks for them): half the file, float accuracy."""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass


class OpenVinoExportFp16(Pass):
    name = "openvino-export-fp16"
    source = "onnx"
    target = "openvino-fp16"
    version = 1

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import openvino as ov

        dst.mkdir()
        ov.save_model(ov.convert_model(str(src)), str(dst / "model.xml"), compress_to_fp16=True)
