"""ExecuTorch's own int4: what its LLM export's `8da4w` mode applies, torchao's Int8DynamicActivationIntxWeightConfig
(int4 blocks of 32, scales by HQQ, int8 activations per token at run time) on every linear layer and the output
layer (untied from the table), the embedding left float as its export leaves it without --embedding-quantize;
lowered as ours."""
from __future__ import annotations

import copy
from pathlib import Path

from ..contract import RuntimeQuantizer

BLOCK = 32


def write(model, float_file, calibration: list[list[int]], scratch: Path, path: Path, options: dict) -> None:
    import torch
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerGroup
    from torchao.quantization.quantize_.workflows import IntxChooseQParamsAlgorithm

    from .llm import lower, untie_output

    hf = copy.deepcopy(model.module)
    untie_output(hf)
    quantize_(hf, Int8DynamicActivationIntxWeightConfig(
        weight_dtype=torch.int4, weight_granularity=PerGroup(BLOCK),
        intx_choose_qparams_algorithm=IntxChooseQParamsAlgorithm.HQQ_SCALE_ONLY))
    lower(model, hf, path)


QUANTIZER = RuntimeQuantizer("ExecuTorch's 8da4w (torchao, int4 blocks of 32, HQQ scales; the embedding float)",
                             write)
