"""`shrink-edge export --profile` records latency in the manifest; `shrink-edge report` turns runs into one
self-contained HTML page and PNG plots; a folder without a manifest is one line."""
import json
import re

from conftest import run_cli


def test_export_profiles_and_reports(tmp_path):
    out = tmp_path / "run"
    done = run_cli("export", "--target", "onnx", "--out", out, "--profile", "local", "--json")
    assert done.exit_code == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    [profile] = manifest["profiles"]
    assert profile["conditions"]["device"] == "local"
    assert [r["artifact"] for r in profile["results"]] == [str(out / a["file"]) for a in manifest["artifacts"]]
    assert profile["results"][1]["p50_ratio_to_first"] > 0  # int8 against float, interleaved

    shown = run_cli("report", out)
    assert shown.exit_code == 0, shown.stderr
    page = (out / "report" / "report.html").read_text()
    assert "<script" not in page and 'src="http' not in page  # self-contained
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 3  # size, accuracy vs size, latency on local
    for artifact in manifest["artifacts"]:
        assert artifact["file"] in page and f"{artifact['size_bytes']:,}" in page
    assert {p.name for p in (out / "report").glob("*.png")} == {"size.png", "accuracy_vs_size.png",
                                                                "latency_local.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in (out / "report").glob("*.png"))


def test_report_without_manifest(tmp_path):
    shown = run_cli("report", tmp_path)
    assert shown.exit_code == 2 and "no readable manifest.json" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1 and not (tmp_path / "report").exists()
