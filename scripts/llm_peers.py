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

Each peer is a row with its error when its tool fails."""
from __future__ import annotations

import contextlib
import copy
import ctypes
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

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
        import llama_cpp

        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
        params.nthread = 2
        matrices = _imatrix(c) if imatrix else []  # held until the call returns: the entries point into it
        if matrices:
            entries = [llama_cpp.llama_model_imatrix_data(name.encode(), values.ctypes.data_as(
                ctypes.POINTER(ctypes.c_float)), values.size) for name, values in matrices]
            array = (llama_cpp.llama_model_imatrix_data * (len(entries) + 1))(*entries)  # NULL-name terminated
            params.imatrix = ctypes.cast(array, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        code = llama_cpp.llama_model_quantize(str(c.floats["llm-gguf"]).encode(), str(path).encode(),
                                              ctypes.byref(params))
        if code:
            raise RuntimeError(f"llama_model_quantize returned {code}")
    return make


GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def _imatrix(c: Context) -> list[tuple[str, np.ndarray]]:
    """Per GGUF matrix, the mean square of each input column over the calibration windows (llama-imatrix's
    in_sum2 / count). The tied output layer reads token_embd, whose entry is the final hidden state's."""
    from shrink_edge.llm.inputs import each_input

    hf = c.lm.module
    layers = {}
    for name, module in hf.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if name.endswith("lm_head"):
            key = "output.weight" if hf.get_output_embeddings().weight is not hf.get_input_embeddings().weight \
                else "token_embd.weight"
        else:
            layer = int(name.split(".layers.")[1].split(".")[0])
            key = f"blk.{layer}.{GGUF_NAMES[name.rsplit('.', 1)[1]]}.weight"
        layers[key] = module
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def accumulate(key: str, x: torch.Tensor) -> None:
        sums[key] = sums.get(key, 0) + x.double().pow(2).sum(0)
        counts[key] = counts.get(key, 0) + x.shape[0]

    each_input(hf, layers, c.calibration, accumulate)
    return [(k, np.ascontiguousarray((sums[k] / counts[k]).float().numpy())) for k in sums]


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


def _windows_as_onnx_inputs(c: Context) -> list[dict]:
    """The calibration windows as our ONNX decoder's inputs (an empty cache)."""
    import onnx

    model = onnx.load(c.floats["llm-onnx"], load_external_data=False)
    past = [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim]) for i in model.graph.input
            if i.name.startswith("past_key_values")]
    return [{"input_ids": np.array([w], np.int64), "attention_mask": np.ones((1, len(w)), np.int64),
             "position_ids": np.arange(len(w), dtype=np.int64)[None],
             **{n: np.zeros((1, s[1], 0, s[3]), np.float32) for n, s in past}} for w in c.calibration]


class _OrtWindows:
    """onnxruntime's GPTQ reads its calibration by iterating (get_next for the rest of its quantizers)."""

    def __init__(self, c: Context):
        self.items = _windows_as_onnx_inputs(c)
        self.rest = iter(self.items)

    def __iter__(self):
        return iter(self.items)

    def get_next(self):
        return next(self.rest, None)

    def rewind(self):
        self.rest = iter(self.items)


def _nncf(data_aware: bool, adjust: bool = False):
    """On the IR read from our float ONNX before its cache becomes state (NNCF's GPTQ and scale estimation stop on a
    stateful model: "ReadValue has no initial value"), made stateful afterwards as ours."""
    def make(c: Context, path: Path) -> None:
        import nncf
        import openvino as ov

        from shrink_edge.backends.openvino.llm import make_stateful

        model = ov.convert_model(str(c.floats["llm-onnx"]))
        if data_aware:
            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_SYM, group_size=GROUP, ratio=1.0,
                                          dataset=nncf.Dataset(_windows_as_onnx_inputs(c)), awq=True,
                                          scale_estimation=True, gptq=True)
        else:  # int4 as NNCF's documentation starts it: its own group (128), ratio and int8 backup
            fallback = nncf.GroupSizeFallbackMode.ADJUST if adjust else nncf.GroupSizeFallbackMode.ERROR
            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT4_SYM,
                                          advanced_parameters=nncf.AdvancedCompressionParameters(
                                              group_size_fallback_mode=fallback))
        make_stateful(model)
        ov.save_model(model, str(path), compress_to_fp16=False)
    return make


def _edge_quantizer(algorithm: str):
    def make(c: Context, path: Path) -> None:
        from ai_edge_quantizer import quantizer

        def config(bits, granularity):
            return {"weight_tensor_config": {"num_bits": bits, "symmetric": True, "granularity": granularity,
                                             "dtype": "INT"}, "compute_precision": "INTEGER",
                    "explicit_dequantize": False, "skip_checks": False}
        recipe = [{"regex": ".*", "operation": "FULLY_CONNECTED", "algorithm_key": algorithm,
                   "op_config": config(4, f"BLOCKWISE_{GROUP}")},
                  {"regex": ".*", "operation": "EMBEDDING_LOOKUP", "algorithm_key": "min_max_uniform_quantize",
                   "op_config": config(8, "CHANNELWISE")}]
        q = quantizer.Quantizer(str(c.floats["llm-litert"]), recipe)
        with contextlib.redirect_stdout(io.StringIO()):
            calibration = q.calibrate(_litert_windows(c)) if algorithm == "GPTQ" else None
            q.quantize(calibration).export_model(str(path), overwrite=True)
    return make


def _litert_windows(c: Context) -> dict:
    """The calibration windows as the prefill signature's inputs (an empty cache), and one token each for decode."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(c.floats["llm-litert"]))
    result = {}
    for signature in ("prefill", "decode"):
        runner = interpreter.get_signature_runner(signature)
        details = runner.get_input_details()
        length = details["tokens"]["shape"][1]
        samples = []
        for window in c.calibration:
            tokens = window[:length] if signature == "prefill" else window[:1]
            padded = np.zeros((1, length), np.int32)
            padded[0, :len(tokens)] = tokens
            feed = {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()}
            feed["tokens"] = padded
            feed["input_pos"] = np.arange(length, dtype=np.int32)[: details["input_pos"]["shape"][0]]
            samples.append(feed)
        result[signature] = samples
    return result


def _executorch_8da4w(c: Context, path: Path) -> None:
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerGroup
    from torchao.quantization.quantize_.workflows import IntxChooseQParamsAlgorithm

    from shrink_edge.backends.executorch.llm import lower

    hf = copy.deepcopy(c.lm.module)
    hf.lm_head = torch.nn.Linear(hf.lm_head.in_features, hf.lm_head.out_features, bias=False)
    hf.lm_head.weight = torch.nn.Parameter(c.lm.module.lm_head.weight.detach().clone())
    quantize_(hf, Int8DynamicActivationIntxWeightConfig(
        weight_dtype=torch.int4, weight_granularity=PerGroup(GROUP),
        intx_choose_qparams_algorithm=IntxChooseQParamsAlgorithm.HQQ_SCALE_ONLY))
    lower(c.lm, hf, path)


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
