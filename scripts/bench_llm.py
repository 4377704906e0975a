"""LLM benchmark: our own small Llama-style model (llm/train.py, trained here on Python's documentation text, the
last 10% held out), exported to every LLM runtime in one run with several weight schemes, each artifact verified
through its runtime's prefill/decode against PyTorch and profiled (prefill, decode at 128 and 512 tokens of context,
peak RSS, 1 and 2 threads, the fraction of the memory-bandwidth bound). Writes bench/llm.json and the docs table.

    .venv/bin/python scripts/bench_llm.py            # train once (cached in build/llm/), export, verify, profile
    .venv/bin/python scripts/bench_llm.py --train    # only train the model
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shrink_edge.llm import train  # noqa: E402

SIZE, STEPS, SEED = train.Size(), 800, 0
SCHEMES = ("float", "int8-channel", "int4-g32", "int4-g32-gptq", "int4-g32-gptq-mixed4", "int4-g64", "int4-g64-gptq",
           "int4-channel", "int4-channel-gptq")
PROFILED = ("float", "int8-channel", "int4-g32-gptq")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="store_true", help="only train the model")
    args = parser.parse_args()
    folder = trained()
    if args.train:
        return
    from shrink_edge.profiling.llm import bandwidth_bytes_per_s, profile_llm
    from shrink_edge.workflows.export_llm import export_llm

    import torch

    out = ROOT / "build" / "llm" / "out"
    start = time.perf_counter()
    result = export_llm(folder, "llm-all", out=out, schemes=SCHEMES, enforce_budget=False, windows=16)
    export_seconds = time.perf_counter() - start
    bandwidth = bandwidth_bytes_per_s()
    rows = []
    for a in result.report["artifacts"]:
        row = dict(a)
        if "error" not in a and a["scheme"] in PROFILED:
            row["profile"] = profile_llm(out / a["path"], (1, 2), bandwidth)
        rows.append(row)
    parameters = sum(p.numel() for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(
        folder).parameters())
    figures = {"model": {"name": folder.name, "parameters": parameters, "size": vars(SIZE), "steps": STEPS,
                         "text": "pydoc_data topics (Python's documentation), last 10% held out"},
               "machine": {"cpu": cpu(), "cores": torch.get_num_threads(), "bandwidth_bytes_per_s": round(bandwidth)},
               "export_seconds": round(export_seconds, 1), "context": result.report["context"],
               "text": result.report["text"], "refused": result.report["refused"],
               "agreement_between_runtimes": result.report["agreement_between_runtimes"], "artifacts": rows}
    (ROOT / "bench" / "llm.json").write_text(json.dumps(figures, indent=2) + "\n")
    sys.path.insert(0, str(ROOT / "scripts"))
    import docs_tables

    docs_tables.write("llm")


if __name__ == "__main__":
    main()
