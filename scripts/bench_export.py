"""Benchmark `shrink-edge export --target onnx` on the sample: cold and no-op rerun wall times, sizes, and
accuracy on the held-out slice and on the full Fashion-MNIST test set. Writes bench/export_onnx.json."""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from shrink_edge.model.data import load_idx_dir
from shrink_edge.backends import backend

ROOT = Path(__file__).resolve().parents[1]
FULL_TEST = Path("/usr/share/datasets/fashion-mnist")


def timed_export(out: Path, cache: Path) -> tuple[float, dict]:
    cli = [str(Path(sys.executable).with_name("shrink-edge")), "export", "--target", "onnx", "--out", str(out), "--json"]
    start = time.perf_counter()
    done = subprocess.run(cli, capture_output=True, text=True, check=True,
                          env={"SHRINK_EDGE_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"})
    return time.perf_counter() - start, json.loads(done.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp) / "out", Path(tmp) / "cache"
        cold, result = timed_export(out, cache)
        rerun, again = timed_export(out, cache)
        figures = {"cold_export_s": round(cold, 2), "noop_rerun_s": round(rerun, 2), "rerun_reused": again["reused"],
                   "heldout_samples": result["reference"]["samples"],
                   "heldout_reference_top1": result["reference"]["accuracy"], "artifacts": {}}
        test = load_idx_dir(FULL_TEST, "test") if FULL_TEST.is_dir() else None
        for a in result["artifacts"]:
            row = {"size_bytes": a["size_bytes"],
                   **{f"heldout_{k}": v for k, v in a["metrics"].items() if k != "outputs"}}
            if test is not None:
                scores = next(iter(backend(a["runtime"]).predict(out / a["file"], test.inputs).values()))
                row["full_test_top1"] = float((scores.argmax(1) == test.labels).mean())
            figures["artifacts"][a["file"]] = row
    path = ROOT / "bench" / "export_onnx.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
