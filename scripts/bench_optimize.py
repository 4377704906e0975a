"""Benchmark the sample's recipe (50% channel pruning + distillation + INT8 QAT) end to end.

Runs `shrink-edge optimize --recipe shrink_edge/samples/fashion_mnist/recipe.toml` with an empty cache, times it,
and measures top-1 on the full 10k Fashion-MNIST test set for the float original, the pruned+distilled float
model and the QAT int8 model (in PyTorch). Writes bench/optimize.json.
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from shrink_edge.model import sample
from shrink_edge.model.data import load_idx_dir
from shrink_edge.model.predict import predict_torch
from shrink_edge.model.source import load_program

ROOT = Path(__file__).resolve().parents[1]
FULL_TEST = Path("/usr/share/datasets/fashion-mnist")
BENCH_CACHE = ROOT / ".bench-cache"


def main() -> None:
    test = load_idx_dir(FULL_TEST, "test")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cli = [str(Path(sys.executable).with_name("shrink-edge")), "optimize",
               "--recipe", str(sample.SAMPLE_DIR / "recipe.toml"), "--out", str(out), "--json"]
        start = time.perf_counter()
        shutil.rmtree(BENCH_CACHE, ignore_errors=True)  # a cold run; bench_targets.py reuses what it leaves
        done = subprocess.run(cli, capture_output=True, text=True, env={"SHRINK_EDGE_CACHE_DIR": str(BENCH_CACHE),
                                                                        "PATH": "/usr/bin:/bin"})
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(done.stderr)
        report = json.loads(done.stdout)
        files = {a["stage"]: out / a["file"] for a in report["artifacts"]}
        source = sample.model_source()
        models = {"original": source.load(), "optimized_float": source.load(files["optimized_float"]),
                  "qat_int8": load_program(files["qat_int8"]).module()}
        torch.set_num_threads(1)
        top1 = {name: float((predict_torch(m, test.x).argmax(1) == test.y).mean()) for name, m in models.items()}
    stages = report["stages"]
    figures = {
        "optimize_wall_s": round(wall, 1),
        "full_test_top1": top1,
        "drop_pt_qat_vs_float": round((top1["original"] - top1["qat_int8"]) * 100, 2),
        "params": {k: v["params"] for k, v in stages.items()},
        "macs": {k: v["macs"] for k, v in stages.items()},
        "mac_reduction": round(stages["original"]["macs"] / stages["optimized_float"]["macs"], 2),
        "param_reduction": round(stages["original"]["params"] / stages["optimized_float"]["params"], 2),
        "recipe": report["settings"]["recipe"],
    }
    (ROOT / "bench").mkdir(exist_ok=True)
    (ROOT / "bench" / "optimize.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
