"""A decoder LM as a stateful OpenVINO IR: read from the ONNX backend's file (OpenVINO's ONNX reader turns each
MatMulNBits into u4/u8 weights with their scales, so both hold the same integers), the KV cache made internal state
(`past_key_values.*` in -> `present.*` out), as openvino-genai's LLMPipeline expects a stateful model, with the
folder LLMPipeline loads beside it (tokenizer IRs included) and its generation as a second opinion. Run with the
precision pinned to what the file claims: f32 inference, f32 KV cache, no dynamic activation quantization (the
CPU's defaults are bf16, u8 and int8 groups of 32, which change the numbers)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from ..contract import LanguageModels
from ..shared.onnx_llm import packed
from . import own_int4

EXACT = {"INFERENCE_PRECISION_HINT": "f32", "KV_CACHE_PRECISION": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"}


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    """`path` is the .xml; its .bin lands beside it."""
    import openvino as ov

    ir = ov.convert_model(str(packed(model, quantized, scratch)))
    _float16_scales(ir)
    make_stateful(ir)
    ov.save_model(ir, str(path), compress_to_fp16=False)
    _genai_folder(model.tokenizer, path)


def _float16_scales(ir) -> None:
    """The scales (and -hqq's float zero points) of the integer weights as float16 (a Constant, then a Convert to
    float32), as NNCF stores its own: the ONNX file holds them in float32 (MatMulNBits' scales take its activations'
    type), but the scheme's are float16-exact, so the numbers are the same and the file half a bit per weight
    smaller at g32 for each."""
    import openvino as ov
    from openvino import opset13 as ops

    for op in ir.get_ops():
        if op.get_type_name() not in ("Multiply", "Subtract"):
            continue
        for i in range(2):
            constant, codes = op.input_value(i).get_node(), op.input_value(1 - i).get_node()
            if constant.get_type_name() != "Constant" or constant.get_output_element_type(0) != ov.Type.f32 \
                    or not _from_integers(codes):
                continue
            values = constant.get_data()
            half = values.astype(np.float16)
            if np.array_equal(half.astype(np.float32), values):
                op.input(i).replace_source_output(ops.convert(ops.constant(half), ov.Type.f32).output(0))


def _from_integers(node) -> bool:
    """Whether `node` is the dequantization of an integer constant (Convert, Subtract of its zero point)."""
    while node.get_type_name() in ("Subtract", "Convert"):
        node = node.input_value(0).get_node()
    return node.get_type_name() == "Constant" and node.get_output_element_type(0).get_type_name() in \
        ("u4", "i4", "u8", "i8")


def make_stateful(ir) -> None:
    """The IR read from our ONNX file, its cache inputs and outputs made internal state, with `beam_idx`."""
    from openvino._offline_transformations import apply_make_stateful_transformation

    pairs = {i.get_any_name(): i.get_any_name().replace("past_key_values", "present")
             for i in ir.inputs if i.get_any_name().startswith("past_key_values")}
    _beam_input(ir)
    apply_make_stateful_transformation(ir, pairs)


def genai_folder(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".xml") + ".openvino-genai")


def _genai_folder(tokenizer, path: Path) -> None:
    """Beside the IR, the folder openvino-genai's LLMPipeline loads: the model (hard links to the same files, under
    the names it looks for), the tokenizer and detokenizer as OpenVINO models (openvino-tokenizers), and the
    Hugging Face tokenizer files."""
    import openvino as ov
    import openvino_tokenizers

    folder = genai_folder(path)
    folder.mkdir()
    for source, name in ((path, "openvino_model.xml"), (path.with_suffix(".bin"), "openvino_model.bin")):
        try:
            os.link(source, folder / name)
        except OSError:
            shutil.copyfile(source, folder / name)
    encoder, decoder = openvino_tokenizers.convert_tokenizer(tokenizer, with_detokenizer=True)
    ov.save_model(encoder, str(folder / "openvino_tokenizer.xml"))
    ov.save_model(decoder, str(folder / "openvino_detokenizer.xml"))
    tokenizer.save_pretrained(folder)


def second_opinion(path: Path, prompts: list[list[int]], continuations: list[list[int]]) -> dict:
    """openvino-genai's LLMPipeline on the genai folder, precision pinned as the session's: greedy from each prompt
    (tokens matching PyTorch's before the first difference), and its tokenizer against the model's own on each
    prompt's text (same ids, same text back)."""
    import importlib.util

    if importlib.util.find_spec("openvino_genai") is None:
        return {"genai": "openvino-genai not installed: pip install 'shrink-edge[llm]'"}
    import openvino as ov
    import openvino_genai
    from transformers import AutoTokenizer

    from ...llm.evaluate import matched

    folder = genai_folder(path)
    pipe = openvino_genai.LLMPipeline(str(folder), "CPU", ATTENTION_BACKEND="SDPA", **EXACT)
    hf = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    matches, same_tokens = [], 0
    for prompt, expected in zip(prompts, continuations):
        config = openvino_genai.GenerationConfig()
        config.max_new_tokens, config.do_sample, config.repetition_penalty = len(expected), False, 1.0
        got = pipe.generate(ov.Tensor(np.array([prompt], np.int64)), config).tokens[0]
        matches.append(matched([int(t) for t in got], expected))
        text = hf.decode(prompt)
        ids = pipe.get_tokenizer().encode(text, add_special_tokens=False).input_ids.data[0].tolist()
        same_tokens += ids == hf(text, add_special_tokens=False)["input_ids"] \
            and pipe.get_tokenizer().decode(prompt) == text
    return {"genai_greedy_match_tokens": round(float(np.mean(matches)), 1),
            "genai_tokenizer_agreement": round(same_tokens / len(prompts), 3)}


def _beam_input(model) -> None:
    """The `beam_idx` input LLMPipeline feeds. The model's batch is 1, so the only reorder of its cache is the
    identity and the input is read by nothing (gathering the cache by it, as optimum-intel's export does, stops
    OpenVINO 2026.4's CPU plugin: "ReadValue contains less parent edges than 0" when no attention op follows)."""
    import openvino as ov
    from openvino import opset13 as ops

    beam = ops.parameter(ov.PartialShape([model.input("input_ids").get_partial_shape()[0]]), ov.Type.i32,
                         name="beam_idx")
    beam.output(0).get_tensor().set_names({"beam_idx"})
    model.add_parameters([beam])


def facts(path: Path) -> dict:
    """Weights by element type, counted from the IR's constants that feed a MatMul (through their decompression)."""
    import openvino as ov

    model = ov.Core().read_model(str(path))
    counts = {"u4": 0, "i4": 0, "u8": 0, "i8": 0, "f32": 0, "f16": 0}
    for op in model.get_ops():
        if op.get_type_name() != "MatMul":
            continue
        source = op.input_value(1).get_node()
        while source.get_type_name() in ("Convert", "Subtract", "Multiply", "Reshape", "Transpose", "Slice") \
                and source.get_input_size():
            source = source.input_value(0).get_node()
        if source.get_type_name() == "Constant":
            kind = source.get_element_type().get_type_name()
            counts[kind] = counts.get(kind, 0) + 1
    return {"matmul_int4": counts["u4"] + counts["i4"], "matmul_int8": counts["u8"] + counts["i8"],
            "matmul_float": counts["f32"] + counts["f16"], "stateful": len(model.get_sinks()) > 0,
            "activations": "float32 (hints pinned: f32 inference and KV cache, no dynamic quantization)"}


class Session:
    """OpenVINO's own stateful loop: the cache lives in the infer request, reset_state() starts a sequence."""

    def __init__(self, path: Path, threads: int = 2):
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                           {**EXACT, "INFERENCE_NUM_THREADS": threads})
        self.request = self.compiled.create_infer_request()
        self.names = {i.get_any_name() for i in self.compiled.inputs}
        self.reset()

    def reset(self) -> None:
        self.request.reset_state()
        self.length = 0

    def _run(self, tokens: list[int]) -> np.ndarray:
        n = len(tokens)
        feeds = {"input_ids": np.array([tokens], np.int64),
                 "attention_mask": np.ones((1, self.length + n), np.int64),
                 "position_ids": np.arange(self.length, self.length + n, dtype=np.int64)[None]}
        if "beam_idx" in self.names:
            feeds["beam_idx"] = np.zeros(1, np.int32)
        result = self.request.infer({k: v for k, v in feeds.items() if k in self.names})
        self.length += n
        return next(iter(result.values()))[0].copy()

    def prefill(self, tokens: list[int]) -> np.ndarray:
        return self._run(tokens)

    def decode(self, token: int) -> np.ndarray:
        return self._run([token])[-1]


LLM = LanguageModels(suffix=".xml", write=write, session=Session, facts=facts, second_opinion=second_opinion,
                     requires=("transformers", "openvino_tokenizers"), runtime_quantizer=own_int4.QUANTIZER)
