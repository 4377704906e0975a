"""The zoo through every target: does each real architecture convert, which ops stay float, how close each output
stays, how big and how fast.

For each model of zoo/ (random weights, seed 0, with batch-norm statistics estimated on the data, so activations
have the ranges a trained model's would), real data that ships in packages: photos from scikit-image (random crops
of its 13 colour photos, ImageNet-normalized), its LFW face crops, English text from scikit-learn's dataset
descriptions hashed into token ids with a padding mask; no package ships speech, so the audio models get
harmonic tones with noise (said in the table). 32 samples calibrate, 16 others verify.
The models with a task in zoo/tasks.py (the detector, the U-Net, the pitch model) are trained briefly instead, on
that task's generated data (shapes pasted on the photos; tones of known pitch), and verified on 128 held-out samples
with labels, their task metric computed on every artifact (`--metric zoo/tasks.py:<task>`).

`shrink-edge export --target T --no-budget --json` per model and target; a target that refuses or fails gives its
one line. Then, per runtime, the float and int8 files are timed interleaved, 1 thread (the profiler's runner), and
int8 MAC/s are set against this CPU's int8 peak, computed from its vector width and clock (see PEAK below). In the
same run, each runtime's own int8 quantizer (zoo_peers.py: onnxruntime quantize_static, ai-edge-quantizer, NNCF,
ExecuTorch's XNNPACKQuantizer flow) quantizes the same float file on the same calibration samples; its file is verified
on the same data (each output's SQNR and cosine to the PyTorch model) and timed in the same interleaved run.
Writes bench/coverage.json, then its tables (scripts/docs_tables.py).

    .venv/bin/python scripts/bench_coverage.py [--models mobilenet_v2,gru_kws] [--targets onnx,tflite] [--no-peers]
(a run of some models or targets keeps the other figures in bench/coverage.json)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from shrink_edge.config.targets import per_backend

import docs_tables
import zoo_peers
from docs_tables import CALIBRATE, TASK_VERIFY, TIMED, VERIFY

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("shrink-edge"))
TARGETS = tuple(spec.name for spec in per_backend())  # one per backend: coreml, cortex-m4, ethos-u55, onnx, ...

# (name, file in zoo/, factory, inputs attribute, data kind); the data kind of a trained model is its task in
# zoo/tasks.py, which also names its metric function there
ZOO = [
    ("mobilenet_v2", "mobilenet.py", "build", "INPUTS", "photos"),
    ("mobilenet_v3_small", "mobilenet.py", "build_v3", "INPUTS", "photos"),
    ("resnet18", "resnet.py", "build", "INPUTS", "photos"),
    ("efficientnet_lite", "resnet.py", "build_efficientnet", "INPUTS", "photos"),
    ("detector", "vision_heads.py", "build", "INPUTS", "detection"),
    ("unet", "vision_heads.py", "build_unet", "INPUTS", "segmentation"),
    ("face_prelu", "vision_heads.py", "build_face", "INPUTS", "photos"),
    ("ds_cnn_kws", "audio.py", "build", "INPUTS", "tones"),
    ("gru_kws", "audio.py", "build_gru", "INPUTS", "tones"),
    ("lstm_kws", "audio.py", "build_lstm", "INPUTS", "tones"),
    ("pitch_1d", "audio.py", "build_pitch", "WAVE_INPUTS", "pitch"),
    ("vit_tiny", "transformers.py", "build", "INPUTS", "photos"),
    ("bert_mini", "transformers.py", "build_bert", "TEXT_INPUTS", "text"),
    ("hf_bert", "transformers.py", "build_hf_bert", "HF_TEXT_INPUTS", "text"),
]
TASKS = ("detection", "segmentation", "pitch")

# int8 multiply-adds per cycle per core: AVX2 VPMADDUBSW, 32 u8 x s8 products into 16 sums per 256-bit register, on
# two ports = 64 (AVX-512 VNNI: VPDPBUSD, 64 per 512-bit register, two ports = 128). Computed, not measured.
PEAK_PER_CYCLE = {"avx512_vnni": 128, "avx2": 64}


def zoo_module(file: str):
    spec = importlib.util.spec_from_file_location(f"zoo_{Path(file).stem}", ROOT / "zoo" / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photos(n: int, shape, seed: int) -> np.ndarray:
    """Random crops of scikit-image's colour photos, resized, ImageNet-normalized, NCHW."""
    from skimage import data, transform

    pictures = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.cat(), data.colorwheel(),
                data.immunohistochemistry(), data.hubble_deep_field(), data.retina(), *data.stereo_motorcycle()[:2],
                data.logo()[..., :3], data.horse()]
    pictures = [np.stack([p] * 3, -1) if p.ndim == 2 else p for p in pictures]
    rng = np.random.default_rng(seed)
    _, c, h, w = shape
    out = np.empty((n, c, h, w), np.float32)
    for i in range(n):
        p = pictures[rng.integers(len(pictures))]
        side = int(rng.integers(min(p.shape[:2]) // 3, min(p.shape[:2]) + 1))
        y, x = rng.integers(0, p.shape[0] - side + 1), rng.integers(0, p.shape[1] - side + 1)
        crop = transform.resize(p[y:y + side, x:x + side].astype(np.float32) / (255 if p.dtype == np.uint8 else 1),
                                (h, w), anti_aliasing=True)
        crop = (crop - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        out[i] = crop.transpose(2, 0, 1)[:c]
    return out


def tones(n: int, shape, seed: int) -> np.ndarray:
    """Harmonic tones with noise: as waveforms, or as (frames x 10) log-spectra for the MFCC-input models."""
    rng = np.random.default_rng(seed)
    length = 16000 // 2 if len(shape) > 2 else shape[-1]
    t = np.arange(length) / 16000
    waves = []
    for _ in range(n):
        f0 = rng.uniform(80, 800)
        wave = sum(rng.uniform(0.1, 1) / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6))
        waves.append(wave + rng.normal(0, 0.05, length))
    waves = np.array(waves, np.float32)
    if len(shape) == 2:
        return waves / np.abs(waves).max(1, keepdims=True)
    frames, bins = shape[2], shape[3]
    hop = length // frames
    spectra = np.abs(np.fft.rfft(waves[:, :frames * hop].reshape(n, frames, hop), axis=-1))
    bands = np.array_split(spectra, bins, axis=-1)
    return np.log1p(np.stack([b.mean(-1) for b in bands], -1))[:, None].astype(np.float32)


def text(n: int, length: int, vocabulary: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of English from scikit-learn's dataset descriptions, words hashed into ids; padded, with a mask."""
    import zlib

    from sklearn import datasets

    words = " ".join(f().DESCR for f in (datasets.load_iris, datasets.load_digits, datasets.load_wine,
                                         datasets.load_breast_cancer, datasets.load_diabetes)).split()
    ids = np.array([1 + zlib.crc32(w.lower().encode()) % (vocabulary - 1) for w in words])
    rng = np.random.default_rng(seed)
    tokens, mask = np.zeros((n, length), np.int64), np.zeros((n, length), np.int64)
    for i in range(n):
        size = int(rng.integers(length // 2, length + 1))
        start = int(rng.integers(0, len(ids) - size))
        tokens[i, :size], mask[i, :size] = ids[start:start + size], 1
    return tokens, mask


def make_data(kind: str, inputs: dict, n: int, seed: int, labels: bool = False) -> dict:
    if kind in TASKS:  # one input; labels for the task metric
        (name, _), = inputs.items()
        x, y = zoo_module("tasks.py").held_out(kind, n, seed)
        return {name: x, "y": y} if labels else {name: x}
    if kind == "photos":
        return {name: photos(n, shape, seed) for name, (shape, _) in inputs.items()}
    if kind == "tones":
        return {name: tones(n, shape, seed) for name, (shape, _) in inputs.items()}
    (ids_name, ((_, length), _)), (mask_name, _) = inputs.items()
    ids, mask = text(n, length, 1000, seed)
    return {ids_name: ids, mask_name: mask}


def prepared_model(file: str, factory: str, kind: str, data: dict, folder: Path) -> Path:
    """Trained briefly for its task, or random weights (seed 0) with batch-norm statistics estimated on the data; as
    safetensors."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = getattr(zoo_module(file), factory)()
    if kind in TASKS:
        zoo_module("tasks.py").train(kind, model)
    else:
        model.train()
        with torch.no_grad():
            for i in range(0, len(next(iter(data.values()))), 16):
                model(*(torch.from_numpy(x[i:i + 16]) for x in data.values()))
    weights = folder / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.eval().state_dict().items()}, weights)
    return weights


def export(target: str, model: str, weights: Path, data: Path, calibration: Path, out: Path, cache: Path,
           metric: list[str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run([CLI, "export", "--target", target, "--model", model, "--weights", str(weights),
                           "--data", str(data), "--calibration", str(calibration), "--out", str(out), "--no-budget",
                           "--json", *metric], capture_output=True, text=True, env={**os.environ, "SHRINK_EDGE_CACHE_DIR": str(cache)})
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"converts": False, "error": lines[-1].removeprefix("error: "), "seconds": seconds}
    return {"converts": True, "manifest": json.loads(done.stdout), "seconds": seconds}


def trained(model_file: str, factory: str, weights: Path) -> torch.nn.Module:
    from safetensors.torch import load_file

    model = getattr(zoo_module(model_file), factory)()
    model.load_state_dict(load_file(weights))
    return model.eval()


def float_baselines(model: torch.nn.Module, inputs: dict, onnx_float: Path | None, folder: Path) -> dict[str, Path]:
    """Float files for the runtimes whose target writes only int8: a float .tflite (litert-torch) and a float
    OpenVINO IR (from the float ONNX, static inputs as ours), to time int8 against."""
    import contextlib
    import io

    found = {}
    examples = tuple(torch.zeros(shape, dtype=getattr(torch, dtype)) for shape, dtype in inputs.values())
    try:
        import litert_torch

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litert_torch.convert(model.eval(), examples).export(str(folder / "float.tflite"))
        found["litert"] = folder / "float.tflite"
    except Exception as e:  # noqa: BLE001 - a float conversion that fails leaves that runtime without a baseline
        print(f"  float .tflite: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
    if onnx_float is not None:
        from shrink_edge.backends.openvino.shapes import float_ir

        found["openvino"] = float_ir(onnx_float, folder / "float.openvino")
        found["onnxruntime"] = onnx_float
    return found


def macs(model_file: str, factory: str, inputs: dict) -> int:
    """Multiply-adds of one inference: torch-pruning's count, with each recurrent layer's counted here instead (it
    counts an LSTM's about 10 times over: 101 M for lstm_kws's 9.9 M)."""
    import torch_pruning as tp

    model = getattr(zoo_module(model_file), factory)().eval()
    examples = tuple(torch.zeros(shape, dtype=getattr(torch, dtype)) for shape, dtype in inputs.values())
    total, _, per_layer, _ = tp.utils.count_ops_and_params(model, examples, layer_wise=True)
    recurrent = {}
    hooks = [m.register_forward_hook(lambda m, args, out: recurrent.__setitem__(m, _recurrent_macs(m, args[0])))
             for m in model.modules() if isinstance(m, torch.nn.RNNBase)]
    with torch.no_grad():
        model(*examples)
    for hook in hooks:
        hook.remove()
    return int(total - sum(per_layer[m] for m in recurrent) + sum(recurrent.values()))


def _recurrent_macs(rnn: torch.nn.RNNBase, x: torch.Tensor) -> int:
    """Per step and layer: gates x hidden x (input + hidden) per direction."""
    gates = {"LSTM": 4, "GRU": 3}.get(rnn.mode, 1)
    steps = x.shape[1] if rnn.batch_first else x.shape[0]
    directions = 2 if rnn.bidirectional else 1
    widths = [rnn.input_size] + [rnn.hidden_size * directions] * (rnn.num_layers - 1)
    return sum(steps * directions * gates * rnn.hidden_size * (w + rnn.hidden_size) for w in widths)


def cpu_peak() -> str:
    """This CPU's int8 peak, as text (docs_tables.recorded_peak reads the number back), with its name; AMX tiles,
    where the CPU has them, are named but not counted (the peak is the vector units')."""
    flags, mhz, name = set(), 0.0, ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
        if line.startswith("cpu MHz") and not mhz:
            mhz = float(line.split(":", 1)[1])
        if line.startswith("model name") and not name:
            name = line.split(":", 1)[1].strip()
    isa = "avx512_vnni" if "avx512_vnni" in flags else "avx2"
    tiles = "; amx_int8 tiles, not counted" if "amx_int8" in flags else ""
    return f"{PEAK_PER_CYCLE[isa]} int8 MACs/cycle ({isa}, computed{tiles}) at {mhz:.0f} MHz, {name}"


def timings(pairs: dict[str, tuple[Path, Path]], peers: dict[str, dict], runs: int = 60) -> dict[str, dict]:
    """Per runtime: float and int8 p50 (ms) and the float file's size, and the peer's where it made a file (its
    record gets "ms" and "speedup"), timed interleaved, 1 thread."""
    from shrink_edge.files import size_bytes
    from shrink_edge.profiling.devices import runner

    results = {}
    for runtime, (float_file, int8_file) in pairs.items():
        peer = peers.get(runtime, {})
        files = [float_file, int8_file] + ([peer["path"]] if "path" in peer else [])
        try:
            entries = runner.measure(files, runs=runs, warmup=10, threads=1)
        except runner.RunnerError as e:
            results[runtime] = {"error": str(e)}
            continue
        f, q, *other = (float(np.median(e["times_ms"])) for e in entries)
        results[runtime] = {"float_ms": round(f, 4), "int8_ms": round(q, 4), "int8_speedup": round(f / q, 2),
                            "float_bytes": size_bytes(float_file)}
        if peer:
            record = {k: v for k, v in peer.items() if k != "path"}
            if other:
                record.update(ms=round(other[0], 4), speedup=round(f / other[0], 2))
            results[runtime]["peer"] = record
    return results


def verified_peers(peers: dict[str, dict], module: torch.nn.Module, data: dict, inputs: dict,
                   outputs: list[str]) -> None:
    """Each peer's file run in its runtime on the verification inputs, against the PyTorch model: the worst output's
    SQNR and cosine, and its size, added to its record (a runtime that cannot run it: "error")."""
    from shrink_edge.backends import backend
    from shrink_edge.files import size_bytes
    from shrink_edge.model.predict import predict_torch
    from shrink_edge.model.signature import by_name_else_position
    from shrink_edge.verify.metrics import compare

    arrays = {k: data[k] for k in inputs}
    reference = predict_torch(module, list(arrays.values()))
    for runtime, peer in peers.items():
        if "path" not in peer:
            continue
        path = Path(peer["path"])
        try:
            got = backend(runtime).predict(path, arrays)
            metrics = compare(by_name_else_position(got, tuple(outputs)), reference, outputs)
        except Exception as e:  # noqa: BLE001 - a peer's file its runtime cannot run is a row with the reason
            peer["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
            del peer["path"]
            continue
        peer.update(sqnr_db=round(metrics.worst("sqnr_db"), 2), cosine=round(metrics.worst("cosine"), 4),
                    size_bytes=size_bytes(path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=",".join(z[0] for z in ZOO))
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--no-peers", action="store_true", help="without the runtimes' own quantizers")
    parser.add_argument("--no-timings", action="store_true",
                        help="conversion, fidelity and size only: the recorded timings stay (e.g. on another CPU)")
    args = parser.parse_args()
    chosen, targets = args.models.split(","), args.targets.split(",")
    if "openvino" in targets and "onnx" not in targets and not args.no_timings:
        targets.append("onnx")  # its float file is OpenVINO's float baseline
        print("--targets: onnx added (OpenVINO's float IR is made from its float file)", file=sys.stderr)
    figures = ROOT / "bench" / "coverage.json"
    peak_text = cpu_peak()
    partial = figures.exists() and (len(chosen) < len(ZOO) or len(targets) < len(TARGETS))
    if (args.no_timings or partial) and figures.exists():
        peak_text = json.loads(figures.read_text())["peak"]  # the table's; a rerun's own CPU goes with its models
    cache = ROOT / ".bench-cache"
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, file, factory, attr, kind in ZOO:
            if name not in chosen:
                continue
            print(f"{name}", file=sys.stderr)
            folder = Path(tmp) / name
            folder.mkdir()
            inputs = getattr(zoo_module(file), attr)
            data = make_data(kind, inputs, TASK_VERIFY if kind in TASKS else VERIFY, 1, labels=True)
            calibration = make_data(kind, inputs, CALIBRATE, 2)
            np.savez(folder / "data.npz", **data)
            np.savez(folder / "calibration.npz", **calibration)
            weights = prepared_model(file, factory, kind, calibration, folder)
            metric = ["--metric", f"{ROOT / 'zoo' / 'tasks.py'}:{kind}"] if kind in TASKS else []
            entry = {"name": name, "model": f"zoo/{file}:{factory}", "data": kind, "macs": macs(file, factory, inputs),
                     "inputs": {k: [list(s), d] for k, (s, d) in inputs.items()}, "targets": {}}
            for target in targets:
                result = export(target, str(ROOT / "zoo" / file) + f":{factory}", weights, folder / "data.npz",
                                folder / "calibration.npz", folder / target, cache, metric)
                print(f"  {target}: {'ok' if result['converts'] else result['error'][:200]} ({result['seconds']} s)",
                      file=sys.stderr)
                entry["targets"][target] = result
            files = {a["format"]: Path(a["path"]) for r in entry["targets"].values() if r["converts"]
                     for a in r["manifest"]["artifacts"]}
            floats = {} if args.no_timings else float_baselines(trained(file, factory, weights), inputs,
                                                                files.get("onnx"), folder)
            int8 = {runtime: files.get(fmt) for runtime, fmt in TIMED.items()}
            if "executorch" in files:
                floats["executorch"] = files["executorch"]
            floats = {runtime: f for runtime, f in floats.items() if int8.get(runtime)}  # the chosen targets' only
            peers = {}
            if not (args.no_peers or args.no_timings):
                module = trained(file, factory, weights)
                peers = zoo_peers.build(module, calibration, floats, folder)
                outputs = next(r["manifest"]["signature"]["outputs"] for r in entry["targets"].values()
                               if r["converts"])
                verified_peers(peers, module, data, inputs, outputs)
                print(f"  peers: {', '.join(p['tool'] + ('' if 'path' in p else ' failed') for p in peers.values())}",
                      file=sys.stderr)
            entry["timings"] = {} if args.no_timings else timings({rt: (floats[rt], q) for rt, q in int8.items()
                                                                    if q and rt in floats}, peers)
            if entry["timings"]:
                entry["peak"] = cpu_peak()
            for result in entry["targets"].values():  # keep the figures, not the paths of a temporary folder
                for a in result.get("manifest", {}).get("artifacts", []):
                    a.pop("path", None)
            entries.append(entry)
    (ROOT / "bench").mkdir(exist_ok=True)
    if partial:
        # a rerun of some models or targets: keep the other figures
        order = [z[0] for z in ZOO]
        kept = {e["name"]: e for e in json.loads(figures.read_text())["models"]}
        for entry in entries:
            old = kept.setdefault(entry["name"], entry)
            if old is not entry:
                old["targets"].update(entry["targets"])
                old["timings"].update(entry["timings"])
                if "peak" in entry:
                    old["peak"] = entry["peak"]
        entries = sorted(kept.values(), key=lambda e: order.index(e["name"]))
    figures.write_text(json.dumps({"peak": peak_text, "models": entries}, indent=1) + "\n")
    docs_tables.write("coverage", "coverage-peers")
    print("\n".join(docs_tables.coverage()))


if __name__ == "__main__":
    main()
