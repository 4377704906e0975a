"""llama.cpp's own loop (through llama-cpp-python): eval() prefills or decodes into its KV cache, scores holds the
logits of every position. The KV cache is pinned to float32 (llama.cpp's default is float16), so a float GGUF is the
path alone; ggml's quantized matrix products still quantize activations to 8 bits in blocks of 32 at run time, as
every llama.cpp user gets."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

F32 = 0  # ggml_type GGML_TYPE_F32


class Session:
    def __init__(self, path: Path, threads: int = 2):
        from llama_cpp import Llama

        with _without_amx_buffers():
            self.llm = Llama(str(path), n_ctx=0, n_batch=512, n_ubatch=512, n_threads=threads,  # n_ctx 0: the model's
                             n_threads_batch=threads, logits_all=True, verbose=False, type_k=F32, type_v=F32,
                             seed=0)

    def reset(self) -> None:
        self.llm.reset()

    def prefill(self, tokens: list[int]) -> np.ndarray:
        start = self.llm.n_tokens
        self.llm.eval(tokens)
        return np.array(self.llm.scores[start:start + len(tokens)], np.float32)

    def decode(self, token: int) -> np.ndarray:
        self.llm.eval([token])
        return np.array(self.llm.scores[self.llm.n_tokens - 1], np.float32)


@contextmanager
def _without_amx_buffers():
    """On CPUs with AMX, load without ggml's extra buffer types: its AMX matrix product (ggml 0.25.3, in
    llama-cpp-python 0.3.36) segfaults in the first prefill of the test models (gdb: ggml_backend_amx_mul_mat, on an
    AMX Xeon, Dec 2026), and llama-cpp-python's Llama takes no model parameter for it, so its defaults are swapped
    while it loads. Elsewhere the defaults stay (the repacked Q4_0 kernels included)."""
    import llama_cpp.llama_cpp as native

    from ...profiling.devices.runner import cpu_flags

    defaults = native.llama_model_default_params
    if "amx_int8" not in cpu_flags():
        yield
        return

    def without_extra_buffers():
        params = defaults()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers
    try:
        yield
    finally:
        native.llama_model_default_params = defaults


def facts(path: Path) -> dict:
    """The GGUF's matrices by ggml type, read back from the file."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    counts: dict[str, int] = {}
    stored = elements = 0
    for t in reader.tensors:
        if len(t.shape) == 2 or (len(t.shape) > 1 and min(t.shape) > 1):
            counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
            stored, elements = stored + int(t.n_bytes), elements + int(t.n_elements)
    int4 = sum(v for k, v in counts.items() if k.startswith(("Q4", "IQ4")))
    int8 = sum(v for k, v in counts.items() if k.startswith("Q8"))
    floats = sum(v for k, v in counts.items() if k in ("F32", "F16", "BF16"))
    return {"matmul_int4": int4, "matmul_int8": int8, "matmul_float": floats,
            "matmul_other": sum(counts.values()) - int4 - int8 - floats,  # Q5_0, Q6_K, ...: see ggml_types
            "ggml_types": counts, "bits_per_weight": round(8 * stored / max(elements, 1), 3),  # as the file stores them
            "activations": "float32, KV cache float32; quantized matrix products take 8-bit activations "
                           "(ggml's Q8 blocks of 32) at run time"}
