"""`shrink-edge report`: one self-contained HTML page (plots embedded) and the same plots as PNG files, from the
manifests of one or more export runs, e.g. one per target or per pruning level."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from ..errors import UserError
from ..files import atomic_write_text


def _load(run: Path) -> dict:
    try:
        manifest = json.loads((run / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{run}: no readable manifest.json ({getattr(e, 'strerror', None) or e}); give the --out "
                        "folder of a `shrink-edge export` run") from None
    if manifest.get("command") != "export":
        raise UserError(f"{run}/manifest.json is not an export's manifest; give the --out folder of an export run")
    return manifest


def _label(manifest: dict) -> str:
    recipe = manifest["settings"].get("recipe") or {}
    steps = [f"prune {recipe['prune']['ratio']:g}" if recipe.get("prune") else None,
             "distill" if recipe.get("distill") else None, "QAT" if recipe.get("qat") else "PTQ"]
    return f"{manifest['model']} {' + '.join(s for s in steps if s)}"


def _rows(runs: list[tuple[Path, dict]]) -> list[dict]:
    rows = []
    for run, m in runs:
        latency = {}
        for profile in m.get("profiles", []):
            for r in profile["results"]:
                latency.setdefault(Path(r["artifact"]).name, {})[profile["conditions"]["device"]] = r.get("p50_ms")
        for a in m["artifacts"]:
            metrics = a.get("metrics") or {}
            rows.append({"run": _label(m), "target": a["target"], "file": a["file"], "format": a["format"],
                         "runtime": a["runtime"], "size_bytes": a["size_bytes"], "accuracy": metrics.get("accuracy"),
                         "agreement": metrics.get("agreement"), "error_lsb_p99": metrics.get("error_lsb_p99"),
                         "cosine": metrics.get("cosine"), "sqnr_db": metrics.get("sqnr_db"),
                         "p50_ms": latency.get(a["file"], {})})
    return rows


def _plots(rows: list[dict], runs: list[tuple[Path, dict]], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plt.rcParams.update({"font.size": 9, "svg.hashsalt": "shrink-edge"})
    written = []

    def save(fig, name):
        path = folder / name
        fig.tight_layout()
        fig.savefig(path, dpi=110, metadata={"Software": None})  # no timestamp: same figures, same bytes
        plt.close(fig)
        written.append(path)

    names = [f"{r['file']}\n{r['run']}" if len(runs) > 1 else r["file"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    ax.barh(names, [r["size_bytes"] / 1024 for r in rows], color="#4c72b0")
    ax.set_xlabel("size (KiB)")
    ax.invert_yaxis()
    save(fig, "size.png")

    scored = [r for r in rows if r["accuracy"] is not None]
    if scored:
        fig, ax = plt.subplots(figsize=(7, 4))
        for run in dict.fromkeys(r["run"] for r in scored):
            mine = [r for r in scored if r["run"] == run]
            ax.scatter([r["size_bytes"] / 1024 for r in mine], [100 * r["accuracy"] for r in mine], label=run)
            for r in mine:
                ax.annotate(r["format"], (r["size_bytes"] / 1024, 100 * r["accuracy"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        for _, m in runs:
            if m["reference"]["accuracy"] is not None:
                ax.axhline(100 * m["reference"]["accuracy"], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("size (KiB)")
        ax.set_ylabel("top-1 on the held-out data (%)")
        ax.set_title("accuracy vs size (dashed: PyTorch reference)")
        ax.legend(fontsize=7)
        save(fig, "accuracy_vs_size.png")

    devices = list(dict.fromkeys(d for r in rows for d in r["p50_ms"]))
    timed = [r for r in rows if r["p50_ms"]]
    for device in devices:
        mine = [r for r in timed if r["p50_ms"].get(device)]
        emulated = any(p["conditions"].get("emulated") for _, m in runs for p in m.get("profiles", [])
                       if p["conditions"]["device"] == device)
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(mine) + 1.2))
        ax.barh([f"{r['file']} ({r['runtime']})" for r in mine], [r["p50_ms"][device] for r in mine],
                color="#dd8452" if emulated else "#55a868")
        ax.set_xlabel("p50 latency (ms)" + (" - EMULATED, not a real device's latency" if emulated else ""))
        ax.set_title(f"latency on {device}")
        ax.invert_yaxis()
        save(fig, f"latency_{device.replace(':', '_').replace('.', '_')}.png")

    for i, (_, m) in enumerate(runs):
        suffix = f"_{i}" if len(runs) > 1 else ""
        ranked = (m.get("debug") or {}).get("ranked") or (m.get("fallback") or {}).get("ranking")
        if ranked:
            top = ranked[:15]
            fig, ax = plt.subplots(figsize=(7, 0.35 * len(top) + 1.4))
            ax.barh([r["layer"] for r in top], [r["gain_db"] or 0 for r in top], color="#c44e52")
            ax.set_xlabel("SQNR gain of the model's outputs with that layer alone kept in float (dB)")
            ax.set_title(f"{m['model']}: the layers int8 hurts most")
            ax.invert_yaxis()
            save(fig, f"layers{suffix}.png")
        if steps := (m.get("fallback") or {}).get("steps"):
            fig, ax = plt.subplots(figsize=(7, 4))
            for fmt in dict.fromkeys(a["format"] for step in steps for a in step["artifacts"]):
                points = [(len(step["keep_float"]), a) for step in steps for a in step["artifacts"]
                          if a["format"] == fmt and a.get("sqnr_db") is not None]
                ax.plot([k for k, _ in points], [a["sqnr_db"] for _, a in points], marker="o", label=fmt)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("layers kept in float")
            ax.set_ylabel("SQNR of the worst output (dB)")
            ax.set_title(f"{m['model']}: fallback, step by step (sizes and latencies in manifest.json)")
            ax.legend(fontsize=7)
            save(fig, f"fallback{suffix}.png")
    return written


def _html(rows: list[dict], runs: list[tuple[Path, dict]], plots: list[Path]) -> str:
    e = html.escape
    devices = list(dict.fromkeys(d for r in rows for d in r["p50_ms"]))
    head = ["run", "artifact", "runtime", "size (bytes)", "top-1", "agreement", "cosine (worst output)",
            "SQNR dB (worst output)", "error p99 (LSB)", *(f"p50 ms on {d}" for d in devices)]
    pct = lambda v: "" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    body = "".join(
        "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in (
            r["run"], r["file"], r["runtime"], f"{r['size_bytes']:,}", pct(r["accuracy"]), pct(r["agreement"]),
            "" if r["cosine"] is None else f"{r['cosine']:.4f}",
            "" if r["cosine"] is None else "exact" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}",
            "" if r["error_lsb_p99"] is None else r["error_lsb_p99"],
            *("" if r["p50_ms"].get(d) is None else f"{r['p50_ms'][d]:.3f}" for d in devices))) + "</tr>"
        for r in rows)
    images = "".join(f'<figure><img alt="{e(p.stem)}" src="data:image/png;base64,'
                     f'{base64.b64encode(p.read_bytes()).decode()}"></figure>' for p in plots)
    conditions = []
    for run, m in runs:
        conditions.append(f"<li><b>{e(_label(m))}</b> ({e(str(run))}): target {e(m['target'])}, reference "
                          f"{e(m['reference']['runtime'])} {pct(m['reference']['accuracy'])} on "
                          f"{m['reference']['samples']} samples; versions "
                          f"{e(', '.join(f'{k} {v}' for k, v in m['versions'].items()))}</li>")
        for p in m.get("profiles", []):
            c = p["conditions"]
            conditions.append(
                f"<li>{e(c['device'])}: {e(str(c.get('cpu', '')))} ({e(str(c.get('machine', c.get('abi', ''))))}), "
                f"{c['threads']} thread(s), {p['results'][0]['runs']} runs after {p['results'][0].get('warmup')} "
                f"warm-up, load {c.get('load_average', ['?'])[0]}"
                + (f" <b>{e(c['note'])}</b>" if c.get("note") else "") + "</li>")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>shrink-edge report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(-n+3){{text-align:left}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:520px}}</style></head>
<body><h1>shrink-edge report</h1>
<h2>Artifacts</h2><table><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}</tr>{body}</table>
<p>top-1 and agreement (top-1 equal to the PyTorch reference) on each run's held-out data, every artifact run in
its real runtime; error in output quantization steps.</p>
<h2>Plots</h2>{images}
<h2>Run conditions</h2><ul>{"".join(conditions)}</ul>
</body></html>
"""


def write_report(run_dirs: list[Path], out: Path | None = None) -> Path:
    runs = [(Path(run), _load(Path(run))) for run in run_dirs]
    folder = Path(out or Path(run_dirs[0]) / "report")
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(runs)
    plots = _plots(rows, runs, folder)
    page = folder / "report.html"
    atomic_write_text(page, _html(rows, runs, plots))
    return page
