"""llama.cpp's own int4: Q4_K_M (its recommended 4-bit mix: 4-bit k-quants, a few tensors at 5 and 6 bits) by
llama_model_quantize on our float GGUF, with an importance matrix from the calibration text (each matrix's inputs'
mean square per column, what llama-imatrix computes, here from the float model in PyTorch)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from ..contract import RuntimeQuantizer
from .gguf_file import matrices

KIND = "Q4_K_M"


def importance(model, calibration: list[list[int]]) -> list[tuple[str, np.ndarray]]:
    """Per GGUF matrix, the mean square of each input column over the calibration windows (llama-imatrix's
    in_sum2 / count)."""
    from ...llm.inputs import each_input

    layers = matrices(model.module)
    sums, counts = {}, {}

    def accumulate(name: str, x) -> None:
        sums[name] = sums.get(name, 0) + x.double().pow(2).sum(0)
        counts[name] = counts.get(name, 0) + x.shape[0]

    each_input(model.module, layers, calibration, accumulate)
    return [(n, np.ascontiguousarray((sums[n] / counts[n]).float().numpy())) for n in sums]


def quantize(source: Path, path: Path, kind: str = KIND, matrices_importance=()) -> None:
    """llama.cpp's quantizer from `source` (a float GGUF) to `path`, as `kind` (Q4_0, Q4_K_M, ...)."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = 2
    if matrices_importance:  # the arrays stay referenced until the call returns: the entries point into them
        entries = [llama_cpp.llama_model_imatrix_data(name.encode(), values.ctypes.data_as(
            ctypes.POINTER(ctypes.c_float)), values.size) for name, values in matrices_importance]
        array = (llama_cpp.llama_model_imatrix_data * (len(entries) + 1))(*entries)  # NULL-name terminated
        params.imatrix = ctypes.cast(array, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    if code := llama_cpp.llama_model_quantize(str(source).encode(), str(path).encode(), ctypes.byref(params)):
        raise RuntimeError(f"llama_model_quantize returned {code}")


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    quantize(float_file(), path, KIND, importance(model, calibration))


QUANTIZER = RuntimeQuantizer(f"llama.cpp {KIND} with an importance matrix from the calibration text", write)
