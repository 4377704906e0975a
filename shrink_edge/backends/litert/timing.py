"""Timing a .tflite in LiteRT, for the profiler's runner (standalone: numpy and the runtime only)."""
from pathlib import Path

RUNTIME = "litert"
PACKAGE = "ai-edge-litert"


def claims(path: Path) -> bool:
    return path.suffix == ".tflite"


def load(path: Path, threads: int, random_input):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        quantized = detail["quantization"][0] != 0
        interpreter.set_tensor(detail["index"], random_input(detail["shape"], detail["dtype"], quantized))
    return interpreter.invoke
