"""Int8 fidelity head to head on models that are hard for int8: our PTQ variants against the PTQ tools users would
otherwise pick, from the same float model, on the same calibration and held-out data, one run.

Models (trained here on Fashion-MNIST unless said): a ViT-tiny (transformer: LayerNorm, GELU, attention), the sample
as an embedder (class scores and a 256-value embedding), DigitsNet (scikit-learn's digits), FragileNet
(tests/models: a random conv net with one 3000x outlier channel, the textbook int8 failure, not trained), and a BERT
sentence encoder pre-trained here on real English (scripts/text_encoder.py: the standard library's docstrings).
- ours, each through shrink-edge export into ONNX QDQ (onnxruntime), full-int8 TFLite (LiteRT) and the OpenVINO IR
  (OpenVINO CPU): the default
  (histogram observer), minmax and percentile observers, cross-layer equalization, equalization with SmoothQuant,
  and equalization with fallback = "auto" under a budget of SQNR >= 35 dB on every output (the only variant that
  keeps layers in float); on onnxruntime also 8-bit weights stored as int8 (the onnx spec's weight_bits = 8: what a
  VNNI or ARM CPU runs at full speed; the target's default is 7 bits, safe on AVX2); `--target onnx-dynamic` /
  `tflite-dynamic` (int8 weights, activations quantized at run time); and `--target tflite-a16w8` (int8 weights,
  int16 activations: LiteRT's 16x8 mode);
- peers: onnxruntime quantize_static (QDQ, u8 activations / s8 per-channel weights, after quant_pre_process) with
  its MinMax, Entropy and Percentile calibrations, onnxruntime quantize_dynamic, all on our float ONNX;
  ai-edge-quantizer's static_wi8_ai8 on litert-torch's float .tflite; NNCF's quantize and
  quantize_with_accuracy_control (its validation: the worst output's cosine to the float model on 128 calibration
  samples, at most 0.001 lost) on the float IR OpenVINO converts from our float ONNX.
Every artifact runs in its runtime on the held-out data and is compared with the float PyTorch model per output
(cosine mean and worst sample, SQNR) and on top-1 where there are labels (dynamic files one sample at a time, as an
app runs them: their ranges are per run); latency is 1 thread, p50 of one
interleaved run (shrink_edge/devices/runner.py). Writes bench/fidelity.json, then its table
(scripts/docs_tables.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from shrink_edge.backends import backend  # noqa: E402
from shrink_edge.model.data import load_idx_dir  # noqa: E402
from shrink_edge.profiling.devices import runner  # noqa: E402
from shrink_edge.verify.metrics import compare  # noqa: E402

import docs_tables  # noqa: E402

WORK = ROOT / ".bench-fidelity"
CLI = str(Path(sys.executable).with_name("shrink-edge"))
FASHION = Path("/usr/share/datasets/fashion-mnist")
EVAL, CALIBRATION = 1000, 512
EQUALIZE = ["--set", "quantize.equalize=true"]
VARIANTS = {"default": [], "minmax": ["--set", "quantize.observer=minmax"],
            "percentile": ["--set", "quantize.observer=percentile"], "equalize": EQUALIZE,
            "equalize+smooth": [*EQUALIZE, "--set", "quantize.smooth=true"],
            "equalize+fallback": [*EQUALIZE, "--set", "quantize.fallback=auto"], "8-bit weights": [], "dynamic": [],
            "a16w8": []}
FALLBACK_SQNR_DB = 35  # the fallback's budget: every output's SQNR
SPEC_CHANGES = {  # variants that change the target spec: the fallback's budget; onnx's 8-bit weights (VNNI CPUs)
    "equalize+fallback": {"min_sqnr_db = 10": f"min_sqnr_db = {FALLBACK_SQNR_DB}"},
    "8-bit weights": {"weight_bits = 7": "weight_bits = 8", 'weights = "auto"': 'weights = "int8"'}}
FORMATS = {"onnx-int8": "onnxruntime", "tflite-int8": "litert", "openvino-int8": "openvino",
           "onnx-dynamic": "onnxruntime", "tflite-dynamic": "litert", "tflite-a16w8": "litert"}
STATIC = (("onnx-int8", "onnx"), ("tflite-int8", "tflite"), ("openvino-int8", "openvino"))
DYNAMIC = (("onnx-dynamic", "onnx-dynamic"), ("tflite-dynamic", "tflite-dynamic"))  # int8 weights, activations at
# run time (OpenVINO: not built)
OWN_TARGETS = {"dynamic": DYNAMIC, "8-bit weights": STATIC[:1],
               "a16w8": (("tflite-a16w8", "tflite-a16w8"),)}  # int16 activations, int8 weights (LiteRT's 16x8)
ACCURACY_CONTROL = 128, 0.001  # NNCF's validation samples, and the cosine it may lose
PRETRAIN_STEPS = 1000  # masked-LM steps of 32 paragraphs for the text encoder (~10 min on 2 threads)


def fashion(split: str, n: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    data = load_idx_dir(FASHION, split)
    return data.inputs["x"][offset:offset + n], data.labels[offset:offset + n]


def as_vit_images(x: np.ndarray) -> np.ndarray:
    """28x28 grayscale in [0, 1] -> 32x32 with three equal channels."""
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return np.repeat(padded, 3, axis=1).astype(np.float32)


def train(module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, scores=lambda out: out):
    import torch

    torch.manual_seed(0)
    opt = torch.optim.AdamW(module.parameters(), lr)
    steps = epochs * -(-len(x) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    module.train()
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(len(x))
        for i in range(0, len(x), 128):
            batch = order[i:i + 128]
            loss = torch.nn.functional.cross_entropy(scores(module(torch.from_numpy(x[batch]))),
                                                     torch.from_numpy(y[batch]).long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
    return module.eval()


def models(only: list[str]) -> dict[str, dict]:
    """Each model (or those whose name starts with one of `only`): factory, weights, data (.npz) and calibration
    (.npz), trained and written once into WORK."""
    import torch
    from safetensors.torch import load_file, save_file

    import fidelity_models

    torch.set_num_threads(1)
    found = {}
    folder = WORK / "models"
    folder.mkdir(parents=True, exist_ok=True)
    test_x, test_y = fashion("test", EVAL)
    train_x, train_y = fashion("train", 20000)

    wanted = lambda name: not only or name.startswith(tuple(only))  # noqa: E731
    vit = folder / "vit.safetensors"
    if wanted("ViT") and not vit.exists():
        net = train(fidelity_models.build_vit(), as_vit_images(train_x), train_y, epochs=6, lr=2e-3)
        save_file(net.state_dict(), vit)
    np.savez(folder / "vit_data.npz", image=as_vit_images(test_x), y=test_y)
    np.savez(folder / "vit_calibration.npz", image=as_vit_images(train_x[-CALIBRATION:]))
    found["ViT-tiny (Fashion-MNIST)"] = {"model": f"{ROOT}/scripts/fidelity_models.py:build_vit", "weights": vit,
                                         "data": folder / "vit_data.npz",
                                         "calibration": folder / "vit_calibration.npz"}

    embedder = folder / "embedder.safetensors"
    if not embedder.exists():
        state = load_file(ROOT / "shrink_edge" / "samples" / "fashion_mnist" / "weights.safetensors")
        save_file({f"net.{k}": v for k, v in state.items()}, embedder)
    np.savez(folder / "fashion_data.npz", x=test_x, y_scores=test_y)  # the class scores, not the embedding
    np.savez(folder / "fashion_calibration.npz", x=train_x[-CALIBRATION:])
    found["sample as embedder"] = {"model": f"{ROOT}/scripts/fidelity_models.py:build_embedder",
                                   "weights": embedder, "data": folder / "fashion_data.npz",
                                   "calibration": folder / "fashion_calibration.npz"}

    found["DigitsNet"] = {"model": f"{ROOT}/shrink_edge/samples/digits/model.py:build",
                          "weights": ROOT / "shrink_edge" / "samples" / "digits" / "weights.safetensors",
                          "data": ROOT / "shrink_edge" / "samples" / "digits" / "test.npz",
                          "calibration": ROOT / "shrink_edge" / "samples" / "digits" / "train.npz"}
    np.savez(folder / "fragile_data.npz", x=test_x)
    found["FragileNet (outlier channel)"] = {"model": f"{ROOT}/tests/models/fragile_net.py:build", "weights": None,
                                             "data": folder / "fragile_data.npz",
                                             "calibration": folder / "fashion_calibration.npz"}
    if wanted("BERT"):
        found["BERT sentence encoder (Python docs)"] = text_encoder(folder)
    return {name: spec for name, spec in found.items() if wanted(name)}


def text_encoder(folder: Path) -> dict:
    """Paragraphs shuffled (seed 0): EVAL held out, CALIBRATION to calibrate, the rest to pre-train on."""
    import torch
    from safetensors.torch import save_file

    import fidelity_models
    import text_encoder as text

    texts = text.paragraphs()
    order = np.random.default_rng(0).permutation(len(texts))
    weights, vocabulary = folder / "text_encoder.safetensors", folder / "text_vocabulary.txt"
    if not vocabulary.exists():
        weights.unlink(missing_ok=True)  # trained on another vocabulary
    words = text.tokenizer([texts[i] for i in order[EVAL + CALIBRATION:]], vocabulary)
    held, calibration, rest = (text.encoded(words, [texts[i] for i in part]) for part in
                               (order[:EVAL], order[EVAL:EVAL + CALIBRATION], order[EVAL + CALIBRATION:]))
    if not weights.exists():
        torch.manual_seed(0)
        encoder = text.pretrain(fidelity_models.build_text_encoder(), rest, steps=PRETRAIN_STEPS)
        save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, weights)
    np.savez(folder / "text_data.npz", **held)
    np.savez(folder / "text_calibration.npz", **calibration)
    return {"model": f"{ROOT}/scripts/fidelity_models.py:build_text_encoder", "weights": weights,
            "data": folder / "text_data.npz", "calibration": folder / "text_calibration.npz"}


def variant_spec(target: str, variant: str) -> Path | str:
    """The target, or for a variant that changes its spec (SPEC_CHANGES) a copy of its spec so changed."""
    if variant not in SPEC_CHANGES:
        return target
    path = WORK / "specs" / f"{target}_{variant.replace('+', '_').replace(' ', '_')}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "shrink_edge" / "targets" / f"{target}.toml").read_text()
    for old, new in SPEC_CHANGES[variant].items():
        assert old in text, (target, old)
        text = text.replace(old, new, 1)
    path.write_text(text)
    return path


def ours(name: str, spec: dict, variant: str) -> list[dict]:
    """One export per target (onnx, tflite, openvino); budgets are reported, not enforced (the fallback still follows
    its own)."""
    rows = []
    for fmt, target in OWN_TARGETS.get(variant, STATIC):
        out = WORK / "runs" / name.split()[0] / f"{variant}-{target}"
        shutil.rmtree(out, ignore_errors=True)
        args = [CLI, "export", "--model", spec["model"], "--data", str(spec["data"]), "--calibration",
                str(spec["calibration"]), "--out", str(out), "--json", "--no-budget", *VARIANTS[variant],
                "--target", str(variant_spec(target, variant))]
        if spec["weights"]:
            args += ["--weights", str(spec["weights"])]
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)  # the fallback runs under --no-budget too
        if done.returncode:
            rows.append({"tool": f"shrink-edge {variant}", "runtime": FORMATS[fmt],
                         "failed": done.stderr.strip().splitlines()[-1][:400]})
            continue
        manifest = json.loads(done.stdout)
        found = {a["format"]: a["path"] for a in manifest["artifacts"]}
        rows.append({"tool": f"shrink-edge {variant}", "runtime": FORMATS[fmt], "path": found[fmt],
                     "kept_float": manifest.get("keep_float", []), "float_onnx": found.get("onnx"),
                     **({"fallback": manifest["fallback"]} if "fallback" in manifest else {})})
    return rows


def load_float(spec: dict):
    import importlib.util

    import torch
    from safetensors.torch import load_file

    path, factory = spec["model"].rsplit(":", 1)
    loader = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    net = getattr(module, factory)()
    if spec["weights"]:
        net.load_state_dict(load_file(spec["weights"]))
    return net.eval().to(torch.float32)


def peers(folder: Path, float_onnx: Path, float_tflite: Path, float_ir: Path, calibration: dict[str, np.ndarray],
          net) -> list[dict]:
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    names = [i.name for i in ort.InferenceSession(str(float_onnx)).get_inputs()]
    arrays = list(calibration.values())

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([dict(zip(names, (a[i:i + 1] for a in arrays))) for i in range(len(arrays[0]))])

        def get_next(self):
            return next(self.batches, None)

    rows = []
    prepared = folder / "float.pre.onnx"
    quant_pre_process(str(float_onnx), str(prepared))
    for method in ("MinMax", "Entropy", "Percentile"):
        dst, tool = folder / f"ort_static_{method.lower()}.onnx", f"onnxruntime quantize_static {method}"
        try:
            quantize_static(str(prepared), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=getattr(CalibrationMethod, method))
        except Exception as e:  # a peer that fails on this model is a row of the table, in its own words
            rows.append({"tool": tool, "runtime": "onnxruntime", "failed": f"{type(e).__name__}: {e}"[:400]})
            continue
        rows.append({"tool": tool, "runtime": "onnxruntime", "path": str(dst)})
    dst = folder / "ort_dynamic.onnx"
    quantize_dynamic(str(prepared), str(dst), weight_type=QuantType.QInt8)
    rows.append({"tool": "onnxruntime quantize_dynamic", "runtime": "onnxruntime", "path": str(dst)})

    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(str(float_tflite))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    interpreter = Interpreter(model_path=str(float_tflite))
    key, signature = next(iter(interpreter.get_signature_list().items()))
    dtypes = {k: d["dtype"] for k, d in interpreter.get_signature_runner(key).get_input_details().items()}
    samples = [{k: a[i:i + 1].astype(dtypes[k]) for k, a in zip(signature["inputs"], arrays)}  # int64 ids: int32
               for i in range(len(arrays[0]))]
    dst = folder / "ai_edge_quantizer.tflite"
    qt.quantize(qt.calibrate({key: samples})).export_model(str(dst), overwrite=True)
    rows.append({"tool": "ai-edge-quantizer static_wi8_ai8", "runtime": "litert", "path": str(dst)})
    return rows + nncf_peers(folder, float_ir, calibration, net)


def nncf_peers(folder: Path, float_ir: Path, calibration: dict[str, np.ndarray], net) -> list[dict]:
    """NNCF on the float IR, plain and with accuracy control (layers reverted to float until the validation metric,
    the worst output's mean cosine to the float model, loses at most ACCURACY_CONTROL[1])."""
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "0")
    import nncf
    import openvino as ov

    from shrink_edge.model.predict import predict_torch

    names = list(calibration)
    samples = [{k: a[i:i + 1] for k, a in calibration.items()} for i in range(len(calibration[names[0]]))]
    count = ACCURACY_CONTROL[0]
    references = predict_torch(net, [a[:count] for a in calibration.values()])
    validation = [(samples[i], [r[i:i + 1] for r in references]) for i in range(count)]

    def worst_cosine(compiled, items) -> float:
        items, sums = list(items), np.zeros(len(references))
        for inputs, expected in items:
            got = list(compiled(inputs).values())
            for j, (a, b) in enumerate(zip(got, expected)):
                a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
                sums[j] += a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12)
        return float(sums.min() / len(items))

    rows = []
    for tool, quantize in (
            ("NNCF quantize", lambda model: nncf.quantize(model, nncf.Dataset(samples), subset_size=len(samples))),
            ("NNCF quantize_with_accuracy_control", lambda model: nncf.quantize_with_accuracy_control(
                model, nncf.Dataset(samples), nncf.Dataset(validation, lambda item: item[0]),
                validation_fn=worst_cosine, max_drop=ACCURACY_CONTROL[1], subset_size=len(samples)))):
        dst = folder / f"{tool.split()[-1]}.openvino"
        try:
            quantized = quantize(ov.Core().read_model(str(float_ir / "model.xml")))
        except Exception as e:
            rows.append({"tool": tool, "runtime": "openvino", "failed": f"{type(e).__name__}: {e}"[:400]})
            continue
        dst.mkdir(exist_ok=True)
        ov.save_model(quantized, str(dst / "model.xml"), compress_to_fp16=False)
        rows.append({"tool": tool, "runtime": "openvino", "path": str(dst)})
    return rows


def evaluate(row: dict, data: dict[str, np.ndarray], labels, reference: list[np.ndarray], names) -> None:
    from shrink_edge.model.signature import by_name_else_position

    outputs = backend(row["runtime"]).predict(Path(row["path"]), data)
    ordered = by_name_else_position(outputs, names) or list(outputs.values())
    scores = next((i for i, r in enumerate(reference) if r.ndim == 2 and r.shape[1] == 10), None) \
        if labels is not None else None
    metrics = compare(ordered, reference, names, labels, scores)
    row.update(size_bytes=size(Path(row["path"])), accuracy=metrics.accuracy,
               cosine=min(m.cosine for m in metrics.outputs.values()),
               cosine_worst=min(m.cosine_worst for m in metrics.outputs.values()),
               sqnr_db=min(m.sqnr_db for m in metrics.outputs.values()),
               outputs={n: {"cosine": round(m.cosine, 5), "sqnr_db": round(m.sqnr_db, 2)}
                        for n, m in metrics.outputs.items()})


def size(path: Path) -> int:
    """A file's bytes, or a folder's (an OpenVINO IR: model.xml and model.bin)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def main(only: list[str], variants: list[str]) -> None:
    """Every model, or those whose name starts with one of `only` (the others' figures kept from the last run); of
    ours, the `variants` given."""
    import litert_torch
    import torch

    from shrink_edge.backends.openvino.shapes import float_ir as static_float_ir
    from shrink_edge.model.predict import predict_torch
    from shrink_edge.model.signature import output_names

    os.environ.setdefault("SHRINK_EDGE_CACHE_DIR", str(WORK / "cache"))
    out = ROOT / "bench" / "fidelity.json"
    results = json.loads(out.read_text())["models"] if only and out.exists() else {}
    for name, spec in models(only).items():
        print(f"{name} ...", file=sys.stderr, flush=True)
        folder = WORK / "runs" / name.split()[0]
        folder.mkdir(parents=True, exist_ok=True)
        rows = [row for variant in variants for row in ours(name, spec, variant)]
        with np.load(spec["data"]) as f:
            labels = next((f[k] for k in f if k == "y" or k.startswith("y_")), None)
            data = {k: (f[k].astype(np.float32) / 255 if f[k].dtype == np.uint8 else f[k]) for k in f
                    if k != "y" and not k.startswith("y_")}
        with np.load(spec["calibration"]) as f:
            calibration = {k: (f[k].astype(np.float32) / 255 if f[k].dtype == np.uint8 else f[k]) for k in f
                           if k != "y"}
        net = load_float(spec)
        example = tuple(torch.from_numpy(x[:1]) for x in data.values())
        names = output_names(net(*example))
        reference = predict_torch(net, list(data.values()))
        float_onnx = Path(next(r["float_onnx"] for r in rows if r.get("float_onnx")))
        float_tflite, float_ir = folder / "float.tflite", folder / "float.openvino"
        litert_torch.convert(net, example).export(str(float_tflite))
        static_float_ir(float_onnx, float_ir)
        rows += [{"tool": "float32", "runtime": "onnxruntime", "path": str(float_onnx)},
                 {"tool": "float32", "runtime": "litert", "path": str(float_tflite)},
                 {"tool": "float32", "runtime": "openvino", "path": str(float_ir)}]
        rows += peers(folder, float_onnx, float_tflite, float_ir, calibration, net)
        for row in rows:
            if "path" in row:
                evaluate(row, data, labels, reference, names)
        timed = [r for r in rows if "path" in r]
        entries = runner.measure([Path(r["path"]) for r in timed], runs=100, warmup=10, threads=1)
        for row, entry in zip(timed, entries):
            row["p50_ms"] = round(float(np.median(entry["times_ms"])), 4)
        scores = next((i for i, r in enumerate(reference) if r.ndim == 2 and r.shape[1] == 10), None)
        results[name] = {"float_accuracy": float((reference[scores].argmax(1) == labels).mean())
                         if labels is not None else None, "samples": len(labels if labels is not None else
                                                                          next(iter(data.values()))), "rows": rows}
    out.write_text(json.dumps({"conditions": runner.facts(1), "models": results}, indent=1, default=float) + "\n")
    docs_tables.write("fidelity")


if __name__ == "__main__":
    # [--models "BERT,ViT"]: only those (names' beginnings); [--variants default,dynamic]: only those of ours
    options = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    main(options["--models"].split(",") if "--models" in options else [],
         options["--variants"].split(",") if "--variants" in options else list(VARIANTS))
