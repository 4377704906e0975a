"""One layer at a time: where int8 is faster than float on this CPU, and where it is not.

MobileNetV2 at 224x224 runs int8 at about float's speed on LiteRT while ResNet-18 gains 1.3x (bench/coverage.json).
This times the layer kinds those nets are made of, each alone at a shape MobileNetV2 or ResNet-18 has, float and
int8 from `shrink_edge.export` (the same passes as any model), in every runtime on the host: onnxruntime, LiteRT,
OpenVINO and ExecuTorch, 1 thread, interleaved (the profiler's runner), p50 of RUNS. Inputs: normal noise (the
timing does not depend on values).
Writes bench/layers.json, then its table (scripts/docs_tables.py).

    .venv/bin/python scripts/bench_layers.py
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

import shrink_edge
from shrink_edge.profiling.devices import runner

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_tables  # noqa: E402
from bench_coverage import timings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RUNS = 100
TARGETS = {"onnx": ("onnx", "onnx-int8", "onnxruntime"), "tflite": (None, "tflite-int8", "litert"),
           "openvino": (None, "openvino-int8", "openvino"), "executorch": ("executorch", "executorch-int8",
                                                                           "executorch")}


def conv(cin: int, cout: int, kernel: int, groups: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, groups=groups), nn.ReLU6())


# name, module, input (C, H, W)
LAYERS = [
    ("pointwise 1x1, 24 -> 144 (MobileNetV2 expand)", conv(24, 144, 1), (24, 56, 56)),
    ("depthwise 3x3, 144 (MobileNetV2)", conv(144, 144, 3, groups=144), (144, 56, 56)),
    ("pointwise 1x1, 144 -> 24 (MobileNetV2 project)", conv(144, 24, 1), (144, 56, 56)),
    ("conv 3x3, 64 -> 64 (ResNet-18)", conv(64, 64, 3), (64, 56, 56)),
]


def macs(module: nn.Module, shape: tuple[int, int, int]) -> int:
    layer = module[0]
    _, h, w = shape
    return h * w * layer.out_channels * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]


def files(module: nn.Module, shape: tuple, folder: Path) -> dict[str, tuple[Path, Path]]:
    """Per runtime: (float file, int8 file)."""
    import litert_torch

    from shrink_edge.backends.openvino.shapes import float_ir

    rng = np.random.default_rng(0)
    data = {"x": rng.normal(size=(48, *shape)).astype(np.float32)}
    example = (torch.zeros(1, *shape),)
    written = {}
    for target in TARGETS:
        result = shrink_edge.export(module, example, target=target, data=data, out=folder / target,
                                    cache_dir=folder / "cache", progress=False, enforce_budget=False)
        written.update({a["format"]: folder / target / a["file"] for a in result.manifest["artifacts"]})
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        litert_torch.convert(module, example).export(str(folder / "float.tflite"))
    float_ir(written["onnx"], folder / "float.openvino")
    written.update({"tflite": folder / "float.tflite", "openvino": folder / "float.openvino"})
    return {runtime: (written[f or target], written[q]) for target, (f, q, runtime) in TARGETS.items()}


def timed(pairs: dict[str, tuple[Path, Path]], mac_count: int) -> dict[str, dict]:
    results = timings(pairs, runs=RUNS)
    for r in results.values():
        r.update({f"{kind}_gmacs": round(mac_count / r[f"{kind}_ms"] / 1e6, 2) for kind in ("int8", "float")})
    return results


def main() -> None:
    torch.manual_seed(0)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, module, shape) in enumerate(LAYERS):
            print(f"{name}", file=sys.stderr)
            pairs = files(module.eval(), shape, Path(tmp) / str(i))
            count = macs(module, shape)
            entries.append({"name": name, "input": list(shape), "macs": count, "timings": timed(pairs, count)})
    conditions = runner.facts(1)
    (ROOT / "bench" / "layers.json").write_text(json.dumps({"runs": RUNS, "threads": 1, "conditions": conditions,
                                                            "layers": entries}, indent=1) + "\n")
    docs_tables.write("layers")
    print("\n".join(docs_tables.layers()))


if __name__ == "__main__":
    main()
