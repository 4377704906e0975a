"""Float16 beside float and int8, on the same models and data: size, fidelity against the float PyTorch model, and
latency on the host (1 thread, the three files of a runtime timed interleaved) and on the emulated arm64 phone.

Models: the bundled sample (its 1,000 held-out images) and zoo models with bench_coverage's data (photos for a
MobileNetV2 and a ViT, hashed English text for a small BERT). Per model: `shrink-edge export --target fp16` with
its budget (a broken budget is recorded, then the files are written with --no-budget), and the int8 targets
`onnx`, `tflite`, `openvino` (--no-budget) for the int8 column; float files: the float `.onnx`, litert-torch's
float `.tflite`, OpenVINO's float32 IR. Core ML's float16 package is converted and checked at spec level only
(prediction needs macOS). Writes bench/fp16.json, then its table (scripts/docs_tables.py).

    .venv/bin/python scripts/bench_fp16.py [--models sample,mobilenet_v2] [--no-phone]
The emulated phone needs root once (`shrink-edge device create`); qemu's times prove the path, not a phone's speed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from shrink_edge.config import targets
from shrink_edge.model import sample

import bench_coverage as zoo
import docs_tables

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("shrink-edge"))
MODELS = {"sample": None, **{z[0]: z for z in zoo.ZOO if z[0] in ("mobilenet_v2", "vit_tiny", "bert_mini")}}
PHONE = ("sample", "mobilenet_v2")  # qemu runs a 224x224 MobileNetV2 in seconds per image: few runs
RUNTIMES = {"onnxruntime": ("onnx-fp16", "onnx-int8"), "litert": ("tflite-fp16", "tflite-int8"),
            "openvino": ("openvino-fp16", "openvino-int8")}
INT8_TARGETS = ("onnx", "tflite", "openvino")


def export(target: str, model_args: list[str], out: Path, cache: Path, budget: bool = True) -> dict:
    done = subprocess.run([CLI, "export", "--target", target, *model_args, "--out", str(out), "--json",
                           *([] if budget else ["--no-budget"])],
                          capture_output=True, text=True, env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(cache)})
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1].removeprefix("error: ")}
    return json.loads(done.stdout)


def prepared(name: str, folder: Path) -> tuple[list[str], object, dict]:
    """The export arguments, the float module and its inputs ({name: (shape, dtype)}) of a model."""
    if MODELS[name] is None:
        source = sample.model_source()
        return [], source.load(), {"x": ((1, 1, 28, 28), "float32")}
    _, file, factory, attr, kind = MODELS[name]
    inputs = getattr(zoo.zoo_module(file), attr)
    data, calibration = zoo.make_data(kind, inputs, zoo.VERIFY, 1), zoo.make_data(kind, inputs, zoo.CALIBRATE, 2)
    np.savez(folder / "data.npz", **data)
    np.savez(folder / "calibration.npz", **calibration)
    weights = zoo.prepared_model(file, factory, kind, calibration, folder)
    args = ["--model", f"{ROOT / 'zoo' / file}:{factory}", "--weights", str(weights), "--data",
            str(folder / "data.npz"), "--calibration", str(folder / "calibration.npz")]
    return args, zoo.trained(file, factory, weights), inputs


def fidelity(artifact: dict) -> dict:
    outputs = (artifact.get("metrics") or {}).get("outputs", {})
    if not outputs:
        return {"skipped": artifact.get("facts", {}).get("verification_skipped", "not verified")}
    return {"cosine_worst": min(o["cosine_worst"] for o in outputs.values()),
            "sqnr_db": min(o["sqnr_db"] for o in outputs.values()),
            "agreement": artifact["metrics"].get("agreement")}


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def host_times(files: dict[str, dict[str, Path]], runs: int = 200) -> dict:
    """Per runtime: float, float16 and int8 p50 (ms), 1 thread, interleaved (the profiler's runner)."""
    from shrink_edge.profiling.devices import runner

    found = {}
    for runtime, by_kind in files.items():
        kinds = [k for k in ("float", "fp16", "int8") if k in by_kind]
        entries = runner.measure([by_kind[k] for k in kinds], runs=runs, warmup=20, threads=1)
        found[runtime] = {k: round(float(np.median(e["times_ms"])), 4) for k, e in zip(kinds, entries)}
    return found


def phone_times(files: dict[str, dict[str, Path]], runs: int) -> dict:
    """The same files on the emulated arm64 phone (LiteRT and onnxruntime: OpenVINO has no arm64 path there)."""
    found = {}
    for runtime in ("onnxruntime", "litert"):
        by_kind = files.get(runtime, {})
        kinds = [k for k in ("float", "fp16", "int8") if k in by_kind]
        done = subprocess.run([CLI, "profile", *[str(by_kind[k]) for k in kinds], "--device", "emulator", "--runs",
                               str(runs), "--warmup", "1", "--json"], capture_output=True, text=True)
        if done.returncode:
            found[runtime] = {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
            continue
        [profile] = json.loads(done.stdout)["profiles"]
        found[runtime] = {k: r["p50_ms"] for k, r in zip(kinds, profile["results"])}
        found["machine"] = profile["conditions"]["machine"]
    return found


def bench_model(name: str, folder: Path, cache: Path, phone: bool) -> dict:
    args, module, inputs = prepared(name, folder)
    fp16 = export("fp16", args, folder / "fp16", cache)
    entry = {"name": name, "budget_error": fp16.get("error")}
    if "error" in fp16:
        fp16 = export("fp16", args, folder / "fp16", cache, budget=False)
    int8 = {t: export(t, args, folder / t, cache, budget=False) for t in INT8_TARGETS}
    artifacts = {a["format"]: a for run in (fp16, *int8.values()) for a in run.get("artifacts", [])}
    paths = {fmt: Path(a["path"]) for fmt, a in artifacts.items()}
    floats = zoo.float_baselines(module, inputs, paths.get("onnx"), folder)
    entry["errors"] = {t: run["error"] for t, run in int8.items() if "error" in run}
    entry["artifacts"] = {fmt: {"bytes": size(paths[fmt]), **fidelity(a), "facts": a.get("facts", {})}
                          for fmt, a in artifacts.items() if fmt in ("onnx-fp16", "tflite-fp16", "openvino-fp16",
                                                                     "coreml-fp16", "onnx-int8", "tflite-int8",
                                                                     "openvino-int8")}
    files = {runtime: {"float": floats[runtime], **{k: paths[f] for k, f in zip(("fp16", "int8"), formats)
                                                    if f in paths}}
             for runtime, formats in RUNTIMES.items() if runtime in floats}
    entry["float_bytes"] = {runtime: size(f["float"]) for runtime, f in files.items()}
    entry["host_ms"] = host_times(files)
    if phone and name in PHONE:
        entry["phone_ms"] = phone_times(files, runs=20 if name == "sample" else 5)
    return entry


def cpu() -> str:
    """This CPU's name and the float16 and int8 instructions it has."""
    text = Path("/proc/cpuinfo").read_text()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    isa = [f for f in ("f16c", "avx512_fp16", "avx512_bf16", "avx512_vnni", "avx2") if f in flags]
    return f"{name} ({', '.join(isa)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-phone", action="store_true")
    args = parser.parse_args()
    budget = targets.resolve("onnx-fp16").budget
    figures = {"budget": {"min_cosine": budget.min_cosine, "min_sqnr_db": budget.min_sqnr_db},
               "cpu": cpu(), "models": []}
    cache = ROOT / ".bench-cache"
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            print(name, file=sys.stderr)
            folder = Path(tmp) / name
            folder.mkdir()
            figures["models"].append(bench_model(name, folder, cache, not args.no_phone))
            (ROOT / "bench" / "fp16.json").write_text(json.dumps(figures, indent=1) + "\n")
    docs_tables.write("fp16")
    print("\n".join(docs_tables.fp16()))


if __name__ == "__main__":
    main()
