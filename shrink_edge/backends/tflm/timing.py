"""Timing a .tflm bundle in the TFLite Micro reference interpreter on the host, for the profiler's runner
(standalone: numpy and the runtime only). Its times are the reference kernels', not a microcontroller's."""
import json
from pathlib import Path

RUNTIME = "tflm"
PACKAGE = "tflite-micro"


def claims(path: Path) -> bool:
    return (path / "tflm.json").is_file()


def load(path: Path, threads: int, random_input):
    from tflite_micro import runtime

    info = json.loads((path / "tflm.json").read_text())
    interpreter = runtime.Interpreter.from_bytes((path / "model.tflite").read_bytes(), arena_size=info["arena_bytes"])
    for i, detail in enumerate(input_details(interpreter)):
        quantized = len(detail["quantization_parameters"]["scales"]) > 0
        interpreter.set_input(random_input(detail["shape"], detail["dtype"], quantized), i)
    return interpreter.invoke


def input_details(interpreter) -> list[dict]:
    """Every input's details: TFLM has no input count, so ask until it says there is no such input (which it also
    prints on fd 1 and 2: the runner silences loading)."""
    details = []
    while True:
        try:
            details.append(interpreter.get_input_details(len(details)))
        except (IndexError, RuntimeError, ValueError):
            return details
