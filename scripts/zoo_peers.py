"""The int8 quantizer each runtime's users reach for, on a zoo model, from the same float file and calibration samples
as ours (bench_coverage.py --peers): onnxruntime's `quantize_static` (QDQ, u8 activations, s8 per-channel weights,
after quant_pre_process), ai-edge-quantizer's `static_wi8_ai8` recipe on the float .tflite, NNCF's `quantize` on the
float OpenVINO IR, and ExecuTorch's own flow (XNNPACKQuantizer PTQ, XnnpackPartitioner). A peer that fails is a row
with its error, in its own words."""
from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path

import numpy as np
import torch

RUNTIMES = ("onnxruntime", "litert", "openvino", "executorch")


def build(module: torch.nn.Module, calibration: dict[str, np.ndarray], floats: dict[str, Path],
          folder: Path) -> dict[str, dict]:
    """Per runtime of `floats`: {"tool", "path", "seconds"} or {"tool", "error"}. `floats` holds the float files
    users would start from (runtime -> path; ExecuTorch's flow starts from the module itself)."""
    makers = {"onnxruntime": ("onnxruntime quantize_static", quantize_static, "peer.quantize_static.onnx"),
              "litert": ("ai-edge-quantizer static_wi8_ai8", _litert, "peer.ai_edge_quantizer.tflite"),
              "openvino": ("NNCF quantize", _openvino, "peer.nncf.openvino"),
              "executorch": ("ExecuTorch XNNPACKQuantizer", xnnpack_quantizer, "peer.xnnpack_quantizer.pte")}
    found = {}
    for runtime, (tool, make, file) in makers.items():
        if runtime not in floats:
            continue
        source = module if runtime == "executorch" else floats[runtime]
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                path = make(source, calibration, folder / file)
        except Exception as e:  # noqa: BLE001 - a peer that fails on this model is a row of the table
            found[runtime] = {"tool": tool, "error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                              [:300]}
            continue
        found[runtime] = {"tool": tool, "path": path, "seconds": round(time.perf_counter() - start, 1)}
    return found


def _samples(calibration: dict[str, np.ndarray], names: list[str], dtypes: dict | None = None) -> list[dict]:
    """One {input name: a batch of 1} per calibration sample, in the file's input order (by position)."""
    arrays = list(calibration.values())
    return [{name: (a[i:i + 1] if dtypes is None else a[i:i + 1].astype(dtypes[name])) for name, a in zip(names, arrays)}
            for i in range(len(arrays[0]))]


def quantize_static(float_onnx: Path, calibration: dict, dst: Path) -> Path:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    names = [i.name for i in ort.InferenceSession(str(float_onnx)).get_inputs()]
    samples = _samples(calibration, names)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(samples)

        def get_next(self):
            return next(self.batches, None)

    prepared = dst.with_suffix(".pre.onnx")
    with contextlib.chdir(dst.parent):  # its shape inference leaves temporary files in the working folder when it fails
        quant_pre_process(str(float_onnx), str(prepared))
    quantize_static(str(prepared), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return dst


def _litert(float_tflite: Path, calibration: dict, dst: Path) -> Path:
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    interpreter = Interpreter(model_path=str(float_tflite))
    key, signature = next(iter(interpreter.get_signature_list().items()))
    dtypes = {k: d["dtype"] for k, d in interpreter.get_signature_runner(key).get_input_details().items()}
    quantized = quantizer.Quantizer(str(float_tflite))
    quantized.load_quantization_recipe(recipe.static_wi8_ai8())
    samples = _samples(calibration, signature["inputs"], dtypes)  # int64 ids: the file's int32
    quantized.quantize(quantized.calibrate({key: samples})).export_model(str(dst), overwrite=True)
    return dst


def _openvino(float_ir: Path, calibration: dict, dst: Path) -> Path:
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "0")
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(float_ir / "model.xml"))
    samples = _samples(calibration, [i.get_any_name() for i in model.inputs])
    quantized = nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples))
    dst.mkdir(exist_ok=True)
    ov.save_model(quantized, str(dst / "model.xml"), compress_to_fp16=False)
    return dst


def xnnpack_quantizer(module: torch.nn.Module, calibration: dict, dst: Path) -> Path:
    """ExecuTorch's documented flow on the float model: XNNPACKQuantizer PTQ (symmetric, per channel), then
    to_edge_transform_and_lower with XnnpackPartitioner."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                         get_symmetric_quantization_config)
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    arrays = list(calibration.values())
    example = tuple(torch.from_numpy(a[:1]) for a in arrays)
    prepared = prepare_pt2e(torch.export.export(module.eval(), example).module(),
                            XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    with torch.no_grad():
        for i in range(len(arrays[0])):
            prepared(*(torch.from_numpy(a[i:i + 1]) for a in arrays))
    program = torch.export.export(convert_pt2e(prepared), example)
    dst.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return dst
