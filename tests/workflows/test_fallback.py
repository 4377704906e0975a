"""fallback = "auto" (the default): an int8 artifact that loses accuracy beyond its budget gets the scheme's
remedies the user left unset, then the layers the debugger ranks worst kept in float, one at a time, until the budget
holds; each step's size, fidelity and latency are in the manifest. --strict fails instead."""
import json

from conftest import run_cli


PINNED = ["--set", "quantize.fallback=auto", "--set", "quantize.observer=histogram", "--set", "quantize.smooth=false"]


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
    # the observers' int8 programs miss the budget in PyTorch already (19 dB): not built for the runtime
    assert all("SQNR" in r["program_misses"][0] and "artifacts" not in r for r in search["remedies"][:-1])
    assert not search["remedies"][-1]["budget_broken"]
    assert all(r["seconds"] > 0 for r in search["remedies"]) and search["seconds"] > 0
    int8 = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert int8["metrics"]["sqnr_db"] >= 30 and "keep_float" not in manifest


def test_the_search_swaps_in_int16_activations_before_float_layers(fragile, tmp_path):
    """The scheme's remedies pinned, size before speed: the int16-activation twin (int8 weights) holds the budget at
    int8's size, with no layer in float."""
    result = export(fragile, tmp_path, *PINNED, "--set", "quantize.fallback_int16=size", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    search = manifest["fallback"]
    assert search["holds"] and not search["kept_float"]
    wide = {"activations": "int16", "targets": {"strict": "onnx-a16w8"}}
    assert search["chosen"] == wide == search["remedies"][-1]["settings"]
    [step] = search["remedies"][-1]["artifacts"]
    assert step["p50_ms"] > 0 and step["sqnr_db"] >= 30 and "too_slow" not in search["remedies"][-1]
    [wide] = [a for a in manifest["artifacts"] if a["format"] == "onnx-a16w8"]
    assert wide["metrics"]["sqnr_db"] >= 30 and wide["facts"]["activations"] == "int16"
    float_size = next(a["size_bytes"] for a in manifest["artifacts"] if a["format"] == "onnx")
    assert wide["size_bytes"] < 0.5 * float_size


def test_the_fallback_keeps_the_fragile_layer_and_the_budget_holds(fragile, tmp_path):
    """The scheme's remedies and the int16 step pinned: the layers."""
    result = export(fragile, tmp_path, *PINNED, "--set", "quantize.fallback_int16=off", "--json")
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
    timed = fallback["against_float"]["strict"]  # the file with a float layer timed against the float file
    assert timed["format"] == "onnx-int8" and timed["float_format"] == "onnx" and timed["float_p50_ms"] > 0
    assert ("slower than float" in result.stderr) == (timed["p50_ms"] > timed["float_p50_ms"])
    artifact = next(a for a in manifest["artifacts"] if a["format"] == "onnx-int8")
    assert artifact["metrics"]["sqnr_db"] == kept["sqnr_db"] and artifact["keep_float"] == ["fragile"]
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


def test_a_spec_of_your_own_holds_its_twin_to_its_budget(tmp_path):
    """The search's twin steps build a member's runtime's dynamic or int16-activation target in its place; a spec of
    the user's own keeps its budget there, in a group too, where a second member of the same runtime with another
    budget waits for the layer steps; a group builds only the members still searching."""
    from dataclasses import replace

    from shrink_edge.config import targets
    from shrink_edge.engine.job import Job
    from shrink_edge.workflows import fallback

    spec = tmp_path / "strict.toml"
    spec.write_text((targets.TARGETS_DIR / "onnx.toml").read_text().replace("min_sqnr_db = 10", "min_sqnr_db = 45"))
    job = Job.create(targets.resolve(str(spec)), None, None, None)
    for activations, twin_name in (("dynamic", "onnx-dynamic"), ("int16", "onnx-a16w8")):
        swaps = fallback._twins(job, ["strict"], activations)
        assert swaps == {"strict": twin_name}
        twin = fallback._narrowed(job, swaps)
        assert twin.spec.name == twin_name and twin.spec.budget.min_sqnr_db == 45
    assert fallback._twins(job, [], "int16") == {}  # a member whose budget held searches no more
    group = replace(job, spec=replace(targets.resolve("all"), include=(str(spec), "onnx", "openvino")))
    swaps = fallback._twins(group, ["onnx", "strict", "openvino"], "int16")
    assert swaps == {"strict": "onnx-a16w8"}  # OpenVINO has no int16 activations; onnx's budget is another
    twins = fallback._narrowed(group, swaps).members()
    assert [(m.name, m.budget.min_sqnr_db) for m in twins] == [("onnx-a16w8", 45)]
    assert fallback._twins(group, ["onnx", "openvino"], "int16") == {"onnx": "onnx-a16w8"}
    assert fallback._narrowed(group, fallback._twins(group, ["onnx", "openvino"], "int16")).members()[0].budget \
        == targets.resolve("onnx").budget
    assert [m.name for m in fallback._narrowed(group, {"strict": "strict", "openvino": "openvino"}).members()] == [
        "strict", "openvino"]
    board = Job.create(targets.resolve("cortex-m4"), None, None, None)  # TFLite Micro's 16x8 bundle, under the M4's RAM
    assert fallback._twins(board, ["cortex-m4"], "int16") == {"cortex-m4": "cortex-m7-a16w8"}
    assert fallback._narrowed(board, {"cortex-m4": "cortex-m7-a16w8"}).spec.budget.ram_bytes == 256 << 10


def test_an_int16_file_slower_than_float_is_not_kept_by_default(fragile, tmp_path):
    """LiteRT runs int16 activations with its reference kernels, far slower than its float file: the search records
    both timings and keeps the fragile layer in float instead."""
    from shrink_edge.config import targets

    spec = tmp_path / "strict_tflite.toml"
    spec.write_text((targets.TARGETS_DIR / "tflite.toml").read_text().replace("min_sqnr_db = 10", "min_sqnr_db = 30"))
    result = run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target", spec,
                     "--out", tmp_path / "out", *fragile["plain"], *PINNED, "--json")
    assert result.exit_code == 0, result.stderr
    search = json.loads(result.stdout)["fallback"]
    [wide] = search["remedies"]
    assert wide["settings"] == {"activations": "int16", "targets": {"strict_tflite": "tflite-a16w8"}}
    assert not wide["budget_broken"]  # it holds the budget, but
    slow = wide["too_slow"]["strict_tflite"]
    assert slow["p50_ms"] > 1.5 * slow["float_p50_ms"] and slow["float_format"] == "tflite-fp16"
    assert search["holds"] and search["kept_float"] == ["fragile"] and search["chosen"] == {"keep_float": ["fragile"]}


def test_a_group_s_members_search_apart(fragile, tmp_path):
    """A group whose two members both break their budget, size before speed: onnxruntime's holds with int16
    activations and keeps no layer in float; OpenVINO (no int16 activations) keeps the fragile layer in float."""
    from shrink_edge.config import targets

    members = []
    for name in ("onnx", "openvino"):
        path = tmp_path / f"strict_{name}.toml"
        path.write_text((targets.TARGETS_DIR / f"{name}.toml").read_text().replace("min_sqnr_db = 10",
                                                                                    "min_sqnr_db = 30"))
        members.append(str(path))
    group = tmp_path / "strict_all.toml"
    group.write_text(f'description = "strict members"\ninclude = {json.dumps(members)}\n\n[quantization]\n'
                     "weights_per_channel = true\ncalibration_samples = 512\n")
    result = run_cli("export", "--model", fragile["model"], "--data", fragile["data"], "--target", group,
                     "--out", tmp_path / "out", *fragile["plain"], *PINNED, "--set", "quantize.fallback_int16=size",
                     "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    search = manifest["fallback"]
    assert search["holds"] and search["kept_float"] == ["fragile"] and "chosen" not in search
    [wide] = search["remedies"]
    assert wide["settings"] == {"activations": "int16", "targets": {"strict_onnx": "onnx-a16w8"}}
    assert search["members"] == {"strict_onnx": {"target": "onnx-a16w8", "step": wide["settings"]},
                                 "strict_openvino": {"target": "strict_openvino",
                                                     "step": {"keep_float": ["fragile"]}}}
    assert [a["target"] for a in search["steps"][1]["artifacts"]] == ["strict_openvino"]  # only it searched on
    assert wide["held"] == ["strict_onnx"] and search["steps"][-1]["held"] == ["strict_openvino"]
    assert all(a["p50_ms"] > 0 for step in search["remedies"] + search["steps"] for a in step["artifacts"])
    built = {a["format"]: a for a in manifest["artifacts"]}
    assert set(built) == {"onnx", "onnx-a16w8", "openvino-int8"}
    # each file says the layers it leaves in float: the members ended at different steps
    assert built["openvino-int8"]["keep_float"] == ["fragile"] and "keep_float" not in built["onnx-a16w8"]
    assert all(built[f]["metrics"]["sqnr_db"] >= 30 for f in ("onnx-a16w8", "openvino-int8"))
    assert len(built["openvino-int8"]["facts"]["float_compute_layers"]) == 2  # the fragile layer and its reader
