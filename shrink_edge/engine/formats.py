"""Artifact formats, the nodes of the converter graph. The model-level ones are here; each backend declares the
formats it writes (backends/<name>/__init__.py)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str             # file name ending, after the model's name
    quantized: bool = True  # held to the target's budget (the float exports are shown, not judged)
    activations: str = "int8"  # as the file computes them: int8 or int16 (static ranges), dynamic (int8 from each
    # run's own range), float16, float32; the search swaps a static int8 target for its runtime's dynamic one


MODEL_FORMATS = (
    Format("torch", ".safetensors", quantized=False, activations="float32"),
    Format("pt2", ".pt2", quantized=False, activations="float32"),
    Format("pt2-int8", ".int8.pt2"),
)
