"""Run a .pte in ExecuTorch's runtime on the host, and read from the file itself what runs where: the XNNPACK
delegate's nodes (its own flatbuffer, decoded with the flatc that ships in the executorch wheel) and the ops left
on the portable CPU kernels."""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

COMPUTE = ("XNNConv2d", "XNNDepthwiseConv2d", "XNNFullyConnected", "XNNBatchMatrixMultiply", "XNNConvTranspose2d")


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sample by sample (the .pte has batch 1), inputs by position: a .pte keeps no tensor names, so outputs are
    output_0, ... in the signature's order."""
    import torch

    from ...errors import PredictionUnavailable
    from .lower import quiet
    from .timing import CORE_ML

    if path.name.endswith(CORE_ML):
        raise PredictionUnavailable("ExecuTorch's Core ML delegate runs on Apple devices only (this runtime has no "
                                    "CoreMLBackend); its Core ML model is checked at spec level")

    with quiet():
        from executorch.runtime import Runtime

        method = Runtime.get().load_program(str(path)).load_method("forward")
    arrays = list(inputs.values())
    rows = []
    for i in range(len(arrays[0])):
        rows.append([o.numpy().copy() for o in method.execute([torch.from_numpy(a[i:i + 1]) for a in arrays])])
    return {f"output_{j}": np.concatenate(parts) for j, parts in enumerate(zip(*rows))}


def _xnnpack_graph(blob: bytes) -> dict:
    import executorch
    from executorch.backends.xnnpack.serialization.xnnpack_graph_serialize import XNNHeader

    root = Path(list(executorch.__path__)[0])
    header = XNNHeader.from_bytes(blob[:XNNHeader.EXPECTED_LENGTH])
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "graph.bin").write_bytes(blob[header.flatbuffer_offset:
                                                      header.flatbuffer_offset + header.flatbuffer_size])
        subprocess.run([str(root / "data/bin/flatc"), "--json", "--strict-json", "--raw-binary", "-o", folder,
                        str(root / "backends/xnnpack/serialization/schema.fbs"), "--", str(Path(folder) / "graph.bin")],
                       check=True, capture_output=True)
        text = (Path(folder) / "graph.json").read_text()
    return json.loads(re.sub(r"(?<=: )(-?)inf\b", r"\1Infinity", text))  # flatc writes bare inf


def facts(path: Path) -> dict:
    """Delegate calls, the XNNPACK nodes by type, the ops on portable kernels, and the compute nodes whose weights
    are not int8."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(path.read_bytes()).program
    plan = program.execution_plan[0]
    calls, portable = Counter(), Counter()
    for chain in plan.chains:
        for instruction in chain.instructions:
            args = instruction.instr_args
            if hasattr(args, "delegate_index"):
                calls[plan.delegates[args.delegate_index].id] += 1
            elif hasattr(args, "op_index"):
                op = plan.operators[args.op_index]
                portable[f"{op.name}.{op.overload}" if op.overload else op.name] += 1
    nodes, float_compute, coreml = Counter(), [], []
    for delegate in plan.delegates:
        if delegate.id == "CoreMLBackend":
            coreml.append(_coreml_model(program.backend_delegate_data[delegate.processed.index].data))
        if delegate.id != "XnnpackBackend":
            continue
        graph = _xnnpack_graph(program.backend_delegate_data[delegate.processed.index].data)
        values = graph["xvalues"]
        quantized = any("int8" in _datatype(v) for v in values)  # a float .pte has no int8 layer to miss
        for node in graph["xnodes"]:
            kind = node["xnode_union_type"]
            nodes[kind.removeprefix("XNN")] += 1
            weight = node["xnode_union"].get("filter_id")
            if quantized and kind in COMPUTE and weight is not None and "int8" not in _datatype(values[weight]):
                float_compute.append(f"{kind.removeprefix('XNN')} (debug handle {node.get('debug_handle')})")
    return {"delegate_calls": dict(calls), **({"xnnpack_nodes": dict(sorted(nodes.items()))} if nodes else {}),
            **({"coreml_models": coreml} if coreml else {}),
            "undelegated_ops": dict(sorted(portable.items())), "float_compute_layers": float_compute,
            "tensor_names": "none in a .pte: inputs and outputs by position (see the app metadata)"}


def _coreml_model(blob: bytes) -> dict:
    """The Core ML delegate's payload is its .mlpackage folder, flattened: unflattened, its spec must load (the
    same check as a Core ML target's package on Linux)."""
    from executorch.backends.apple.coreml import executorchcoreml

    from ..coreml.session import facts as coreml_facts

    with tempfile.TemporaryDirectory() as folder:
        if not executorchcoreml.unflatten_directory_contents(bytes(blob), folder):
            raise RuntimeError("the Core ML delegate's payload is not a flattened model folder")
        [package] = Path(folder).rglob("*.mlpackage")
        return coreml_facts(package)


def _datatype(value: dict) -> str:
    union = value["xvalue_union"]
    return union.get("tensor_value", union).get("datatype", "xnn_datatype_fp32")
