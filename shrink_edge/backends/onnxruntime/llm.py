"""Decoder LMs in onnxruntime: the file from shared/onnx_llm.py, run by onnxruntime's own loop with the cache fed
back as inputs. The spec's `activations` says how its MatMulNBits compute: "int8" (accuracy_level 4, activations
quantized per block at run time, as onnxruntime-genai runs on CPU: on this machine 1.6x float's decode speed for
int4) or "float" (accuracy_level 0, weight-only and exact: on onnxruntime 1.32 about 3x slower than float's)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..contract import LanguageModels
from ..shared.onnx_llm import packed
from . import llm_session, own_int4


LEVELS = {"float": 0, "int8": 4}


def write(model, quantized, scratch: Path, path: Path, options: dict) -> None:
    import onnx

    accuracy = level(options)
    source = packed(model, quantized, scratch)
    if not quantized.scheme.bits:
        shutil.copyfile(source, path)
    else:
        graph = onnx.load(source)
        for node in graph.graph.node:
            for attribute in node.attribute:
                if node.op_type == "MatMulNBits" and attribute.name == "accuracy_level":
                    attribute.i = accuracy
        onnx.save(graph, path)
    _genai_folder(model, path)


def level(options: dict) -> int:
    """The MatMulNBits accuracy level of the spec's `activations`."""
    activations = options.get("activations", "int8")
    if activations not in LEVELS:
        raise ValueError(f"[options] activations = {activations!r}: give \"int8\" or \"float\"")
    return LEVELS[activations]


def genai_folder(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".onnx") + ".genai")


def _genai_folder(model, path: Path) -> None:
    """Beside the file, the folder onnxruntime-genai loads (`og.Model(folder)`): the model (a hard link to the same
    file, as genai wants it inside the folder), genai_config.json naming its inputs and outputs, the tokenizer."""
    folder = genai_folder(path)
    folder.mkdir()
    try:
        os.link(path, folder / "model.onnx")
    except OSError:
        shutil.copyfile(path, folder / "model.onnx")
    config = model.config
    heads = config.num_attention_heads
    tokenizer = model.tokenizer
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    decoder = {"session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
               "filename": "model.onnx", "head_size": getattr(config, "head_dim", None) or config.hidden_size // heads,
               "hidden_size": config.hidden_size, "num_attention_heads": heads,
               "num_hidden_layers": config.num_hidden_layers,
               "num_key_value_heads": getattr(config, "num_key_value_heads", None) or heads,
               "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                          "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
               "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                           "present_value_names": "present.%d.value"}}
    genai = {"model": {"bos_token_id": tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos,
                       "eos_token_id": eos, "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                       else eos, "context_length": model.context, "vocab_size": config.vocab_size,
                       "type": config.model_type if config.model_type in ("llama", "mistral", "qwen2", "qwen3")
                       else "llama", "decoder": decoder},
             "search": {"do_sample": False, "num_beams": 1, "max_length": model.context,
                        "past_present_share_buffer": False}}
    (folder / "genai_config.json").write_text(json.dumps(genai, indent=2) + "\n")
    tokenizer.save_pretrained(folder)


def second_opinion(path: Path, prompts: list[list[int]], continuations: list[list[int]]) -> dict:
    """onnxruntime-genai's own generation loop on the genai folder: greedy from each prompt, tokens matching
    PyTorch's continuation before the first difference."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime_genai") is None:
        return {"genai": "onnxruntime-genai not installed: pip install 'shrink-edge[llm]'"}
    import onnxruntime_genai as og

    from ...llm.evaluate import matched

    model = og.Model(str(genai_folder(path)))
    matches = []
    for prompt, expected in zip(prompts, continuations):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(prompt) + len(expected), do_sample=False)
        generator = og.Generator(model, params)
        generator.append_tokens(prompt)
        got = []
        while not generator.is_done() and len(got) < len(expected):
            generator.generate_next_token()
            got.append(int(generator.get_next_tokens()[0]))
        matches.append(matched(got, expected))
    return {"genai_greedy_match_tokens": round(float(np.mean(matches)), 1)}


def facts(path: Path) -> dict:
    """What the file holds, counted from its graph: MatMulNBits per bit width, and each MatMul on a constant weight
    (through a Transpose or DequantizeLinear: a float output layer tied to the embedding) by that weight's type."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    inits = {i.name: i.data_type for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    counts = {"int4": 0, "int8": 0, "float": 0}
    zero_points = sum(n.op_type == "MatMulNBits" and len(n.input) > 3 and bool(n.input[3]) for n in graph.node)
    levels = {a.i for n in graph.node if n.op_type == "MatMulNBits" for a in n.attribute if a.name == "accuracy_level"}
    for node in graph.node:
        if node.op_type == "MatMulNBits":
            counts[f"int{next(a.i for a in node.attribute if a.name == 'bits')}"] += 1
        elif node.op_type == "MatMul":
            source = node.input[1]
            while source in producers and producers[source].op_type in ("Transpose", "DequantizeLinear"):
                source = producers[source].input[0]
            if source in inits:
                counts["int8" if inits[source] in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) else "float"] += 1
    activations = ("int8 per block at run time in MatMulNBits (accuracy_level 4)" if levels == {4} else
                   "float32 (accuracy_level 0: weight-only)" if levels <= {0} else f"accuracy_level {sorted(levels)}")
    return {"matmul_int4": counts["int4"], "matmul_int8": counts["int8"], "matmul_float": counts["float"],
            "matmul_zero_points": zero_points, "activations": activations}


def unsupported_scheme(scheme) -> str | None:
    if scheme.hqq:
        return ("onnxruntime 1.32 runs MatMulNBits with float zero points on a reference path, about 29x slower than "
                "a float MatMul (1.49 ms against 0.05 ms for 576x1536, one token, 1 thread; 0.07 ms with uint4 zero "
                f"points): give {scheme.name.replace('-hqq', '-asym')} (integer zero points)")
    return None


LLM = LanguageModels(suffix=".onnx", write=write, session=llm_session.Session, facts=facts,
                     unsupported_scheme=unsupported_scheme,
                     second_opinion=second_opinion, device_session=llm_session,
                     runtime_quantizer=own_int4.QUANTIZER)
