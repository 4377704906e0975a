"""Bias correction, measured: int8 fidelity with and without `quantize.bias_correction`, alone and after cross-layer
equalization, from one float model and the same data per model (shrink-edge export, `--no-budget`).

Models: the Fashion-MNIST sample and DigitsNet (trained; top-1 on their held-out sets) through ONNX (onnxruntime)
and TFLite (LiteRT); the zoo's MobileNetV2, EfficientNet-style net and DS-CNN (random weights with batch-norm
statistics from scikit-image photos or tones, 32 samples calibrate, 16 verify) through ONNX. Figures per artifact
from the export's own verification: SQNR and cosine of the worst output, top-1 where there are labels.
Writes bench/bias_correction.json, then its table (scripts/docs_tables.py).

    .venv/bin/python scripts/bench_bias_correction.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_tables  # noqa: E402
from bench_coverage import CALIBRATE, VERIFY, make_data, prepared_model, zoo_module  # noqa: E402
from bench_executorch import labelled  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("shrink-edge"))
OFF, ON = ["--set", "quantize.bias_correction=false"], ["--set", "quantize.bias_correction=true"]
EQUALIZE = ["--set", "quantize.equalize=true"]
VARIANTS = {"off": OFF, "bias_correction": ON, "equalize": [*EQUALIZE, *OFF],
            "equalize+bias_correction": [*EQUALIZE, *ON]}
ZOO = {"mobilenet_v2": ("mobilenet.py", "build", "photos"), "efficientnet_lite": ("resnet.py", "build_efficientnet",
                                                                                  "photos"),
       "ds_cnn_kws": ("audio.py", "build", "tones")}


def zoo_spec(name: str, folder: Path) -> dict:
    file, factory, kind = ZOO[name]
    inputs = zoo_module(file).INPUTS
    data, calibration = make_data(kind, inputs, VERIFY, 1), make_data(kind, inputs, CALIBRATE, 2)
    np.savez(folder / "data.npz", **data)
    np.savez(folder / "calibration.npz", **calibration)
    return {"model": f"{ROOT}/zoo/{file}:{factory}", "weights": prepared_model(file, factory, calibration, folder),
            "data": folder / "data.npz", "calibration": folder / "calibration.npz"}


def export(spec: dict, target: str, variant: str, folder: Path) -> dict:
    args = [CLI, "export", "--target", target, "--out", str(folder / f"{target}-{variant}"), "--json", "--no-budget",
            "--data", str(spec["data"]), "--calibration", str(spec["calibration"]), *VARIANTS[variant]]
    if spec["model"]:
        args += ["--model", spec["model"], "--weights", str(spec["weights"])]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(folder / "cache")})
    if done.returncode:
        sys.exit(f"export --target {target} {variant} failed: {done.stderr.strip()}")
    [int8] = [a for a in json.loads(done.stdout)["artifacts"] if a["format"].endswith("-int8")]
    m = int8["metrics"]
    worst = min(m["outputs"].values(), key=lambda o: o["sqnr_db"])
    return {"target": target, "variant": variant, "sqnr_db": round(worst["sqnr_db"], 2),
            "cosine": round(worst["cosine"], 5), "accuracy": m.get("accuracy")}


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("fashion_mnist", "digits", *ZOO):
            print(name, file=sys.stderr)
            folder = Path(tmp) / name
            folder.mkdir()
            spec = labelled(name) if name in ("fashion_mnist", "digits") else zoo_spec(name, folder)
            targets = ("onnx", "tflite") if name in ("fashion_mnist", "digits") else ("onnx",)
            results[name] = [export(spec, target, variant, folder) for target in targets for variant in VARIANTS]
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "bias_correction.json").write_text(json.dumps({"models": results}, indent=1) + "\n")
    docs_tables.write("bias-correction")
    print("\n".join(docs_tables.bias_correction()))


if __name__ == "__main__":
    main()
