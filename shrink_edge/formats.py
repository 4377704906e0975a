"""Artifact formats, the nodes of the converter graph: how a file of each is named and what runs it."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str               # file name ending, after the model's name
    runtime: str | None = None  # the runtime that verifies it; None for intermediates


FORMATS = {f.name: f for f in (
    Format("torch", ".safetensors"),
    Format("pt2", ".pt2"),
    Format("pt2-int8", ".int8.pt2"),
    Format("onnx", ".onnx", "onnxruntime"),
    Format("onnx-int8", ".int8.onnx", "onnxruntime"),
)}
