"""The peers of our int4 language-model files: each runtime's own quantizer, given the float model we export to that
runtime (the same graph, so only the rounding differs), its file then run by our loop for that runtime and scored on
the same held-out text as ours (scripts/bench_llm.py):

- llama.cpp's quantizer (llama_model_quantize, through llama-cpp-python) on our float GGUF: Q4_0 and Q4_K_M, each
  without and with an importance matrix (the mean square of each layer's inputs over the calibration text, what
  llama-imatrix computes, here from the float model in PyTorch);
- onnxruntime's MatMulNBits quantizer on our float ONNX, blocks of 32: RTN (symmetric), HQQ (asymmetric), k_quant
  and GPTQ (calibrated through onnxruntime), int8 activations in the products (accuracy_level 4, as
  onnxruntime-genai runs int4 on the CPU and as our llm-onnx does). onnxruntime-genai's model builder quantizes
  with this quantizer's RTN and k_quant, on its own graph;
- NNCF's compress_weights on our float OpenVINO IR: INT4_SYM with its defaults (blocks of 128, int8 backup for the
  embedding and the output layer) and int4 blocks of 32 with AWQ, scale estimation and GPTQ on the calibration
  text;
- ai-edge-quantizer on our float .tflite: blockwise int4 (32) min-max and its GPTQ, the table int8 per row;
- ExecuTorch's 8da4w (torchao's Int8DynamicActivationIntxWeightConfig, int4 blocks of 32, HQQ scales: what
  export_llm's 8da4w applies, its embedding left float as export_llm leaves it without --embedding-quantize) on the
  model, lowered as ours.

Four of them are the `runtime` scheme of the product on their runtime (each backend's own_int4.py, called from here):
llama.cpp Q4_K_M + imatrix, NNCF int4 g32 + AWQ + SE + GPTQ, ai-edge-quantizer GPTQ and ExecuTorch 8da4w.
onnxruntime's `runtime` is its RTN with the output layer and the table quantized too, not the RTN row here (which,
as the quantizer does by default, leaves the tied output layer and the table float). Each peer is a row with its
error when its tool fails."""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

GROUP = 32


@dataclass
class Context:
    lm: object                      # shrink_edge.llm.model.LanguageModel, float
    floats: dict[str, Path]         # target -> our float file for it
    calibration: list[list[int]]    # token windows


@dataclass
class Peer:
    target: str                     # whose runtime loop runs the file
    name: str
    make: Callable[[Context, Path], None]
    suffix: str


def _llama_quantize(kind: str, imatrix: bool):
    def make(c: Context, path: Path) -> None:
        from shrink_edge.backends.llamacpp import own_int4

        own_int4.quantize(c.floats["llm-gguf"], path, kind, own_int4.importance(c.lm, c.calibration) if imatrix else ())
    return make


def _ort(algorithm: str):
    def make(c: Context, path: Path) -> None:
        import onnx
        from onnxruntime.quantization import matmul_nbits_quantizer as q

        configs = {
            "rtn": lambda: q.DefaultWeightOnlyQuantConfig(block_size=GROUP, is_symmetric=True, accuracy_level=4),
            "hqq": lambda: q.HQQWeightOnlyQuantConfig(block_size=GROUP),
            "k_quant": lambda: q.KQuantWeightOnlyQuantConfig(),
            "gptq": lambda: q.GPTQWeightOnlyQuantConfig(calibration_data_reader=_OrtWindows(c), actorder=True),
        }
        model = onnx.load(c.floats["llm-onnx"])
        quantizer = q.MatMulNBitsQuantizer(model, bits=4, block_size=GROUP, is_symmetric=True, accuracy_level=4,
                                           algo_config=configs[algorithm]())
        with contextlib.redirect_stdout(io.StringIO()):
            quantizer.process()
        for node in quantizer.model.model.graph.node:  # HQQ/k_quant/GPTQ take no accuracy level of their own
            if node.op_type == "MatMulNBits":
                for attribute in node.attribute:
                    if attribute.name == "accuracy_level":
                        attribute.i = 4
        onnx.save(quantizer.model.model, path)
    return make


class _OrtWindows:
    """onnxruntime's GPTQ reads its calibration by iterating (get_next for the rest of its quantizers)."""

    def __init__(self, c: Context):
        from shrink_edge.backends.shared.onnx_llm import window_inputs

        self.items = window_inputs(c.floats["llm-onnx"], c.calibration)
        self.rest = iter(self.items)

    def __iter__(self):
        return iter(self.items)

    def get_next(self):
        return next(self.rest, None)

    def rewind(self):
        self.rest = iter(self.items)


def _nncf(data_aware: bool, adjust: bool = False):
    """On the IR read from our float ONNX (shrink_edge/backends/openvino/own_int4.py says why not stateful first),
    made stateful afterwards as ours. Data-aware: the product's own `runtime` scheme for OpenVINO."""
    def make(c: Context, path: Path) -> None:
        import nncf
        import openvino as ov

        from shrink_edge.backends.openvino.llm import make_stateful
        from shrink_edge.backends.openvino.own_int4 import compressed

        if data_aware:
            model = compressed(c.floats["llm-onnx"], c.calibration)
        else:  # int4 as NNCF's documentation starts it: its own group (128), ratio and int8 backup
            fallback = nncf.GroupSizeFallbackMode.ADJUST if adjust else nncf.GroupSizeFallbackMode.ERROR
            model = nncf.compress_weights(ov.convert_model(str(c.floats["llm-onnx"])),
                                          mode=nncf.CompressWeightsMode.INT4_SYM,
                                          advanced_parameters=nncf.AdvancedCompressionParameters(
                                              group_size_fallback_mode=fallback))
        make_stateful(model)
        ov.save_model(model, str(path), compress_to_fp16=False)
    return make


def _edge_quantizer(algorithm: str):
    def make(c: Context, path: Path) -> None:
        from ai_edge_quantizer import quantizer

        from shrink_edge.backends.litert.own_int4 import recipe, window_inputs

        q = quantizer.Quantizer(str(c.floats["llm-litert"]), recipe(algorithm))
        with contextlib.redirect_stdout(io.StringIO()):
            calibration = q.calibrate(window_inputs(c.floats["llm-litert"], c.calibration)) \
                if algorithm == "GPTQ" else None
            q.quantize(calibration).export_model(str(path), overwrite=True)
    return make


def _executorch_8da4w(c: Context, path: Path) -> None:
    from shrink_edge.backends.executorch import own_int4

    own_int4.write(c.lm, None, c.calibration, None, path, {})


PEERS = [
    Peer("llm-gguf", "llama.cpp Q4_0", _llama_quantize("Q4_0", False), ".gguf"),
    Peer("llm-gguf", "llama.cpp Q4_0 + imatrix", _llama_quantize("Q4_0", True), ".gguf"),
    Peer("llm-gguf", "llama.cpp Q4_K_M", _llama_quantize("Q4_K_M", False), ".gguf"),
    Peer("llm-gguf", "llama.cpp Q4_K_M + imatrix", _llama_quantize("Q4_K_M", True), ".gguf"),
    Peer("llm-onnx", "onnxruntime MatMulNBits RTN g32", _ort("rtn"), ".onnx"),
    Peer("llm-onnx", "onnxruntime MatMulNBits HQQ g32", _ort("hqq"), ".onnx"),
    Peer("llm-onnx", "onnxruntime MatMulNBits k_quant g32", _ort("k_quant"), ".onnx"),
    Peer("llm-onnx", "onnxruntime MatMulNBits GPTQ g32", _ort("gptq"), ".onnx"),
    Peer("llm-openvino", "NNCF INT4_SYM defaults (g128, int8 backup)", _nncf(False), ".xml"),
    Peer("llm-openvino", "NNCF INT4_SYM defaults, group size fallback ADJUST", _nncf(False, adjust=True), ".xml"),
    Peer("llm-openvino", "NNCF int4 g32 + AWQ + SE + GPTQ", _nncf(True), ".xml"),
    Peer("llm-litert", "ai-edge-quantizer int4 g32 min-max", _edge_quantizer("min_max_uniform_quantize"), ".tflite"),
    Peer("llm-litert", "ai-edge-quantizer int4 g32 GPTQ", _edge_quantizer("GPTQ"), ".tflite"),
    Peer("llm-executorch", "ExecuTorch 8da4w g32 (HQQ scales)", _executorch_8da4w, ".pte"),
]
