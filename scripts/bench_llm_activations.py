"""How far the runtimes' own activation arithmetic alone moves an int4 LLM's next tokens: one export's int4 artifacts
(the same integers in every runtime) compared with each other pair by pair, and, in PyTorch on the same
fake-quantized weights, each way a runtime rounds the inputs of its matrix products at run time, alone and per kind
of layer. Run on the trained model and on the pretrained one of bench_llm.py. Writes bench/llm_activations.json and
its table in docs/benchmarks/llm.md.

    .venv/bin/python scripts/bench_llm_activations.py
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_llm  # noqa: E402
from shrink_edge.llm import model as models, text as texts  # noqa: E402
from shrink_edge.llm.weights import Scheme, fake_quantized, quantize_model  # noqa: E402
from shrink_edge.workflows import export_llm as export  # noqa: E402

SCHEME = "int4-g32-gptq"
FIGURES = ROOT / "bench" / "llm_activations.json"
RUNTIMES = {"trained": ["llm-executorch", "llm-gguf", "llm-litert", "llm-onnx", "llm-onnx-weight-only", "llm-openvino"],
            "pretrained": [*bench_llm.PRETRAINED_TARGETS, "llm-onnx-weight-only"]}


def blocks_of_32(x: torch.Tensor, float16_scales: bool) -> torch.Tensor:
    """Symmetric int8 in blocks of 32 along the input: onnxruntime's MatMulNBits at accuracy_level 4 (float32
    scales) and llama.cpp's Q8_0 activations (the same integers, the scale stored as float16)."""
    b = x.reshape(-1, 32)
    scale = b.abs().amax(-1, keepdim=True) / 127
    codes = torch.round(b * torch.where(scale > 0, 1 / scale, torch.zeros_like(scale)))
    return (codes * (scale.half().float() if float16_scales else scale)).reshape(x.shape)


def per_token(x: torch.Tensor) -> torch.Tensor:
    """Asymmetric int8 per token (row): XNNPACK's dynamically quantized kernels (ExecuTorch 8da4w, LiteRT)."""
    low, high = x.amin(-1, keepdim=True).clamp(max=0), x.amax(-1, keepdim=True).clamp(min=0)
    scale = ((high - low) / 255).clamp(min=1e-12)
    zero = torch.round(-128 - low / scale)
    return (torch.clamp(torch.round(x / scale) + zero, -128, 127) - zero) * scale


ROUNDINGS = {"int8 blocks of 32, float32 scales (onnxruntime)": lambda x: blocks_of_32(x, False),
             "int8 blocks of 32, float16 scales (llama.cpp)": lambda x: blocks_of_32(x, True),
             "int8 per token, asymmetric (XNNPACK)": per_token}
KINDS = {"output layer": r"lm_head$", "q, k, v": r"(q|k|v)_proj$", "attention output": r"o_proj$",
         "gate, up": r"(gate|up)_proj$", "down": r"down_proj$"}


def simulated(model_path: Path, context: int, windows: int) -> dict:
    """Next-token agreement (and the median of the largest logit change per position) between the fake-quantized
    int4 model with float activations and the same with each runtime's rounding of the matrix products' inputs,
    between the roundings, and with one rounding on one kind of layer only."""
    lm = models.load(model_path)
    tokens = texts.windows(lm.tokenizer, export._default_text(), context, windows, calibration=windows)
    model = fake_quantized(lm.module, quantize_model(lm.module, Scheme.parse(SCHEME), tokens.calibration)).eval()
    active = {"rounding": None, "pattern": "."}

    def rounded(name):
        def hook(_, args):
            if active["rounding"] is not None and re.search(active["pattern"], name):
                return (active["rounding"](args[0]),)
        return hook

    for name, layer in model.named_modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_pre_hook(rounded(name))
    batch = torch.tensor(tokens.evaluation)

    @torch.no_grad()
    def logits(rounding=None, pattern="."):
        active.update(rounding=rounding, pattern=pattern)
        out = torch.cat([model(batch[i:i + 1]).logits[0, :-1] for i in range(len(batch))]).float().numpy()
        active.update(rounding=None, pattern=".")
        return out

    runs = {"float32": logits(), **{name: logits(r) for name, r in ROUNDINGS.items()}}
    names = list(runs)

    def compare(a, b):
        return {"agreement": round(float((a.argmax(-1) == b.argmax(-1)).mean()), 4),
                "logit_change_median": round(float(np.median(np.abs(a - b).max(-1))), 3)}

    pairs = [[a, b, compare(runs[a], runs[b])] for i, a in enumerate(names) for b in names[i + 1:]]
    blocks = next(iter(ROUNDINGS))
    kinds = {kind: compare(runs["float32"], logits(ROUNDINGS[blocks], pattern)) for kind, pattern in KINDS.items()}
    largest = {}
    for name, layer in model.named_modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_hook(lambda m, args, out, name=name: largest.__setitem__(
                name, max(largest.get(name, 0.0), float(args[0].abs().max()))))
    logits()
    return {"model": lm.name, "positions": int(runs["float32"].shape[0]), "pairs": pairs,
            "by_layer_kind": {"rounding": blocks, **kinds},
            "largest_inputs": dict(sorted(largest.items(), key=lambda kv: -kv[1])[:4])}


def runtimes(model_path: Path, targets: list[str], out: Path) -> dict:
    """One export of SCHEME to `targets`, verified as usual: each artifact against the float model, and every pair."""
    spec = out.with_suffix(".toml")
    out.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(f'description = "activation arithmetic"\nkind = "llm"\ninclude = {json.dumps(targets)}\n')
    start = time.perf_counter()
    report = export.export_llm(model_path, target=str(spec), out=out, schemes=(SCHEME,), enforce_budget=False).report
    rows = [{"target": a["target"], "activations": a["facts"].get("activations", ""),
             "next_token_agreement": a["next_token_agreement"], "perplexity_ratio": a["perplexity_ratio"]}
            for a in report["artifacts"] if "next_token_agreement" in a]
    return {"seconds": round(time.perf_counter() - start), "context": report["context"],
            "windows": report["text"]["windows"], "artifacts": rows,
            "pairs": report["agreement_between_runtimes"][SCHEME]["pairs"]}


def main() -> None:
    figures = {"scheme": SCHEME, "machine": bench_llm.cpu(), "models": {}}
    for part, path in (("trained", bench_llm.trained()), ("pretrained", bench_llm.pretrained())):
        measured = runtimes(path, RUNTIMES[part], ROOT / "build" / "llm" / f"activations-{part}")
        measured["simulated"] = simulated(path, measured["context"], measured["windows"])
        figures["models"][part] = measured
        FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    import docs_tables

    docs_tables.write("llm-activations")


if __name__ == "__main__":
    main()
