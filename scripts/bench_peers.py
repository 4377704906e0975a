"""Head to head: our int8 artifacts against the PTQ tools users would otherwise pick, on two models, one run.

Models: the Fashion-MNIST sample (MobileNetV2-style; full 10k test set) and DigitsNet (VGG-style; scikit-learn's
digits, 360-image test split). For each, from the same float checkpoint:
- ours: PTQ (`export`), QAT only (recipe with [qat]), prune 0.5 + distill + QAT (the model's recipe), for the
  onnx, tflite and openvino targets, each export timed from an empty cache (training included);
- peers: onnxruntime `quantize_static` (QDQ, u8 activations / s8 per-channel weights, after quant_pre_process);
  TensorFlow's TFLiteConverter full-integer PTQ through onnx2tf (own venv .peers/onnx2tf, pins TF 2.19 /
  numpy 1.26); ai-edge-quantizer's static int8 recipe (static_wi8_ai8) on the float .tflite; OpenVINO NNCF
  `nncf.quantize` on the float IR. Every peer gets the same 512 calibration images and starts from the float model
  as users export it by hand (`torch.onnx.export`, litert-torch, OpenVINO's convert_model of that ONNX), which
  are also the float baselines.
Every artifact runs in its real runtime on the test set; latency is 1 thread, p50 of interleaved runs per runtime
(shrink_edge/devices/runner.py), with the ratios to that runtime's float model and fastest peer. Writes
bench/results.json, its table (scripts/docs_tables.py) and bench/peers.png. `--remeasure` times the last run's
artifacts again, keeping its conversion times.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_tables  # noqa: E402
from bench_targets import ort_static  # noqa: E402

from shrink_edge.model.data import load_idx_dir, load_npz  # noqa: E402
from shrink_edge.profiling.devices import runner  # noqa: E402
from shrink_edge.backends import backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".bench-peers"
CLI = str(Path(sys.executable).with_name("shrink-edge"))
ONNX2TF = ROOT / ".peers" / "onnx2tf" / "bin" / "onnx2tf"
RUNS, WARMUP = 200, 30
MODELS = {
    "fashion_mnist": {"model": None, "weights": None, "shape": "1,1,28,28", "data": "/usr/share/datasets/fashion-mnist",
                      "calibration": "shrink_edge/samples/fashion_mnist/calibration.npz",
                      "recipe": "shrink_edge/samples/fashion_mnist/recipe.toml",
                      "deep_recipe": "shrink_edge/samples/fashion_mnist/recipe-deep.toml"},  # LiteRT and onnxruntime
    "digits": {"model": "shrink_edge/samples/digits/model.py:build", "weights": "shrink_edge/samples/digits/weights.safetensors",
               "shape": "1,1,8,8", "data": "shrink_edge/samples/digits/test.npz",
               "calibration": "shrink_edge/samples/digits/train.npz", "recipe": "shrink_edge/samples/digits/recipe.toml",
               "deep_recipe": "shrink_edge/samples/digits/recipe-deep.toml"},
}
TARGETS = {"onnx": ("onnx-int8", "onnxruntime"), "tflite": ("tflite-int8", "litert"),
           "openvino": ("openvino-int8", "openvino")}


def run(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def qat_only_recipe(recipe: Path, dst: Path) -> Path:
    """The model's recipe without [prune] and [distill]: QAT of the unpruned model."""
    import tomllib

    raw = tomllib.loads(recipe.read_text())
    lines = [f'train_data = "{(recipe.parent / raw["train_data"]).resolve()}"', "", "[qat]"]
    lines += [f"{k} = {v!r}" for k, v in raw["qat"].items()]
    dst.write_text("\n".join(lines).replace("'", '"') + "\n")
    return dst


def ours(name: str, spec: dict, variant: str, recipe: Path | None, targets: tuple[str, ...] = tuple(TARGETS)) \
        -> list[dict]:
    """One empty cache per variant: the first target's time includes quantizing / training, the next reuse it."""
    rows = []
    cache = WORK / name / f"cache-{variant}"
    shutil.rmtree(cache, ignore_errors=True)
    for target in targets:
        fmt, runtime = TARGETS[target]
        out = WORK / name / f"ours-{variant}-{target}"
        shutil.rmtree(out, ignore_errors=True)  # else a matching manifest there makes the export a no-op
        args = [CLI, "export", "--target", target, "--out", str(out), "--json", "--data", spec["data"],
                "--calibration", spec["calibration"]]
        if spec["model"]:
            args += ["--model", spec["model"], "--weights", spec["weights"], "--input-shape", spec["shape"]]
        if recipe:
            args += ["--recipe", str(recipe)]
        seconds = run(args, cwd=ROOT, env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(cache)})
        manifest = json.loads((out / "manifest.json").read_text())
        artifact = next(a for a in manifest["artifacts"] if a["format"] == fmt)
        rows.append({"tool": f"shrink-edge {variant}", "runtime": runtime, "path": str(out / artifact["file"]),
                     "seconds": round(seconds, 1), "from_empty_cache": not rows})
        if recipe and variant != "QAT" and target == "onnx":  # the same export's pruned, distilled float ONNX
            rows.append({"tool": f"shrink-edge {variant.removesuffix('+QAT')}, float", "runtime": runtime,
                         "path": str(out / f"{manifest['model']}.onnx")})
    return rows


def floats(folder: Path, source) -> list[dict]:
    """The unpruned model as users export it by hand: float ONNX straight from `torch.onnx.export` (the peers'
    input; our float ONNX has our graph rewrites), float .tflite (litert-torch) and float IR from that ONNX."""
    import litert_torch
    import torch

    from shrink_edge.backends.openvino.shapes import float_ir

    module = source.load().eval()
    example = (torch.zeros(source.input_shape),)
    onnx_path = folder / "float32.onnx"
    torch.onnx.export(module, example, onnx_path, dynamo=True, external_data=False, opset_version=18, verbose=False,
                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    tflite = folder / "float32.tflite"
    litert_torch.convert(module, example).export(str(tflite))
    ir = folder / "float32.openvino"
    float_ir(onnx_path, ir)
    return [{"tool": "float32", "runtime": runtime, "path": str(path)}
            for runtime, path in (("onnxruntime", onnx_path), ("litert", tflite), ("openvino", ir))]


def peers(folder: Path, float_onnx: Path, float_tflite: Path, float_ir: Path, calibration: np.ndarray) -> list[dict]:
    rows = []

    start = time.perf_counter()
    ort_static(float_onnx, calibration, folder / "ort_static.onnx")
    rows.append({"tool": "onnxruntime quantize_static", "runtime": "onnxruntime",
                 "path": str(folder / "ort_static.onnx"), "seconds": round(time.perf_counter() - start, 1)})

    from ai_edge_quantizer import quantizer, recipe

    start = time.perf_counter()
    qt = quantizer.Quantizer(str(float_tflite))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_path=str(float_tflite)).get_signature_list()
    key, inputs = next(iter(signature.items()))
    samples = [{inputs["inputs"][0]: calibration[i:i + 1]} for i in range(len(calibration))]
    qt.quantize(qt.calibrate({key: samples})).export_model(str(folder / "ai_edge_quantizer.tflite"), overwrite=True)
    rows.append({"tool": "ai-edge-quantizer static_wi8_ai8", "runtime": "litert",
                 "path": str(folder / "ai_edge_quantizer.tflite"), "seconds": round(time.perf_counter() - start, 1)})

    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "0")
    import nncf
    import openvino as ov

    start = time.perf_counter()
    quantized = nncf.quantize(ov.Core().read_model(str(float_ir / "model.xml")),
                              nncf.Dataset([calibration[i:i + 1] for i in range(len(calibration))]),
                              subset_size=len(calibration))
    (folder / "nncf.openvino").mkdir(exist_ok=True)
    ov.save_model(quantized, str(folder / "nncf.openvino" / "model.xml"), compress_to_fp16=False)
    rows.append({"tool": "NNCF quantize", "runtime": "openvino", "path": str(folder / "nncf.openvino"),
                 "seconds": round(time.perf_counter() - start, 1)})

    if ONNX2TF.exists():
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "calibration.npy", calibration.transpose(0, 2, 3, 1))  # onnx2tf wants NHWC
            seconds = run([str(ONNX2TF), "-i", str(float_onnx), "-o", str(Path(tmp) / "saved"), "-oiqt", "-qt",
                           "per-channel", "-cind", "x", str(Path(tmp) / "calibration.npy"), "[[[[0.0]]]]",
                           "[[[[1.0]]]]", "-n"], cwd=tmp)
            produced = next((Path(tmp) / "saved").glob("*_full_integer_quant.tflite"))
            shutil.copy(produced, folder / "tf_full_integer.tflite")
        rows.append({"tool": "TensorFlow TFLiteConverter (onnx2tf)", "runtime": "litert",
                     "path": str(folder / "tf_full_integer.tflite"), "seconds": round(seconds, 1)})
    else:
        print(f"skipping the TensorFlow peer: {ONNX2TF} missing (python3.11 -m venv .peers/onnx2tf && "
              ".peers/onnx2tf/bin/pip install 'onnx2tf==1.29.*')", file=sys.stderr)
    return rows


RUNTIMES = ("onnxruntime", "litert", "openvino")


def is_peer(row: dict) -> bool:
    return row["tool"] != "float32" and not row["tool"].startswith("shrink-edge")


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def measure(rows: list[dict], test) -> None:
    for row in rows:
        path = Path(row["path"])
        row["size_bytes"] = size(path)
        scores = next(iter(backend(row["runtime"]).predict(path, test.inputs).values()))
        row["accuracy"] = float((scores.argmax(1) == test.labels).mean())
    for runtime in RUNTIMES:
        group = [r for r in rows if r["runtime"] == runtime]
        entries = runner.measure([Path(r["path"]) for r in group], RUNS, WARMUP, threads=1)
        for row, entry in zip(group, entries):
            row["p50_ms"] = round(float(np.percentile(entry["times_ms"], 50)), 4)
        base = next(r for r in group if r["tool"] == "float32")
        fastest_peer = min(r["p50_ms"] for r in group if is_peer(r))
        for row in group:
            row["speedup_vs_float"] = round(base["p50_ms"] / row["p50_ms"], 2)
            row["speedup_vs_fastest_peer"] = round(fastest_peer / row["p50_ms"], 2)
            row["size_vs_float"] = round(base["size_bytes"] / row["size_bytes"], 2)
            row["drop_pt"] = round((base["accuracy"] - row["accuracy"]) * 100, 2)


def test_set(spec: dict):
    data = Path(spec["data"])
    return load_idx_dir(data, "test") if data.is_dir() else load_npz(ROOT / data)


def main() -> None:
    from shrink_edge.model import sample
    from shrink_edge.model.source import ModelSource

    if sys.argv[1:] == ["--remeasure"]:
        return remeasure()
    results = {"conditions": runner.facts(1), "runs": RUNS, "warmup": WARMUP, "models": {}}
    chosen = sys.argv[1:] or list(MODELS)  # e.g. `bench_peers.py digits` for a quick look
    for name, spec in ((n, MODELS[n]) for n in chosen):
        folder = WORK / name / "peers"
        folder.mkdir(parents=True, exist_ok=True)
        test = test_set(spec)
        if Path(spec["data"]).is_dir():  # the exports verify on the sample's held-out slice; the table: full test set
            spec = {**spec, "data": str(ROOT / "shrink_edge/samples/fashion_mnist/heldout.npz")}
        calibration = next(iter(load_npz(ROOT / spec["calibration"]).inputs.values()))[:512]
        source = (sample.model_source() if spec["model"] is None else
                  ModelSource.from_cli(spec["model"], ROOT / spec["weights"], spec["shape"]))
        rows = floats(folder, source)
        rows += ours(name, spec, "PTQ", None)
        rows += ours(name, spec, "QAT", qat_only_recipe(ROOT / spec["recipe"], folder / "qat_only.toml"))
        rows += ours(name, spec, "prune+distill+QAT", ROOT / spec["recipe"])
        if "deep_recipe" in spec:
            rows += ours(name, spec, "deep-prune+distill+QAT", ROOT / spec["deep_recipe"], ("onnx", "tflite"))
        float_onnx, float_tflite, float_ir = (Path(r["path"]) for r in rows[:3])
        rows += peers(folder, float_onnx, float_tflite, float_ir, calibration)
        measure(rows, test)
        results["models"][name] = {"test_images": len(test), "rows": rows}
        print(json.dumps(results["models"][name], indent=1), flush=True)
    write(results)


def remeasure() -> None:
    """Times the last run's artifacts again (after a noisy period on a shared machine), keeping its conversion
    times: `bench_peers.py --remeasure`."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    results["conditions"] = runner.facts(1)
    for name, model in results["models"].items():
        measure(model["rows"], test_set(MODELS[name]))
    write(results)


def write(results: dict) -> None:
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    docs_tables.write("peers")
    plot(results)


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runtimes = list(RUNTIMES)
    fig, axes = plt.subplots(len(results["models"]), len(runtimes), figsize=(13, 4.2 * len(results["models"])),
                             squeeze=False)
    for i, (name, model) in enumerate(results["models"].items()):
        for j, runtime in enumerate(runtimes):
            ax = axes[i][j]
            for row in (r for r in model["rows"] if r["runtime"] == runtime):
                mine = row["tool"].startswith("shrink-edge")
                ax.scatter(row["p50_ms"], 100 * row["accuracy"], s=40, marker="o" if mine else "s",
                           color="#4c72b0" if mine else ("grey" if row["tool"] == "float32" else "#dd8452"))
                ax.annotate(row["tool"].replace("shrink-edge ", ""), (row["p50_ms"], 100 * row["accuracy"]),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_title(f"{name} on {runtime}", fontsize=9)
            ax.set_xlabel("p50 latency, 1 thread (ms)", fontsize=8)
            ax.set_ylabel("top-1 on the test set (%)", fontsize=8)
    fig.suptitle("ours (blue circles) vs PTQ peers (orange squares) and float32 (grey): up and left is better")
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "peers.png", dpi=100, metadata={"Software": None})


if __name__ == "__main__":
    main()
