"""The budget as a goal (#32): models that are hard for int8, through `shrink-edge export` to the four host runtimes
(onnx, tflite, openvino, executorch as one group target), once with the default budget and once with a strict one
that plain int8 misses (every output's SQNR 3 dB above the default export's worst member), so that the search runs; each file timed against its runtime's float file and beside the
PTQ peer users reach for first (onnxruntime's quantize_static), on the same data.

Models (zoo/, on data that ships in packages, as scripts/bench_coverage.py makes them): the 1-D pitch regressor with
batch norm after ReLU (trained on tones of known pitch; raw pitch accuracy), the two-head detector (trained on
shapes pasted on photos, with labels; found@0.5 and IoU), MobileNetV2 as a 224x224 embedder without labels (random
weights, batch-norm statistics from photos), and BERT-mini as a sentence encoder (two int64 inputs, English text).

Then `--target all` with defaults, as a user runs it (its seven members, Core ML and the Cortex-M4 included): what each
member ended at, or why it was not written. Per model and runtime: the default export (what each member ended at), the strict export (the step each member
ended at: a remedy of the scheme, int16 activations, layers kept in float; its wall time), each file's size,
worst-output SQNR and cosine, task metric, and p50 (1 thread, one interleaved run per runtime: float, default,
strict, peer). Each model's exports share a cache of their own, new each run: the strict export's search builds
every step cold (its first attempt reuses the default export's files). Writes bench/budget.json, then its table
(scripts/docs_tables.py).

    .venv/bin/python scripts/bench_budget.py [--models pitch_1d,detector]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import bench_coverage as zoo
import docs_tables
from docs_tables import CALIBRATE, TASK_VERIFY, VERIFY
from shrink_edge.config import targets

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("pitch_1d", "detector", "mobilenet_v2", "bert_mini")
MEMBERS = {"onnx": "onnxruntime", "tflite": "litert", "openvino": "openvino", "executorch": "executorch"}
STRICT_MARGIN_DB = 3  # the strict budget: every output's SQNR this much above the default export's worst member
SEARCH_SECONDS = 300  # the strict export's fallback_seconds
RUNS = 40


def group_spec(folder: Path, strict_db: float | None) -> Path:
    """The four host targets as one group; with `strict_db`, each member's spec with min_sqnr_db raised to it."""
    include, strict = [], strict_db is not None
    for name in MEMBERS:
        if strict:
            path = folder / f"{name}.toml"
            path.write_text((targets.TARGETS_DIR / f"{name}.toml").read_text().replace(
                "min_sqnr_db = 10", f"min_sqnr_db = {strict_db:g}"))
            include.append(str(path))
        else:
            include.append(name)
    spec = folder / ("strict.toml" if strict else "host.toml")
    spec.write_text(f'description = "the four host runtimes"\ninclude = {json.dumps(include)}\n\n[quantization]\n'
                    "weights_per_channel = true\ncalibration_samples = 512\n")
    return spec


def export(spec: Path | str, model: str, weights: Path, folder: Path, out: Path, metric: list[str], extra: list[str]) -> dict:
    """One export with its budget enforced: the manifest (members that broke it are not written) and wall time."""
    start = time.perf_counter()
    done = subprocess.run([zoo.CLI, "export", "--target", str(spec), "--model", model, "--weights", str(weights),
                           "--data", str(folder / "data.npz"), "--calibration", str(folder / "calibration.npz"),
                           "--out", str(out), "--json", *metric, *extra],
                          capture_output=True, text=True,
                          env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(folder / "cache")})
    seconds = round(time.perf_counter() - start, 1)
    manifest = out / "manifest.json"
    if not manifest.exists():
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1].removeprefix("error: "), "seconds": seconds}
    return {"manifest": json.loads(manifest.read_text()), "exit": done.returncode, "seconds": seconds,
            **({"message": done.stderr.strip().splitlines()[-1]} if done.returncode else {})}


def members(run: dict, names=tuple(MEMBERS)) -> dict[str, dict]:
    """Per member: what it ended at and its quantized file's figures (or why it was not written)."""
    if "error" in run:
        return {name: {"error": run["error"]} for name in names}
    manifest = run["manifest"]
    search = manifest.get("fallback") or {}
    ended = search.get("members", {})
    found = {}
    for name in names:
        built = ended.get(name, {}).get("target", name)
        step = ended.get(name, {}).get("step") if name in ended else "all-int8"
        if name in manifest.get("failed", {}):
            found[name] = {"failed": manifest["failed"][name], "step": step}
            continue
        if name in manifest.get("refused", {}):
            found[name] = {"refused": manifest["refused"][name]}
            continue
        artifact = next(a for a in manifest["artifacts"] if a["target"] == built and a["format"] not in
                        docs_tables.FLOAT_FORMATS)
        metrics = artifact.get("metrics") or {}
        found[name] = {"step": step, "target": built, "format": artifact["format"], "path": artifact["path"],
                       "bytes": artifact["size_bytes"], "sqnr_db": metrics.get("sqnr_db"),
                       "cosine": metrics.get("cosine"), "task": metrics.get("task")}
    return found


def peer(float_onnx: Path, folder: Path, data: dict, calibration: dict) -> dict:
    """onnxruntime's quantize_static (QDQ, uint8 activations with min/max ranges, int8 per-channel weights, after
    quant_pre_process) on our float ONNX, calibrated on the same data."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    names = list(calibration)
    runs = iter([{k: calibration[k][i:i + 1] for k in names} for i in range(len(calibration[names[0]]))])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(runs, None)

    ready, path = folder / "peer.ready.onnx", folder / "peer.int8.onnx"
    try:
        quant_pre_process(float_onnx, ready, skip_symbolic_shape=True)
        quantize_static(ready, path, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        outputs = [session.run(None, {k: data[k][i:i + 1] for k in names}) for i in range(len(data[names[0]]))]
    except Exception as e:  # noqa: BLE001 - a peer that fails is a row with its error
        return {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return {"path": str(path), "bytes": path.stat().st_size,
            "outputs": [np.concatenate([o[j] for o in outputs]) for j in range(len(outputs[0]))]}


def fidelity(outputs: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    """Worst output's SQNR and mean cosine over samples, as the manifest's metrics (verify.metrics.compare)."""
    from shrink_edge.verify.metrics import compare

    metrics = compare(outputs, reference, [str(i) for i in range(len(reference))])
    return {"sqnr_db": round(float(metrics.worst("sqnr_db")), 2), "cosine": round(float(metrics.worst("cosine")), 6)}


def timed(files: dict[str, Path]) -> dict[str, float]:
    """p50 (ms) of each file of one runtime, 1 thread, one interleaved run."""
    from shrink_edge.profiling.devices import runner

    try:
        entries = runner.measure(list(files.values()), runs=RUNS, warmup=5, threads=1)
    except runner.RunnerError as e:
        return {"error": str(e)}
    return {kind: round(float(np.median(e["times_ms"])), 4) for kind, e in zip(files, entries)}


def measured(name: str, work: Path) -> dict:
    _, file, factory, attr, kind = next(z for z in zoo.ZOO if z[0] == name)
    folder = work / name
    folder.mkdir()
    inputs = getattr(zoo.zoo_module(file), attr)
    data = zoo.make_data(kind, inputs, TASK_VERIFY if kind in zoo.TASKS else VERIFY, 1, labels=True)
    calibration = zoo.make_data(kind, inputs, CALIBRATE, 2)
    np.savez(folder / "data.npz", **data)
    np.savez(folder / "calibration.npz", **calibration)
    weights = zoo.prepared_model(file, factory, kind, calibration, folder)
    metric = ["--metric", f"{ROOT / 'zoo' / 'tasks.py'}:{kind}"] if kind in zoo.TASKS else []
    model = f"{ROOT / 'zoo' / file}:{factory}"
    print(f"{name}: default budget", file=sys.stderr)
    default = export(group_spec(folder, None), model, weights, folder, folder / "default", metric, [])
    worst = min((m["sqnr_db"] for m in members(default).values() if m.get("sqnr_db") is not None), default=30.0)
    strict_db = float(np.ceil(worst + STRICT_MARGIN_DB))
    print(f"{name}: SQNR >= {strict_db:g} dB", file=sys.stderr)
    strict = export(group_spec(folder, strict_db), model, weights, folder, folder / "strict", metric,
                    ["--set", f"quantize.fallback_seconds={SEARCH_SECONDS}"])
    print(f"{name}: --target all", file=sys.stderr)
    every = export("all", model, weights, folder, folder / "all", metric, [])
    entry = {"name": name, "model": f"zoo/{file}:{factory}", "data": kind, "strict_sqnr_db": strict_db,
             "default": members(default),
             "strict": members(strict), "default_seconds": default["seconds"], "strict_seconds": strict["seconds"],
             **({"default_error": default.get("message") or default["error"]} if "manifest" not in default
                or default["exit"] else {}),
             **({"strict_error": strict.get("message") or strict["error"]} if "manifest" not in strict
                or strict["exit"] else {})}
    entry["all"] = {"members": members(every, targets.resolve("all").include), "seconds": every["seconds"],
                    **({"exit": every["exit"]} if "exit" in every else {}),
                    **({"message": every.get("message") or every.get("error")} if every.get("exit", 1) else {})}
    for figures in entry["all"]["members"].values():
        figures.pop("path", None)
    if "manifest" in strict and (search := strict["manifest"].get("fallback")):
        entry["search"] = {"seconds": search["seconds"], "kept_float": search["kept_float"],
                           "steps": [zoo_step(r) for r in search["remedies"]]
                           + [{"settings": {"keep_float": s["keep_float"]}, "held": s.get("held", [])}
                              for s in search.get("steps", [])[1:]]}
    written = default.get("manifest") or strict.get("manifest")
    float_onnx = next((Path(a["path"]) for a in (written or {}).get("artifacts", []) if a["format"] == "onnx"), None)
    reference = [torch_out.numpy() for torch_out in reference_outputs(file, factory, weights, data, inputs)]
    floats = zoo.float_baselines(zoo.trained(file, factory, weights), inputs, float_onnx, folder)
    if executorch := next((a["path"] for a in (written or {}).get("artifacts", []) if a["format"] == "executorch"),
                          None):
        floats["executorch"] = Path(executorch)
    entry["float_bytes"] = {rt: _bytes(p) for rt, p in floats.items()}
    found = peer(float_onnx, folder, {k: data[k] for k in inputs}, calibration) if float_onnx else {}
    if "outputs" in found:
        entry["peer"] = {"tool": "onnxruntime quantize_static (MinMax, QDQ u8/s8 per channel)",
                         "bytes": found["bytes"], **fidelity(found.pop("outputs"), reference)}
    elif found:
        entry["peer"] = {"error": found["error"]}
    entry["p50_ms"] = {}
    for member, runtime in MEMBERS.items():
        files = {"float": floats.get(runtime), **{run: Path(entry[run][member]["path"]) for run in ("default", "strict")
                                                   if "path" in entry[run][member]}}
        if runtime == "onnxruntime" and "path" in found:
            files["peer"] = Path(found["path"])
        files = {k: v for k, v in files.items() if v is not None}
        if len(files) > 1:
            print(f"{name}: timing {runtime}", file=sys.stderr)
            entry["p50_ms"][runtime] = timed(files)
    for run in ("default", "strict"):
        for figures in entry[run].values():
            figures.pop("path", None)
    return entry


def zoo_step(remedy: dict) -> dict:
    """A step before the layers, as the table shows it: its settings, the members that held there, and what kept
    the others (its program missing every budget, an int16 file too slow, a refusal)."""
    return {"settings": remedy["settings"], "held": remedy.get("held", []),
            **{k: remedy[k] for k in ("too_slow", "refused", "program_misses") if k in remedy}}


def reference_outputs(file: str, factory: str, weights: Path, data: dict, inputs: dict) -> list[torch.Tensor]:
    model = zoo.trained(file, factory, weights)
    with torch.no_grad():
        out = model(*(torch.from_numpy(data[k]) for k in inputs))
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(MODELS))
    chosen = parser.parse_args().models.split(",")
    figures_path = ROOT / "bench" / "budget.json"
    kept = {m["name"]: m for m in json.loads(figures_path.read_text())["models"]} if figures_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            kept[name] = measured(name, Path(tmp))
    figures = {"cpu": zoo.cpu_peak(), "strict_margin_db": STRICT_MARGIN_DB, "search_seconds": SEARCH_SECONDS,
               "members": MEMBERS, "models": [kept[n] for n in MODELS if n in kept]}
    figures_path.write_text(json.dumps(figures, indent=1) + "\n")
    docs_tables.write("budget")
    print("\n".join(docs_tables.budget()))


if __name__ == "__main__":
    main()
