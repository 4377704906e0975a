"""The sample's profile table and report for the README.

1. Two exports of the bundled sample, each to every target, profiled on the host and on the emulated arm64 phone
   (`--profile local --profile emulator`): PTQ of the unpruned model, and the recipe (prune 0.5 + distill + QAT;
   ~8 min on 2 cores the first time, then reused from the cache).
2. `shrink-edge report` over both -> docs/report/ (HTML + PNG), and a screenshot of the page (headless Chromium)
   -> docs/report.png.
3. The table between the profile-table markers in README.md, and bench/profile.json.
Needs root for the emulated phone (`shrink-edge device create` once).
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("shrink-edge"))
RUNS = {"PTQ, unpruned": [], "prune 0.5 + distill + QAT": ["--recipe", "sample_models/fashion_mnist/recipe.toml"]}


def export(name: str, extra: list[str]) -> Path:
    out = ROOT / "out" / "report" / name.split(",")[0].split()[0].lower()
    done = subprocess.run([CLI, "export", "--target", "all", *extra, "--out", str(out), "--profile", "local",
                           "--profile", "emulator", "--json"], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(done.stderr)
    return out


def screenshot(page: Path, png: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("screenshot needs Chromium: apt install chromium")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--disable-background-networking", "--disable-component-update", "--no-first-run",
                    f"--user-data-dir={png.parent / '.chromium'}", "--window-size=1150,1700",
                    f"--screenshot={png}", page.as_uri()], check=True, capture_output=True)
    shutil.rmtree(png.parent / ".chromium", ignore_errors=True)


def table(runs: dict[str, Path]) -> tuple[list[str], dict]:
    figures, lines = {}, []
    for name, out in runs.items():
        manifest = json.loads((out / "manifest.json").read_text())
        profiles = {p["conditions"]["device"]: p for p in manifest["profiles"]}
        figures[name] = {device: {"conditions": {k: v for k, v in p["conditions"].items() if k != "versions"},
                                  "results": p["results"]} for device, p in profiles.items()}
        local, phone = profiles["local"], profiles["emulator"]
        phone_p50 = {Path(r["artifact"]).name: r["p50_ms"] for r in phone["results"]}
        float_local = local["results"][0]["p50_ms"]
        for r in local["results"]:
            file = Path(r["artifact"]).name
            lines.append(f"| {name} | {file} | {r['runtime']} | {r['p50_ms']:.3f} | {r['p90_ms']:.3f} | "
                         f"{r['p50_ms'] / float_local:.2f}x | {r['init_ms']:.1f} | "
                         + (f"{phone_p50[file]:.2f} |" if file in phone_p50 else "- |"))
    c, p = local["conditions"], phone["conditions"]
    head = [f"Host: {c['cpu']}, {c['threads']} thread, {local['results'][0]['runs']} runs after "
            f"{local['results'][0]['warmup']} warm-up, interleaved, load {c['load_average'][0]}. "
            f"Emulated phone: {p['machine']} under qemu-user ("
            + ", ".join(f"{name} {v}" for name, v in p["versions"].items()) + "): its times prove the path and are **not** a "
            "phone's latency (qemu is hundreds of times slower).", "",
            "| run | artifact | runtime | host p50 ms | host p90 ms | vs the run's float ONNX (host) | init ms | emulated arm64 "
            "p50 ms |", "|---|---|---|---:|---:|---:|---:|---:|"]
    return head + lines, figures


def main() -> None:
    runs = {name: export(name, extra) for name, extra in RUNS.items()}
    docs = ROOT / "docs"
    subprocess.run([CLI, "report", *map(str, runs.values()), "--out", str(docs / "report")], check=True)
    screenshot(docs / "report" / "report.html", docs / "report.png")
    lines, figures = table(runs)
    (ROOT / "bench" / "profile.json").write_text(json.dumps(figures, indent=2) + "\n")
    readme = (ROOT / "README.md").read_text()
    start, end = "<!-- profile-table:start -->", "<!-- profile-table:end -->"
    head, _, rest = readme.partition(start)
    _, _, tail = rest.partition(end)
    (ROOT / "README.md").write_text(f"{head}{start}\n" + "\n".join(lines) + f"\n{end}{tail}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
