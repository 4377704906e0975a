"""ExecuTorch against LiteRT and onnxruntime, int8, one interleaved run per model (1 thread, host CPU).

Models: the Fashion-MNIST sample (1,000 held-out images), DigitsNet (scikit-learn's digits, 360 test images) and
the zoo's MobileNetV2 at 224x224 (random weights with batch-norm statistics from scikit-image photos; no labels:
cosine to the float model on 16 photos). For each, `shrink-edge export` for onnx, tflite and executorch shares one
cache, so the three int8 files come from one int8 program. The peer is the flow of ExecuTorch's own tutorial: PTQ
of the float model with XNNPACKQuantizer (symmetric, per channel) on the same calibration samples, then
`to_edge_transform_and_lower` with XnnpackPartitioner. Every file runs in its runtime on the same data; latency is
the p50 of runner.measure (shrink_edge/devices/runner.py) with every file of the model taking turns.
Writes bench/executorch.json, then its table (scripts/docs_tables.py).

    .venv/bin/python scripts/bench_executorch.py [fashion_mnist,digits,mobilenet_v2]
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_tables  # noqa: E402
from bench_coverage import make_data, prepared_model, zoo_module  # noqa: E402
from zoo_peers import xnnpack_quantizer  # noqa: E402

from shrink_edge.backends import backend  # noqa: E402
from shrink_edge.profiling.devices import runner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".bench-executorch"
CLI = str(Path(sys.executable).with_name("shrink-edge"))
RUNS, WARMUP = docs_tables.EXECUTORCH_RUNS, docs_tables.EXECUTORCH_WARMUP
FILES = {"onnx": ("onnx-int8", "onnxruntime"), "tflite": ("tflite-int8", "litert"),
         "executorch": ("executorch-int8", "executorch")}


def labelled(name: str) -> dict:
    if name == "fashion_mnist":
        return {"model": None, "data": ROOT / "shrink_edge/samples/fashion_mnist/heldout.npz",
                "calibration": ROOT / "shrink_edge/samples/fashion_mnist/calibration.npz"}
    return {"model": f"{ROOT}/shrink_edge/samples/digits/model.py:build",
            "weights": ROOT / "shrink_edge/samples/digits/weights.safetensors", "data": ROOT / "shrink_edge/samples/digits/test.npz",
            "calibration": ROOT / "shrink_edge/samples/digits/train.npz"}


def mobilenet(folder: Path) -> dict:
    inputs = zoo_module("mobilenet.py").INPUTS
    data, calibration = make_data("photos", inputs, 16, 1), make_data("photos", inputs, 32, 2)
    np.savez(folder / "data.npz", **data)
    np.savez(folder / "calibration.npz", **calibration)
    return {"model": f"{ROOT}/zoo/mobilenet.py:build", "weights": prepared_model("mobilenet.py", "build", calibration,
                                                                             folder),
            "data": folder / "data.npz", "calibration": folder / "calibration.npz"}


def ours(spec: dict, folder: Path) -> dict[str, Path]:
    """The three int8 files (and the float .pte) from one cache: one int8 program for all."""
    files, cache = {}, folder / "cache"
    for target, (fmt, _) in FILES.items():
        out = folder / target
        shutil.rmtree(out, ignore_errors=True)
        args = [CLI, "export", "--target", target, "--out", str(out), "--json", "--no-budget", "--data",
                str(spec["data"]), "--calibration", str(spec["calibration"])]
        if spec["model"]:
            args += ["--model", spec["model"], "--weights", str(spec["weights"])]
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(cache)})
        if done.returncode:
            sys.exit(f"export --target {target} failed: {done.stderr.strip()}")
        manifest = json.loads(done.stdout)
        for artifact in manifest["artifacts"]:
            files[artifact["format"]] = out / artifact["file"]
    return files


def float_module(spec: dict):
    from shrink_edge.model import sample
    from shrink_edge.model.source import ModelSource

    source = sample.model_source() if spec["model"] is None else ModelSource.from_cli(spec["model"], spec["weights"],
                                                                                       None)
    return source.load().eval()


def only(npz: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(npz) as f:
        key = next(k for k in f.files if k != "y")
        x = f[key].astype(np.float32) / 255 if f[key].dtype == np.uint8 else f[key].astype(np.float32)
        return x, f["y"] if "y" in f.files else None


def measure(name: str) -> dict:
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    spec = mobilenet(folder) if name == "mobilenet_v2" else labelled(name)
    files = ours(spec, folder)
    module = float_module(spec)
    x, y = only(spec["data"])
    calibration = only(spec["calibration"])[0][:512]
    with torch.no_grad():
        reference = module(torch.from_numpy(x)).numpy()
    rows = [{"tool": "shrink-edge", "runtime": rt, "path": files[fmt]} for fmt, rt in FILES.values()]
    rows.append({"tool": "shrink-edge float", "runtime": "executorch", "path": files["executorch"]})
    rows.append({"tool": "ExecuTorch tutorial PTQ", "runtime": "executorch",
                 "path": xnnpack_quantizer(module, {"x": calibration}, folder / "tutorial.int8.pte")})
    for row in rows:
        scores = next(iter(backend(row["runtime"]).predict(row["path"], {"x": x}).values()))
        row["size_bytes"] = row["path"].stat().st_size
        row["cosine"] = round(float(np.mean(np.sum(scores * reference, 1) / (
            np.linalg.norm(scores, axis=1) * np.linalg.norm(reference, axis=1)))), 5)
        if y is not None:
            row["accuracy"] = round(float((scores.argmax(1) == y).mean()), 4)
            row["agreement"] = round(float((scores.argmax(1) == reference.argmax(1)).mean()), 4)
    entries = runner.measure([row["path"] for row in rows], RUNS, WARMUP, threads=1)
    for row, entry in zip(rows, entries):
        row["p50_ms"] = round(float(np.percentile(entry["times_ms"], 50)), 4)
    litert = next(r for r in rows if r["runtime"] == "litert")["p50_ms"]
    for row in rows:
        row["vs_litert_int8"] = round(row["p50_ms"] / litert, 2)
        row["path"] = str(row["path"].relative_to(ROOT))
    return {"samples": len(x), "labels": y is not None, "rows": rows}


def main() -> None:
    chosen = sys.argv[1].split(",") if len(sys.argv) > 1 else ["fashion_mnist", "digits", "mobilenet_v2"]
    results = {"conditions": runner.facts(1), "models": {}}
    for name in chosen:
        print(name, file=sys.stderr)
        results["models"][name] = measure(name)
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "executorch.json").write_text(json.dumps(results, indent=1) + "\n")
    docs_tables.write("executorch")
    print("\n".join(docs_tables.executorch()))


if __name__ == "__main__":
    main()
