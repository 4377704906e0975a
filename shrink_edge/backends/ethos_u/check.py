"""Will Vela put every operator on the NPU? Before any training, the float model goes through litert-torch (the
check LiteRT and TFLite Micro share); then a quick int8 version of it (observers calibrated on the example input:
where an operator runs depends on its kind and shapes, not on its ranges) is compiled by Vela for each spec's NPU,
and the operators Vela leaves on the CPU are refused in Vela's own words. No op list of ours decides."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from ...quant.scheme import make_quantizer, quick_int8
from ...model.signature import examples
from ..contract import ConversionFailed, once, refused
from ..shared.float_models import litert_refusals
from ..shared.tflite_io import named_io
from ..shared.vela import compile_with_vela, vela_config


def int8_tflite(module, model, scheme, path: Path) -> None:
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig

    example = examples(model.inputs, 1)
    names = [s.name for s in model.inputs]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        litert_torch.convert(named_io(quick_int8(module, model.inputs, scheme, fold=False), names, model.outputs), (),
                             sample_kwargs=dict(zip(names, example)),
                             quant_config=QuantConfig(pt2e_quantizer=make_quantizer(scheme, qat=True))).export(str(path))


def check(module, model, specs, folder: Path) -> list[str]:
    if problems := litert_refusals(module, model, specs, folder):
        return problems
    try:
        tflite = once(folder, "ethos-u-int8.tflite", lambda path: int8_tflite(module, model, specs[0].quantization,
                                                                             path))
    except ConversionFailed as e:
        return refused(specs, "litert-torch cannot convert the int8 model", e)
    found = []
    for spec in specs:
        estimates = compile_with_vela(tflite, folder / f"vela-{spec.name}", vela_config(spec.options))
        if estimates["cpu_ops"]:
            found.append(f"{spec.name}: Vela leaves {estimates['cpu_ops']} operator(s) on the CPU "
                         f"({'; '.join(_by_kind(estimates['cpu_fallback']))})")
    return found


def _by_kind(fallbacks: list[str]) -> list[str]:
    """'MEAN: Operation has tensor with unsupported DataType Float32 (t12)' once per operator kind, without the
    tensor: the kinds and Vela's reason for each."""
    reasons: dict[str, str] = {}
    for line in fallbacks:
        kind, _, reason = line.partition(": ")
        reasons.setdefault(kind, re.sub(r" \([^()]*\)$", "", reason))
    return [f"{kind}: {reason}" for kind, reason in reasons.items()]
