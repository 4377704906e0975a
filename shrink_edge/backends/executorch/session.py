"""Run a .pte in ExecuTorch's runtime on the host, and read from the file itself what runs where: the XNNPACK
delegate's nodes (its own flatbuffer, decoded with the flatc that ships in the executorch wheel), the Ethos-U
delegate's command stream and memory, and the ops left on the portable CPU kernels."""
from __future__ import annotations

import json
import re
import struct
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ARM = ("EthosUBackend", "TOSABackend")
IO_CONVERSIONS = ("quantized_decomposed::quantize_per_tensor", "quantized_decomposed::dequantize_per_tensor")
COMPUTE = ("XNNConv2d", "XNNDepthwiseConv2d", "XNNFullyConnected", "XNNBatchMatrixMultiply", "XNNConvTranspose2d")


def predict(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sample by sample (the .pte has batch 1), inputs by position: a .pte keeps no tensor names, so outputs are
    output_0, ... in the signature's order."""
    import torch

    from ...errors import PredictionUnavailable
    from .lower import quiet
    from . import tosa
    from .timing import CORE_ML, ETHOS_U, TOSA

    if path.name.endswith(CORE_ML):
        raise PredictionUnavailable("ExecuTorch's Core ML delegate runs on Apple devices only (this runtime has no "
                                    "CoreMLBackend); its Core ML model is checked at spec level")
    if path.name.endswith(ETHOS_U):
        raise PredictionUnavailable("ExecuTorch's Ethos-U delegate runs on an Ethos-U NPU only (Arm's Corstone FVP "
                                    "is in no registry here); its command stream and memory are read from the file")
    if path.name.endswith(TOSA):
        return tosa.predict(path, inputs)

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
    nodes, float_compute, coreml, npu = Counter(), [], [], []
    arm = any(d.id in ARM for d in plan.delegates)
    for delegate in plan.delegates:
        if delegate.id == "CoreMLBackend":
            coreml.append(_coreml_model(program.backend_delegate_data[delegate.processed.index].data))
        if delegate.id == "EthosUBackend":
            npu.append(vela_blocks(program.backend_delegate_data[delegate.processed.index].data))
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
            **({"coreml_models": coreml} if coreml else {}), **(_arm_facts(npu, portable) if arm else {}),
            "undelegated_ops": dict(sorted(portable.items())), "float_compute_layers": float_compute,
            "tensor_names": "none in a .pte: inputs and outputs by position (see the app metadata)"}


def delegated_weight_types(path: Path) -> Counter:
    """Every fully-connected layer of the program by its weight type: XNNPACK's nodes (int4, int8 or float, from
    their weight's datatype) and matrix products left on portable kernels (float)."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(path.read_bytes()).program
    plan = program.execution_plan[0]
    kinds = Counter()
    for delegate in plan.delegates:
        if delegate.id != "XnnpackBackend":
            continue
        graph = _xnnpack_graph(program.backend_delegate_data[delegate.processed.index].data)
        for node in graph["xnodes"]:
            if node["xnode_union_type"] == "XNNFullyConnected":
                datatype = _datatype(graph["xvalues"][node["xnode_union"]["filter_id"]])
                kinds["int4" if "int4" in datatype else "int8" if "int8" in datatype else "float"] += 1
    for op in plan.operators:
        if op.name in ("aten::linear", "aten::mm", "aten::addmm"):
            kinds["float"] += 1  # per operator kind, not per call: at least one float product outside XNNPACK
    return kinds


def vela_blocks(blob: bytes) -> dict[str, int]:
    """The sizes in an Ethos-U delegate's payload, Vela's output as ExecuTorch packs it (executorch.backends.arm.
    arm_vela): blocks of a 16-byte name, a 4-byte length, a flag and 11 reserved bytes, then the data padded to 16."""
    sizes, at = {}, 0
    while at + 32 <= len(blob):
        name, length, _, _ = struct.unpack_from("<16sIB11s", blob, at)
        key = name.rstrip(b"\0").decode()
        data = bytes(blob[at + 32:at + 32 + length])
        sizes[key] = struct.unpack("<I", data)[0] if key == "scratch_size" else length
        at += 32 + -(-length // 16) * 16
        if key == "vela_end_stream":
            break
    return {"command_stream_bytes": sizes.get("cmd_data", 0), "weight_bytes": sizes.get("weight_data", 0),
            "scratch_bytes": sizes.get("scratch_size", 0)}


def _arm_facts(npu: list[dict], portable: Counter) -> dict:
    """What stays on the CPU besides quantizing the inputs and dequantizing the outputs, and what the NPU needs
    (summed over delegate calls), in the keys the Ethos-U budgets read."""
    cpu = sorted(op for op in portable if op.split(".")[0] not in IO_CONVERSIONS)
    return {"cpu_ops": sum(portable[op] for op in cpu), "cpu_fallback": [f"{op}: not delegated" for op in cpu],
            "fallback_by": "ExecuTorch's Arm partitioner",
            **({"ethos_u": npu, "sram_bytes": sum(d["scratch_bytes"] for d in npu),
                "off_chip_bytes": sum(d["command_stream_bytes"] + d["weight_bytes"] for d in npu)} if npu else {})}


def _coreml_model(blob: bytes) -> dict:
    """The Core ML delegate's payload is its .mlpackage folder, flattened: unflattened, its spec must load (the
    same check as a Core ML target's package on Linux)."""
    from executorch.backends.apple.coreml import executorchcoreml

    from ..shared.coreml_spec import facts as coreml_facts

    with tempfile.TemporaryDirectory() as folder:
        if not executorchcoreml.unflatten_directory_contents(bytes(blob), folder):
            raise RuntimeError("the Core ML delegate's payload is not a flattened model folder")
        [package] = Path(folder).rglob("*.mlpackage")
        return coreml_facts(package)


def _datatype(value: dict) -> str:
    union = value["xvalue_union"]
    return union.get("tensor_value", union).get("datatype", "xnn_datatype_fp32")
