"""onnx-int8 -> openvino-int8: OpenVINO IR (.xml + .bin) from the QDQ ONNX model.

OpenVINO cannot convert the torchao-quantized torch graph directly, but reads the QDQ ONNX and runs its
convolutions and matmuls in int8. Weights are saved as they are (no fp16 compression); the IR is compacted
(openvino_ir.py) with the same outputs.
"""
from __future__ import annotations

from pathlib import Path

from .base import Context, Pass


class OpenVinoExport(Pass):
    name = "openvino-export"
    source = "onnx-int8"
    target = "openvino-int8"
    version = 2  # scalar FakeQuantize ranges, repeated FakeQuantizes removed

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import openvino as ov

        from ..openvino_ir import compact

        dst.mkdir()
        model = ov.convert_model(str(src))
        compact(model)
        ov.save_model(model, str(dst / "model.xml"), compress_to_fp16=False)
