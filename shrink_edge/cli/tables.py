"""Rich tables for what the commands print."""
from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table

from ..workflows.export import ExportResult


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB" if n >= 100 * 1024 else f"{n / 1024:,.1f} KB"


def _pct(value) -> str:
    return f"{value:.2%}" if value is not None else ""


def _fidelity(mt: dict) -> tuple[str, str, str]:
    """cosine, SQNR and error columns of one output's (or the worst output's) metrics."""
    sqnr = "exact" if mt.get("sqnr_db") is None else f"{mt['sqnr_db']:.1f} dB"
    error = (f"{mt['error_lsb_p99']:.0f}/{mt['max_error_lsb']:.0f} LSB" if mt.get("max_error_lsb") is not None
             else f"{mt['max_abs_error']:.3g}")
    return f"{mt['cosine']:.4f}", sqnr, error


def export_table(result: ExportResult) -> Table:
    m = result.manifest
    ref = m["reference"]
    outputs = m.get("signature", {}).get("outputs", [])
    title = f"{m['model']} -> {m['target']}" + (" (unchanged: nothing to do)" if result.reused else "")
    table = Table(title=title)
    widest = max(len(a["file"]) for a in m["artifacts"])
    table.add_column("artifact", no_wrap=True, min_width=widest)
    table.add_column("runtime", no_wrap=True)
    for column in ("size", "top-1", "agree", "cosine", "SQNR", "error"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_row("PyTorch reference", ref["runtime"], "", _pct(ref["accuracy"]), "", "", "", "")
    for a in m["artifacts"]:
        mt = a["metrics"]
        size = _kb(a.get("facts", {}).get("model_bytes", a["size_bytes"]))  # a TFLM bundle: its model
        if mt is None:
            table.add_row(a["file"], a["runtime"], size, "skipped", "", "", "", "")
            continue
        table.add_row(a["file"], a["runtime"], size, _pct(mt["accuracy"]), _pct(mt["agreement"]), *_fidelity(mt))
        if len(outputs) > 1:
            for name, own in mt["outputs"].items():
                table.add_row(f"  {name}", "", "", "", "", *_fidelity(own))
    notes = sorted({a["facts"]["verification_skipped"] for a in m["artifacts"]
                    if "verification_skipped" in a.get("facts", {})})
    worst = "; cosine, SQNR, error: the worst output's, then each output's" if len(outputs) > 1 else ""
    table.caption = "\n".join([f"verified on {ref['samples']} held-out samples against {ref['runtime']} "
                               "(cosine: mean per sample; error: p99/max in output LSB against an int8 reference, "
                               f"else max abs{worst}); artifacts and manifest.json in {result.out}",
                               *(f"skipped: {n}" for n in notes),
                               *(f"refused by {name}: {why}" for name, why in m.get("refused", {}).items()),
                               *(f"{name} broke its budget, not written: {'; '.join(why)}"
                                 for name, why in m.get("failed", {}).items())])
    return table


def optimize_table(result) -> Table:
    m = result.manifest
    table = Table(title=f"{m['model']} optimized" + (" (unchanged: nothing to do)" if result.reused else ""))
    table.add_column("stage")
    for column in ("params", "MACs", "top-1", "cosine"):
        table.add_column(column, justify="right")
    for stage, row in m["stages"].items():
        table.add_row(stage.replace("_", " "), f"{row['params']:,}", f"{row['macs']:,}", _pct(row["accuracy"]),
                      f"{row['cosine']:.4f}")
    files = ", ".join(a["file"] for a in m["artifacts"])
    table.caption = (f"top-1 (where there are labels) and cosine to the original (worst output) on "
                     f"{m['evaluated_on']} held-out samples; wrote {files} in {result.out}")
    return table


def profile_table(report: dict) -> Group:
    return Group(*(_device_table(profile) for profile in report["profiles"]))


def _device_table(profile: dict) -> Table:
    c, results = profile["conditions"], profile["results"]
    where = c["device"] + (f" ({c['abi']})" if "abi" in c else "")
    table = Table(title=f"latency on {where}, {c['threads']} thread{'s' if c['threads'] > 1 else ''}"
                  + (" [EMULATED: not a latency]" if c.get("emulated") else ""))
    table.add_column("artifact", no_wrap=True)
    table.add_column("runtime", no_wrap=True)
    counted = any("instructions" in r for r in results)
    for column in ("p50 ms", "p90 ms", "min ms", "init ms", "mem MB", "ratio") + (("instructions",) if counted else ()):
        table.add_column(column, justify="right", no_wrap=True)
    figure = lambda r, key, digits: "" if r.get(key) is None else f"{r[key]:.{digits}f}"  # noqa: E731
    for r in results:
        table.add_row(Path(r["artifact"]).name, r["runtime"],
                      figure(r, "p50_ms", 3) + (" (noisy)" if r.get("noisy") else ""), figure(r, "p90_ms", 3),
                      figure(r, "min_ms", 3), figure(r, "init_ms", 1), figure(r, "memory_mb", 1),
                      f"{r['p50_ratio_to_first']:.2f}x" if "p50_ratio_to_first" in r else "",
                      *((f"{r['instructions']:,}" if "instructions" in r else "",) if counted else ()))
    how = ("one at a time by benchmark_model" if c.get("runner") == "benchmark_model" else "interleaved")
    table.caption = (f"{results[0]['runs']} runs after {results[0].get('warmup', '?')} warm-up, {how}; "
                     f"{c.get('cpu', c.get('abi', ''))}, load {c.get('load_average', ['?'])[0]}; "
                     "mem: RSS growth while loading (the first artifact of a runtime also loads its libraries)")
    return table


LLM_BUDGET = ("max_perplexity_ratio", "min_next_token_agreement", "min_greedy_match_tokens",
              "max_float_perplexity_ratio")


def llm_table(report: dict) -> Table:
    """One row per LLM artifact: what it holds and how close to the float model it runs."""
    table = Table(title=f"{report['model']} -> {report['target']} (held-out text: {report['text']['windows']} "
                        f"windows of {report['context']} tokens, greedy {report['text']['new_tokens']} tokens)")
    for column in ("target", "scheme", "file", "size", "bits/weight", "int4/int8/float", "ppl ratio", "KL",
                   "agreement", "greedy match", "status"):
        table.add_column(column)
    for a in report["artifacts"]:
        if "error" in a:
            table.add_row(a["target"], a["scheme"], "", "", "", "", "", "", "", "", f"failed: {a['error']}")
            continue
        f = a["facts"]
        status = "; ".join(a["budget_broken"]) if a["budget_broken"] else "ok"
        if "skipped" in a:
            table.add_row(a["target"], a["scheme"], a["path"], f"{a['size_bytes']:,}", f"{a['bits_per_weight']:.2f}",
                          f"{f['matmul_int4']}/{f['matmul_int8']}/{f['matmul_float']}", "", "", "", "",
                          f"{status if a['budget_broken'] else 'written'}, not run: {a['skipped']}")
            continue
        table.add_row(a["target"], a["scheme"], a["path"], f"{a['size_bytes']:,}", f"{a['bits_per_weight']:.2f}",
                      f"{f['matmul_int4']}/{f['matmul_int8']}/{f['matmul_float']}", f"{a['perplexity_ratio']:.4f}",
                      f"{a['kl_divergence']:.5f}", f"{a['next_token_agreement']:.3f}",
                      f"{a['greedy_match_tokens']:.0f}/{a['greedy_new_tokens']}", status)
    notes = [f"{scheme}: {b['min_agreement']:.1%} ({' vs '.join(b['between'])})"
             for scheme, b in report.get("agreement_between_runtimes", {}).items()]
    if notes:
        notes = ["lowest next-token agreement between two artifacts of a scheme: " + ", ".join(notes)]
    if report.get("refused"):
        notes.append("refused: " + "; ".join(report["refused"]))
    table.caption = "\n".join(notes) or None
    return table


def llm_profile_table(results: list[dict]) -> Table:
    table = Table(title="LLM artifacts")
    for column in ("artifact", "device", "size", "threads", "prefill tok/s", "TTFT ms", "decode tok/s @128", "@512",
                   "peak RSS MB", "of bandwidth bound"):
        table.add_column(column)
    for r in results:
        device = r["device"] + (" (emulated)" if r.get("emulated") else "")
        if "skipped" in r:
            table.add_row(r["artifact"], device, f"{r['size_bytes']:,}", "", "", "", "", "", "",
                          f"not run: {r['skipped']}")
        for run in r.get("runs", []):
            at512 = run.get("decode_tokens_per_s_at_512")
            fraction = run.get("bandwidth_fraction")
            table.add_row(r["artifact"], device, f"{r['size_bytes']:,}", str(run["threads"]),
                          f"{run['prefill_tokens_per_s']:,.0f}", f"{run['time_to_first_token_ms']:.1f}",
                          f"{run['decode_tokens_per_s']:,.0f}", f"{at512:,.0f}" if at512 else "-",
                          f"{run['peak_rss_bytes'] / 2 ** 20:.0f}", f"{fraction:.1%}" if fraction is not None else "-")
    if bandwidth := next((r["bandwidth_bytes_per_s"] / 1e9 for r in results if "bandwidth_bytes_per_s" in r), None):
        table.caption = (f"memory copy bandwidth {bandwidth:.1f} GB/s; bound = bandwidth / file bytes (every weight "
                         "read once per decoded token)")
    if any(r.get("emulated") for r in results):
        table.caption = ((table.caption or "") + "; emulated: " + next(r["note"] for r in results if r.get("emulated"))).lstrip("; ")
    return table


def targets_table(specs, needs: dict[str, list[str]]) -> Table:
    """Each target, and `ready` or the pip install that its backends need (a group runs the members it can)."""
    from ..backends import install_hint

    table = Table(title="targets")
    for column in ("name", "runtime", "artifacts", "budget", "description", "this install"):
        table.add_column(column)
    for spec in specs.values():
        budget = ", ".join(f"{k}={v}" for k, v in vars(spec.budget).items() if v not in (None, False)
                           and (spec.kind == "llm") == (k in LLM_BUDGET))
        table.add_row(spec.name, spec.runtime, ", ".join(spec.artifacts or spec.schemes), budget, spec.description,
                      install_hint(needs[spec.name]) if needs[spec.name] else "ready")
    return table


def inspect_table(info: dict) -> Table:
    table = Table(title=f"{info['path']} ({info['format']}, {info['size_bytes']:,} bytes)")
    table.add_column("")
    table.add_column("")
    for io in ("inputs", "outputs"):
        for v in info[io]:
            table.add_row(io[:-1], f"{v['name']}: {v['dtype']} {v['shape']}")
    for op, n in info["ops"].items():
        table.add_row("op", f"{op} x{n}")
    return table


def debug_table(result: dict, top: int = 10) -> Table:
    """The worst layers first: what keeping each alone in float would bring, and where each artifact departs."""
    formats = result.get("artifacts", [])
    caption = ("SQNR in dB. output: the layer's output against float; only int8 / only float: the model's SQNR with that layer "
               "alone in int8 / alone kept in float" + (f"; {', '.join(formats)}: the artifact's own tensor there "
                                                       "against the int8 program" if formats else ""))
    table = Table(title=f"{result['model']} int8 ({result['target']} scheme), {result['samples']} samples: "
                        f"SQNR {result['int8_sqnr_db']:.1f} dB, cosine {result['int8_cosine']:.4f}",
                  caption=caption + (f". {result['caveat']}" if result.get("caveat") else ""))
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    for column in ("output", "only int8", "only float", "gain", *(f.replace("-int8", "") for f in formats)):
        table.add_column(column, justify="right", no_wrap=True)
    for rank, layer in enumerate(result["ranked"][:top], 1):
        runtimes = [_db(layer["artifacts"][fmt]["vs_int8_db"]) if fmt in layer.get("artifacts", {}) else "-"
                    for fmt in formats]
        table.add_row(str(rank), layer["layer"], _db(layer["output_sqnr_db"], "-"), _db(layer["alone_int8_db"]),
                      _db(layer["alone_float_db"]), f"{layer['gain_db']:+.1f} dB" if layer["gain_db"] is not None
                      else "", *runtimes)
    return table


def _db(value, missing: str = "exact") -> str:
    return missing if value is None else f"{value:.1f}"
