"""Every backend from the sample's one QAT checkpoint, verified on the full 10k Fashion-MNIST test set.

1. `shrink-edge export --target all --recipe shrink_edge/samples/fashion_mnist/recipe.toml --data <10k test set>`
   (reuses the cache: run scripts/bench_optimize.py or the optimize command first to time the recipe), and the
   deeper recipe-deep.toml for the targets it is meant for (tflite, onnx) and Core ML.
2. Sizes against the float32 ONNX of the unpruned model.
3. onnxruntime, 1 thread, interleaved: our int8 ONNX against onnxruntime's own quantize_static output for the
   same pruned float model (QDQ, uint8 activations, int8 per-channel weights, after quant_pre_process).
Writes bench/targets.json, then its table and the README's summary (scripts/docs_tables.py).
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from shrink_edge.model import sample
from shrink_edge.model.data import load_idx_dir
from shrink_edge.profiling.devices import runner
from shrink_edge.backends.onnxruntime.timing import session

import docs_tables
from zoo_peers import quantize_static

ROOT = Path(__file__).resolve().parents[1]
FULL_TEST = Path("/usr/share/datasets/fashion-mnist")
CLI = str(Path(sys.executable).with_name("shrink-edge"))


def export(*args: str) -> dict:
    done = subprocess.run([CLI, "export", *args, "--json"], capture_output=True, text=True,
                          env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(ROOT / ".bench-cache")})
    if done.returncode:
        sys.exit(done.stderr)
    return json.loads(done.stdout)


def ort_static(float_onnx: Path, calibration: np.ndarray, dst: Path) -> None:
    """onnxruntime's quantize_static on the sample's one input (zoo_peers.quantize_static)."""
    quantize_static(float_onnx, {"x": calibration}, dst)


def p50_us(models: dict[str, Path]) -> dict:
    """1 thread, single image, the models taking turns (shrink_edge/devices/runner.py, as `profile` measures)."""
    entries = runner.measure(list(models.values()), runs=1200, warmup=100, threads=1)
    return {name: round(float(np.median(e["times_ms"])) * 1e3, 1) for name, e in zip(models, entries)}


def main() -> None:
    recipe = str(sample.SAMPLE_DIR / "recipe.toml")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        unpruned = export("--target", "onnx", "--out", str(tmp / "unpruned"))
        float32 = next(a for a in unpruned["artifacts"] if a["format"] == "onnx")["size_bytes"]
        report = export("--target", "all", "--recipe", recipe, "--data", str(FULL_TEST),
                        "--calibration", str(sample.CALIBRATION), "--out", str(tmp / "all"))
        rows = _rows(report, "recipe.toml")
        for target in ("tflite", "onnx", "coreml"):  # the deeper cut, where its budgets hold
            deep = export("--target", target, "--recipe", str(sample.SAMPLE_DIR / "recipe-deep.toml"),
                          "--data", str(FULL_TEST), "--calibration", str(sample.CALIBRATION),
                          "--out", str(tmp / f"deep-{target}"))
            rows += _rows(deep, "recipe-deep.toml")
        for row in rows:
            row["smaller_than_unpruned_float32"] = round(float32 / row["size_bytes"], 1)

        test = load_idx_dir(FULL_TEST, "test")
        ours = tmp / "all" / "fashion_mnist.int8.onnx"
        peer = tmp / "ort_static.onnx"
        with np.load(sample.CALIBRATION) as f:
            calibration = f["x"].astype(np.float32) / 255
        ort_static(tmp / "all" / "fashion_mnist.onnx", calibration, peer)
        latency = p50_us({"float32 (pruned)": tmp / "all" / "fashion_mnist.onnx", "ours int8": ours,
                          "onnxruntime quantize_static": peer})
        peer_acc = float((session(peer).run(None, {"x": test.x})[0].argmax(1) == test.y).mean())

    figures = {"reference": report["reference"], "unpruned_float32_onnx_bytes": float32, "artifacts": rows,
               "onnxruntime_1_thread_p50_us": latency,
               "ours_vs_quantize_static_latency_ratio": round(latency["ours int8"]
                                                               / latency["onnxruntime quantize_static"], 3),
               "quantize_static_accuracy": peer_acc}
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "targets.json").write_text(json.dumps(figures, indent=2) + "\n")
    docs_tables.write("targets", "summary")
    print(json.dumps(figures, indent=2))


def _rows(report: dict, recipe: str) -> list[dict]:
    rows = []
    for a in report["artifacts"]:
        m = a["metrics"] or {}
        rows.append({"recipe": recipe, "target": a["target"], "file": a["file"], "runtime": a["runtime"],
                     "size_bytes": a["size_bytes"] if not a["file"].endswith(".tflm") else a["facts"]["model_bytes"],
                     "accuracy": m.get("accuracy"), "agreement": m.get("agreement"),
                     "max_error_lsb": m.get("max_error_lsb"), "error_lsb_p99": m.get("error_lsb_p99"),
                     "facts": a.get("facts", {})})
    return rows


if __name__ == "__main__":
    main()
