"""Run a .pte whose delegate is ExecuTorch's TOSA backend: the TOSA graph an Ethos-U build hands to Vela, run in Arm's
TOSA reference model (the bit-exact definition of TOSA's integer arithmetic), with the program's own quantization
of its inputs and dequantization of its outputs around it. The host's ExecuTorch runtime has no TOSA backend, so the
program's instructions are followed here: the quantize / dequantize kernels in numpy, each delegate call in the
reference model; a program with any other op on the CPU is not run."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import PredictionUnavailable

DTYPES = {0: np.uint8, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.int64, 6: np.float32, 11: np.bool_}  # c10


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sample by sample (batch 1), inputs by position, outputs output_0, ... as in every .pte."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(path.read_bytes()).program
    plan = program.execution_plan[0]
    steps = [_step(program, plan, instruction.instr_args) for chain in plan.chains for instruction in chain.instructions]
    arrays = list(inputs.values())
    rows = []
    for i in range(len(arrays[0])):
        values = {index: np.ascontiguousarray(a[i:i + 1]) for index, a in zip(plan.inputs, arrays)}
        for step in steps:
            step(values)
        rows.append([values[index] for index in plan.outputs])
    return {f"output_{j}": np.concatenate(parts) for j, parts in enumerate(zip(*rows))}


def _step(program, plan, args):
    """One instruction of the plan as a function of the values computed so far."""
    if hasattr(args, "delegate_index"):
        delegate = plan.delegates[args.delegate_index]
        if delegate.id != "TOSABackend":
            raise PredictionUnavailable(f"{delegate.id} is not a TOSA delegate")
        return _delegate(bytes(program.backend_delegate_data[delegate.processed.index].data), args.args)
    if hasattr(args, "op_index"):
        op = plan.operators[args.op_index]
        number = lambda i: getattr(plan.values[i].val, "double_val", None) or getattr(plan.values[i].val, "int_val")  # noqa: E731
        a = args.args
        if op.name == "quantized_decomposed::quantize_per_tensor":
            scale, zero, low, high = float(number(a[1])), number(a[2]), number(a[3]), number(a[4])
            dtype = DTYPES[plan.values[a[6]].val.scalar_type.value]

            def quantize(values):
                x = values[a[0]].astype(np.float32)
                values[a[6]] = np.clip(np.rint(x * np.float32(1.0 / scale)) + zero, low, high).astype(dtype)
            return quantize
        if op.name == "quantized_decomposed::dequantize_per_tensor":
            scale, zero = float(number(a[1])), number(a[2])

            def dequantize(values):
                values[a[-2]] = ((values[a[0]].astype(np.int32) - zero) * np.float32(scale)).astype(np.float32)
            return dequantize
        raise PredictionUnavailable(f"{op.name} runs on the CPU outside the delegate: only the TOSA graph and the "
                                    "quantization of its inputs and outputs are run here")
    raise PredictionUnavailable(f"the program has an instruction this check does not follow ({type(args).__name__})")


def _delegate(graph: bytes, args: list[int]):
    """A delegate call: its arguments are its inputs (values already computed) and then its outputs."""
    from .arm import tosa_tools

    tosa_tools()
    import tosa_reference_model

    from ...devices.runner import silenced

    def run(values):
        given = [i for i in args if i in values]
        with silenced():  # the reference model warns on every run that the graph's TOSA 1.0 is older than its 1.1
            outputs, status = tosa_reference_model.run(graph, [values[i] for i in given])
        if status != tosa_reference_model.GraphStatus.TOSA_VALID:
            raise RuntimeError(f"the TOSA reference model refused the graph ({status})")
        for index, array in zip([i for i in args if i not in given], outputs):
            values[index] = np.asarray(array)
    return run
