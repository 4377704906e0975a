"""Run a .pte whose delegate is ExecuTorch's TOSA backend: the TOSA graph an Ethos-U build hands to Vela, run in Arm's
TOSA reference model (the bit-exact definition of TOSA's integer arithmetic). The host's ExecuTorch runtime has no
TOSA backend, so the program's instructions are followed here: each delegate call in the reference model, and each
op left on the CPU (quantizing the inputs, dequantizing the outputs, whatever the partitioner did not take) with
PyTorch's kernel of the same op (the .out variant the program names), not ExecuTorch's portable one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import PredictionUnavailable

DTYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 6: "float32", 11: "bool"}  # c10::ScalarType


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sample by sample (batch 1), inputs by position, outputs output_0, ... as in every .pte."""
    import torch
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(path.read_bytes()).program
    plan = program.execution_plan[0]
    steps = [_step(program, plan, instruction.instr_args) for chain in plan.chains for instruction in chain.instructions]
    arrays = list(inputs.values())
    rows = []
    for i in range(len(arrays[0])):
        values = Values(plan)
        for index, a in zip(plan.inputs, arrays):
            values[index] = torch.from_numpy(np.ascontiguousarray(a[i:i + 1]))
        for step in steps:
            step(values)
        rows.append([values[index].numpy() for index in plan.outputs])
    return {f"output_{j}": np.concatenate(parts) for j, parts in enumerate(zip(*rows))}


class Values(dict):
    """The tensors computed so far, by value index, and the memory they were planned in: ExecuTorch turns a view
    into a second value planned on the same bytes, with no instruction that computes it, so such a value is read
    from the tensor last written there."""

    def __init__(self, plan):
        super().__init__()
        self.plan, self.memory = plan, {}

    def __setitem__(self, index, tensor):
        super().__setitem__(index, tensor)
        if (where := _planned(self.plan.values[index].val)) is not None:
            self.memory[where] = tensor

    def __missing__(self, index):
        value = self.plan.values[index].val
        stored = self.memory.get(_planned(value))
        if stored is None or stored.numel() != int(np.prod(value.sizes)):
            raise KeyError(index)
        return stored.contiguous().reshape(value.sizes)



def _planned(value):
    """Where a planned tensor lives (memory id and offsets), or None."""
    info = getattr(value, "allocation_info", None)
    return None if info is None else (info.memory_id, info.memory_offset_low, info.memory_offset_high)


def _step(program, plan, args):
    """One instruction of the plan as a function of the values computed so far."""
    if hasattr(args, "delegate_index"):
        delegate = plan.delegates[args.delegate_index]
        if delegate.id != "TOSABackend":
            raise PredictionUnavailable(f"{delegate.id} is not a TOSA delegate")
        return _delegate(bytes(program.backend_delegate_data[delegate.processed.index].data), plan, args.args)
    if hasattr(args, "op_index"):
        return _kernel(program, plan, plan.operators[args.op_index], args.args)
    raise PredictionUnavailable(f"the program has an instruction this check does not follow ({type(args).__name__})")


def _kernel(program, plan, operator, args: list[int]):
    """An op on the CPU: PyTorch's kernel of its .out variant, its arguments read from the plan (the program lists
    one value per argument of the op's schema, then its results), its out tensors recorded as they are written."""
    import torch
    import executorch.kernels.quantized  # noqa: F401  (registers quantized_decomposed's .out variants with torch)

    namespace, name = operator.name.split("::")
    try:
        op = getattr(getattr(getattr(torch.ops, namespace), name), operator.overload or "default")
    except AttributeError:
        raise PredictionUnavailable(f"{operator.name}.{operator.overload} runs on the CPU outside the delegate and "
                                    "has no PyTorch kernel to run it with here") from None
    arguments = op._schema.arguments

    def run(values):
        positional, keyword, written = [], {}, {}
        for spec, index in zip(arguments, args):
            if spec.alias_info is not None and spec.alias_info.is_write:  # out tensors: the op writes into them
                out = plan.values[index].val
                items = out.items if type(out).__name__ == "TensorList" else [index]
                written.update({i: _empty(plan.values[i].val) for i in items})
                value = [written[i] for i in items] if type(out).__name__ == "TensorList" else written[index]
            else:
                value = _value(program, plan, values, index, spec)
            (keyword.__setitem__(spec.name, value) if spec.kwarg_only else positional.append(value))
        try:
            op(*positional, **keyword)
        except RuntimeError as e:
            raise RuntimeError(f"{operator.name}.{operator.overload} on the CPU: {e}") from None
        for index, tensor in written.items():
            values[index] = tensor
    return run


def _value(program, plan, values, index: int, spec=None):
    """A value of the plan as PyTorch takes it: a tensor computed before or a constant, a number, a list, None."""
    import torch

    kind = type(value := plan.values[index].val).__name__
    if kind == "Tensor" and not value.data_buffer_idx:
        try:
            return values[index]
        except KeyError:
            raise PredictionUnavailable(f"value {index} is read before the program computes it") from None
    if kind == "Tensor":
        data = program.constant_buffer[value.data_buffer_idx].storage
        dtype = getattr(torch, DTYPES[value.scalar_type.value])
        size = int(np.prod(value.sizes)) * torch.empty((), dtype=dtype).element_size()  # the buffer may be padded
        return torch.frombuffer(bytearray(data[:size]), dtype=dtype).reshape(value.sizes)
    if kind == "Int":
        if spec is not None and "ScalarType" in str(spec.type):
            return getattr(torch, DTYPES[value.int_val])
        return value.int_val
    if kind in ("Double", "Bool", "String"):
        return float(value.double_val) if kind == "Double" else getattr(value, f"{kind.lower()}_val")
    if kind in ("IntList", "TensorList", "OptionalTensorList"):
        return [None if i < 0 else _value(program, plan, values, i) for i in value.items]
    if kind in ("DoubleList", "BoolList"):
        return list(value.items)
    if kind == "Null":
        return None
    raise PredictionUnavailable(f"value {index} is a {kind}, which this check does not read")


def _empty(tensor):
    import torch

    return torch.empty(tensor.sizes, dtype=getattr(torch, DTYPES[tensor.scalar_type.value]))


def _delegate(graph: bytes, plan, args: list[int]):
    """A delegate call: its arguments are the TOSA graph's inputs, then its outputs. The graph takes each tensor in
    its memory order (NHWC where the program's dim order says so)."""
    import torch

    from ...profiling.devices.runner import silenced
    from .arm import tosa_tools

    tosa_tools()
    import tosa_reference_model
    from tosa.TosaGraph import TosaGraph

    inputs = TosaGraph.GetRootAs(graph, 0).Regions(0).Blocks(0).InputsLength()
    given, produced = args[:inputs], args[inputs:]

    def run(values):
        arrays = [values[i].permute(*plan.values[i].val.dim_order).contiguous().numpy() for i in given]
        with silenced():  # the reference model warns on every run that the graph's TOSA 1.0 is older than its 1.1
            outputs, status = tosa_reference_model.run(graph, arrays)
        if status != tosa_reference_model.GraphStatus.TOSA_VALID:
            raise RuntimeError(f"the TOSA reference model refused the graph ({status})")
        for index, array in zip(produced, outputs):
            tensor = plan.values[index].val
            if np.asarray(array).dtype != np.dtype(DTYPES[tensor.scalar_type.value]):
                raise RuntimeError(f"the TOSA graph returns {np.asarray(array).dtype} where the program expects "
                                   f"{DTYPES[tensor.scalar_type.value]} (value {index})")
            order = list(tensor.dim_order)
            stored = torch.from_numpy(np.asarray(array).reshape([tensor.sizes[d] for d in order]))
            values[index] = stored.permute(*np.argsort(order)).contiguous()
    return run
