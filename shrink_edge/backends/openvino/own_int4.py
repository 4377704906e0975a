"""OpenVINO's own int4: NNCF's compress_weights, symmetric int4 in blocks of 32 with AWQ, scale estimation and GPTQ
on the calibration text (its data-aware path; the embedding and the output layer int8, as NNCF keeps them), on the IR
of our float ONNX before its cache becomes state (NNCF's GPTQ and scale estimation stop on a stateful model:
"ReadValue has no initial value"), made stateful afterwards as ours."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from ..contract import RuntimeQuantizer

BLOCK = 32


def compressed(source: Path, calibration: list[list[int]]):
    """The OpenVINO model of the float ONNX decoder at `source`, its weights compressed by NNCF (not yet stateful);
    its progress bars and tables kept off standard output (where --json writes)."""
    import nncf
    import openvino as ov

    from ..shared.onnx_llm import window_inputs

    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return nncf.compress_weights(ov.convert_model(str(source)), mode=nncf.CompressWeightsMode.INT4_SYM,
                                         group_size=BLOCK, ratio=1.0, awq=True, scale_estimation=True, gptq=True,
                                         dataset=nncf.Dataset(window_inputs(source, calibration)))
    finally:
        logger.setLevel(level)


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    import openvino as ov

    from ...llm.weights import Scheme, quantize_model
    from ..shared.onnx_llm import packed
    from .llm import _genai_folder, make_stateful

    ir = compressed(packed(model, quantize_model(model.module, Scheme.parse("float")), scratch), calibration)
    make_stateful(ir)
    ov.save_model(ir, str(path), compress_to_fp16=False)
    _genai_folder(model.tokenizer, path)


QUANTIZER = RuntimeQuantizer("NNCF compress_weights: int4 blocks of 32, AWQ, scale estimation and GPTQ", write,
                             requires=("nncf",))
