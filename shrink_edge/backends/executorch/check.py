"""Will ExecuTorch take the float model? Before any training, each delegate a spec asks for lowers it: XNNPACK the
float model at batch 1; Core ML and the Arm backend (Ethos-U, TOSA) a quick int8 version of it (observers calibrated
on the example input, as the Ethos-U check does: which ops a delegate takes depends on their kinds and shapes, not
on their ranges). An op the Arm partitioner leaves on the CPU is refused by name, as Vela's fallbacks are."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ...quant.scheme import quick_int8
from ..contract import refused

ARM = ("executorch-ethos-u-int8", "executorch-tosa-int8")


def check(module, model, specs, folder: Path) -> list[str]:
    from .arm import arm_graph, arm_lowered
    from .lower import coreml, for_coreml, lowered, quiet, tosa

    found = []
    for spec in specs:
        try:
            with quiet():
                if set(spec.artifacts) & {"executorch", "executorch-int8"}:
                    lowered(module, model.inputs).to_executorch()
                if "executorch-coreml-int8" in spec.artifacts:
                    lowered(quick_int8(module, model.inputs, spec.quantization), model.inputs, coreml(),
                            for_coreml).to_executorch()
                if set(spec.artifacts) & set(ARM):
                    edge = lowered(quick_int8(module, model.inputs, spec.quantization), model.inputs, tosa(spec.options),
                                   arm_graph, arm_lowered)
                    if left := _left_on_cpu(edge):
                        found.append(f"{spec.name}: the Arm partitioner leaves {sum(left.values())} op(s) on the "
                                     f"CPU ({', '.join(f'{op} x{n}' for op, n in sorted(left.items()))})")
        except Exception as e:
            found += refused([spec], "executorch cannot lower the model", e)
    return found


def _left_on_cpu(edge) -> Counter:
    """The ops outside every delegate, but for quantizing and dequantizing tensors."""
    import operator

    import torch

    kept = Counter()
    for node in edge.exported_program().graph.nodes:
        if node.op != "call_function" or node.target in (torch.ops.higher_order.executorch_call_delegate,
                                                         operator.getitem):
            continue
        name = str(getattr(node.target, "__name__", node.target)).removesuffix(".default")
        if not name.startswith("quantized_decomposed."):
            kept[name] += 1
    return kept
