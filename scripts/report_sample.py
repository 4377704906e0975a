"""The sample's profile table and report for the docs.

1. Two exports of the bundled sample, each to every target, profiled on the host and on the emulated arm64 phone
   (`--profile local --profile emulator`): PTQ of the unpruned model, and the recipe (prune 0.5 + distill + QAT;
   ~8 min on 2 cores the first time, then reused from the cache).
2. `shrink-edge report` over both -> docs/report/ (HTML + PNG), and a screenshot of the page (headless Chromium)
   -> docs/report.png.
3. bench/profile.json, then its table and the README's summary (scripts/docs_tables.py).
Needs root for the emulated phone (`shrink-edge device create` once).
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import docs_tables

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("shrink-edge"))
RUNS = {"PTQ, unpruned": [], "prune 0.5 + distill + QAT": ["--recipe", "shrink_edge/samples/fashion_mnist/recipe.toml"]}


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


def figures(runs: dict[str, Path]) -> dict:
    """Per run and device: the profile's conditions and results, from the run's manifest."""
    found = {}
    for name, out in runs.items():
        manifest = json.loads((out / "manifest.json").read_text())
        found[name] = {p["conditions"]["device"]: {"conditions": p["conditions"], "results": p["results"]}
                       for p in manifest["profiles"]}
    return found


def main() -> None:
    runs = {name: export(name, extra) for name, extra in RUNS.items()}
    docs = ROOT / "docs"
    subprocess.run([CLI, "report", *map(str, runs.values()), "--out", str(docs / "report")], check=True)
    screenshot(docs / "report" / "report.html", docs / "report.png")
    (ROOT / "bench" / "profile.json").write_text(json.dumps(figures(runs), indent=2) + "\n")
    docs_tables.write("profile", "summary")
    print("\n".join(docs_tables.profile()))


if __name__ == "__main__":
    main()
