"""Every int8 activation of a .tflite, read in LiteRT with `experimental_preserve_all_tensors` (intermediate buffers
kept instead of reused). That needs the built-in kernels without the XNNPACK delegate, which verification runs:
their int8 arithmetic is specified alike, but a difference of one step between the two is possible."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..contract import Intermediate
from .session import run


def intermediates(path: Path, inputs: dict[str, np.ndarray]) -> list[Intermediate]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    wanted = {str(i): details[i] for op in interpreter._get_ops_details() for i in op["outputs"]
              if details[i]["dtype"] in (np.int8, np.uint8) and details[i]["quantization"][0] != 0}
    values = run(interpreter, inputs, wanted, path)
    return [Intermediate(d["name"], float(d["quantization"][0]), values[i]) for i, d in wanted.items()]
