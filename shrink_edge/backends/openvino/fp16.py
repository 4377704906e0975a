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
    version = 4  # 4: static input shapes; the same bytes in any process: 3: generated names numbered by position; 2: the source's name fixed

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import shutil

        import openvino as ov

        from .ir import canonical_names
        from .shapes import static_inputs

        onnx_file = ctx.scratch / "float.onnx"  # the IR records its source's file name
        shutil.copyfile(src, onnx_file)
        model = ov.convert_model(str(onnx_file))
        static_inputs(model, [spec.shape for spec in ctx.model.inputs])  # NPUs need them too
        canonical_names(model)
        dst.mkdir()
        ov.save_model(model, str(dst / "model.xml"), compress_to_fp16=True)
