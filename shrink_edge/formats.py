"""Artifact formats, the nodes of the converter graph: how a file of each is named and what runs it."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str                 # file name ending, after the model's name
    runtime: str | None = None  # the runtime that verifies it; None for intermediates
    quantized: bool = True      # held to the target's budget (the float exports are shown, not judged)


FORMATS = {f.name: f for f in (
    Format("torch", ".safetensors", quantized=False),
    Format("pt2", ".pt2", quantized=False),
    Format("pt2-int8", ".int8.pt2"),
    Format("onnx", ".onnx", "onnxruntime", quantized=False),
    Format("onnx-int8", ".int8.onnx", "onnxruntime"),
    Format("tflite-int8", ".int8.tflite", "litert"),
    Format("tflm", ".tflm", "tflm"),  # a folder: flatbuffer, C array, op resolver, measured arena
    Format("ethos-u", ".ethos-u", "ethos-u"),  # a folder: the Vela-compiled flatbuffer and Vela's estimates
    Format("openvino-int8", ".int8.openvino", "openvino"),  # a folder: model.xml + model.bin
    Format("coreml-int8", ".int8.mlpackage", "coreml"),     # W8A8
    Format("coreml-w8", ".w8.mlpackage", "coreml"),         # int8 weights, float activations
)}

