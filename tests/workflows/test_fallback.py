"""fallback = "auto" (the default): an int8 artifact that loses accuracy beyond its budget gets the scheme's
remedies the user left unset, then the layers the debugger ranks worst kept in float, one at a time, until the budget
holds; each step's size, fidelity and latency are in the manifest. --strict fails instead."""
import json

from conftest import run_cli


def export(fragile, tmp_path, *extra):
    return run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target", fragile["strict"],
                   "--out", tmp_path / "out", *fragile["plain"], *extra)


def test_the_search_finds_a_remedy_of_the_scheme_first(fragile, tmp_path):
    """Nothing set: the search tries the observers, then equalization, which takes the outlier channel away."""
    result = run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target", fragile["strict"],
                     "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    search = manifest["fallback"]
    assert search["holds"] and search["chosen"] == search["remedies"][-1]["settings"] and not search["kept_float"]
    assert [r["settings"] for r in search["remedies"]][:1] == [{"observer": "percentile"}]
    assert all(r["budget_broken"] for r in search["remedies"][:-1]) and not search["remedies"][-1]["budget_broken"]
    assert all(r["seconds"] > 0 for r in search["remedies"]) and search["seconds"] > 0
    int8 = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert int8["metrics"]["sqnr_db"] >= 30 and "keep_float" not in manifest


def test_the_fallback_keeps_the_fragile_layer_and_the_budget_holds(fragile, tmp_path):
    """The scheme's remedies pinned (equalization off, the observer and SmoothQuant as they are): the layers."""
    result = export(fragile, tmp_path, "--set", "quantize.fallback=auto", "--set", "quantize.observer=histogram",
                    "--set", "quantize.smooth=false", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    fallback = manifest["fallback"]
    assert fallback["remedies"] == []
    assert fallback["holds"] and fallback["kept_float"] == ["fragile"] == manifest["keep_float"]
    assert fallback["ranking"][0]["layer"] == "fragile"
    before, after = fallback["steps"]
    assert before["keep_float"] == [] and before["budget_broken"] and not after["budget_broken"]
    (plain,), (kept,) = before["artifacts"], after["artifacts"]
    assert plain["sqnr_db"] < 30 <= kept["sqnr_db"]
    assert kept["size_bytes"] > plain["size_bytes"]  # the cost: two layers' weights in float
    assert plain["p50_ms"] > 0 and kept["p50_ms"] > 0
    artifact = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert artifact["metrics"]["sqnr_db"] == kept["sqnr_db"]
    assert "budget_broken" not in manifest
    shown = run_cli("report", tmp_path / "out")
    assert shown.exit_code == 0, shown.stderr
    assert {"layers.png", "fallback.png"} <= {p.name for p in (tmp_path / "out" / "report").glob("*.png")}


def test_strict_with_debug_names_the_layer_to_keep(fragile, tmp_path):
    result = export(fragile, tmp_path, "--strict", "--debug")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "SQNR" in line and 'keep_float = ["fragile"]' in line and "\n" not in line
    assert not (tmp_path / "out").exists()  # nothing written when the budget fails


def test_strict_without_debug_the_error_says_how_to_find_the_layer(fragile, tmp_path):
    result = export(fragile, tmp_path, "--strict")
    assert result.exit_code == 1
    assert "rerun with --debug" in result.stderr


def test_a_missing_spec_file_is_one_line(fragile, tmp_path):
    result = run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target",
                     tmp_path / "none.toml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: target spec not found")


def test_a_spec_of_your_own_holds_its_dynamic_twin_to_its_budget(tmp_path):
    """The search's dynamic step swaps a target for its runtime's dynamic one; a spec of the user's own keeps its
    budget there (a group's members take their twins')."""
    from dataclasses import replace

    from shrink_edge.config import targets
    from shrink_edge.engine.job import Job
    from shrink_edge.workflows import fallback

    spec = tmp_path / "strict.toml"
    spec.write_text((targets.TARGETS_DIR / "onnx.toml").read_text().replace("min_sqnr_db = 10", "min_sqnr_db = 45"))
    job = Job.create(targets.resolve(str(spec)), None, None, None)
    twin, swaps = fallback._dynamic(job)
    assert swaps == {"strict": "onnx-dynamic"} and twin.spec.artifacts == ("onnx", "onnx-dynamic")
    assert twin.spec.budget.min_sqnr_db == 45
    group, swaps = fallback._dynamic(replace(job, spec=replace(targets.resolve("all"), include=("onnx", "tflite"))))
    assert swaps == {"onnx": "onnx-dynamic", "tflite": "tflite-dynamic"}
    assert group.spec.include == ("onnx-dynamic", "tflite-dynamic")

