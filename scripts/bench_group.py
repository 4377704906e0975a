"""A group's shared checkpoint on every CPU runtime: `--target all` quantizes once, with 8-bit weights, and each
runtime's file must still be faster than its float. Zoo models (random weights, batch-norm statistics from scikit-
image photos, as bench_coverage.py makes them) through one group export (onnx, tflite, openvino, executorch; budget
enforced), each int8 file timed against its float file interleaved, 1 thread. Writes bench/group.json.

    .venv/bin/python scripts/bench_group.py [--models mobilenet_v2,efficientnet_lite]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import bench_coverage as coverage
from docs_tables import CALIBRATE, TIMED, VERIFY

ROOT = Path(__file__).resolve().parents[1]
GROUP = ("onnx", "tflite", "openvino", "executorch")
MODELS = {"mobilenet_v2": ("mobilenet.py", "build"), "efficientnet_lite": ("resnet.py", "build_efficientnet")}


def run(name: str, folder: Path) -> dict:
    file, factory = MODELS[name]
    inputs = coverage.zoo_module(file).INPUTS
    np.savez(folder / "data.npz", **coverage.make_data("photos", inputs, VERIFY, 1, labels=True))
    calibration = coverage.make_data("photos", inputs, CALIBRATE, 2)
    np.savez(folder / "calibration.npz", **calibration)
    weights = coverage.prepared_model(file, factory, "photos", calibration, folder)
    group = folder / "group.toml"
    group.write_text(f'description = "the CPU runtimes"\ninclude = {json.dumps(list(GROUP))}\n')
    done = subprocess.run([coverage.CLI, "export", "--model", f"{ROOT / 'zoo' / file}:{factory}", "--weights",
                           str(weights), "--data", str(folder / "data.npz"), "--calibration",
                           str(folder / "calibration.npz"), "--target", str(group), "--out", str(folder / "out"),
                           "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        return {"model": name, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    manifest = json.loads(done.stdout)
    files = {a["format"]: folder / "out" / a["file"] for a in manifest["artifacts"]}
    floats = coverage.float_baselines(coverage.trained(file, factory, weights), inputs, files.get("onnx"), folder)
    floats["executorch"] = files["executorch"]
    timings = coverage.timings({runtime: (floats[runtime], files[fmt]) for runtime, fmt in TIMED.items()
                                if fmt in files and runtime in floats})
    return {"model": name, "peak": coverage.cpu_peak(), "failed": manifest.get("failed", {}),
            "artifacts": {a["format"]: {"size_bytes": a["size_bytes"], "cosine": a["metrics"].get("cosine"),
                                        "sqnr_db": a["metrics"].get("sqnr_db"),
                                        "weights": a.get("facts", {}).get("weights")}
                          for a in manifest["artifacts"] if a["format"].endswith("-int8")},
            "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(MODELS))
    chosen = parser.parse_args().models.split(",")
    rows = []
    for name in chosen:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(run(name, Path(tmp)))
            print(json.dumps(rows[-1]["timings"] if "timings" in rows[-1] else rows[-1]))
    (ROOT / "bench" / "group.json").write_text(json.dumps({"group": list(GROUP), "models": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
