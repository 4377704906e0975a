"""shrink-edge export of a language model to every LLM runtime: each artifact verified through its runtime's own
prefill/decode with its KV cache, the float path at PyTorch's perplexity, every matrix product holding the integers
the scheme asked for; bad input in one line, nothing written."""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys

import pytest

from tests.conftest import run_cli

RUNTIMES = ("llm-executorch", "llm-gguf", "llm-litert", "llm-onnx", "llm-openvino")


@pytest.fixture(scope="module")
def exported(tiny_lm, tmp_path_factory):
    out = tmp_path_factory.mktemp("llm-all")
    android, ios = tmp_path_factory.mktemp("android"), tmp_path_factory.mktemp("ios")
    result = run_cli("export", "--target", "llm-all", "--model", tiny_lm, "--out", out, "--json",
                     "--android-project", android, "--ios-project", ios)
    return result, out


def test_every_runtime_every_scheme(exported):
    result, out = exported
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((out / "llm.json").read_text())
    rows = {(a["target"], a["scheme"]): a for a in report["artifacts"]}
    schemes = ("float", "int8-channel", "int4-g32-gptq")
    assert set(rows) == {(t, s) for t in (*RUNTIMES, "llm-coreml") for s in schemes} | {
        ("llm-onnx-weight-only", "int8-channel"), ("llm-onnx-weight-only", "int4-g32-gptq")}
    for (target, scheme), a in rows.items():
        assert (out / a["path"]).exists(), a
        facts = a["facts"]
        if target == "llm-coreml" and platform.system() != "Darwin":  # written and read back, not run
            assert "needs macOS" in a["skipped"] and a["budget_broken"] == [], a
            assert facts["weights_as_scheme"] and facts["states"] == 4 and facts["matmul_float"] == (15 if scheme ==
                                                                                                       "float" else 0)
            assert facts["embedding"] == ("float" if scheme == "float" else "int8")
            continue
        if scheme == "float":
            assert abs(a["perplexity_ratio"] - 1) < 0.005, a        # the path, not quantization
            assert a["greedy_match_tokens"] == a["greedy_new_tokens"]
        else:
            assert facts["matmul_float"] == 0, a                   # nothing left float that the scheme quantizes
            assert facts[f"matmul_int{scheme[3]}"] >= facts["linear_int4"] + facts["linear_int8"]
            assert a["bits_per_weight"] < (9 if scheme.startswith("int8") else 6)
        assert a["tokens_scored"] > 0 and a["budget_broken"] == []
        assert facts.get("weights_as_scheme", True), a  # read back from the file where the backend can (LiteRT)
    assert all(rows[("llm-litert", s)]["facts"]["weights_as_scheme"] for s in schemes)
    for scheme in ("int8-channel", "int4-g32-gptq"):  # one rounding: the runtimes agree with each other
        ratios = [rows[(t, scheme)]["perplexity_ratio"] for t in RUNTIMES]
        assert max(ratios) - min(ratios) < 0.01, ratios
        between = report["agreement_between_runtimes"][scheme]
        assert between["artifacts"] == len(RUNTIMES) + (scheme != "float") and between["min_agreement"] >= 0.9
        n = between["artifacts"]
        assert len(between["pairs"]) == n * (n - 1) // 2 and min(p[2] for p in between["pairs"]) == between["min_agreement"]
    for scheme in ("float", "int8-channel", "int4-g32-gptq"):  # onnxruntime-genai's own loop on the same file agrees
        onnx_row = rows[("llm-onnx", scheme)]
        assert onnx_row["genai_greedy_match_tokens"] == onnx_row["greedy_match_tokens"]
        assert (out / f"tiny.{scheme}.genai" / "genai_config.json").is_file()
        openvino_row = rows[("llm-openvino", scheme)]  # and openvino-genai's LLMPipeline, with its tokenizer IRs
        assert openvino_row["genai_greedy_match_tokens"] == openvino_row["greedy_match_tokens"]
        assert openvino_row["genai_tokenizer_agreement"] == 1.0
        assert (out / f"tiny.{scheme}.openvino-genai" / "openvino_tokenizer.xml").is_file()
        litert_row = rows[("llm-litert", scheme)]  # and LiteRT-LM's engine on the .litertlm bundle, from text
        assert litert_row["litertlm_prompts_scored"] >= 1
        assert litert_row["litertlm_greedy_match_tokens"] >= litert_row["greedy_match_tokens"] - 2
        assert (out / f"tiny.{scheme}.litertlm").is_file()
    assert "int8" in rows[("llm-onnx", "int4-g32-gptq")]["facts"]["activations"]
    assert "float32" in rows[("llm-onnx-weight-only", "int4-g32-gptq")]["facts"]["activations"]
    assert rows[("llm-onnx-weight-only", "int4-g32-gptq")]["path"] == "tiny.int4-g32-gptq.weight-only.onnx"
    sizes = {s: rows[("llm-onnx", s)]["size_bytes"] for s in ("float", "int8-channel", "int4-g32-gptq")}
    assert sizes["int4-g32-gptq"] < sizes["int8-channel"] < sizes["float"] / 2.5
    assert (out / "tokenizer" / "tokenizer.json").is_file()


@pytest.mark.parametrize("suffix", [".gguf", ".onnx", ".pte", ".tflite", ".xml", ".litertlm"])
def test_generate_from_each_runtime(exported, suffix):
    _, out = exported
    result = run_cli("generate", out / f"tiny.int4-g32-gptq{suffix}", "--prompt", "The assert statement",
                     "--max-new-tokens", "12", "--json")
    assert result.exit_code == 0, result.output
    generated = json.loads(result.stdout)
    assert 1 <= generated["new_tokens"] <= 12 and generated["decode_tokens_per_s"] > 0


def test_mixed_precision_and_an_int4_table_reach_every_runtime(tiny_lm, tmp_path):
    """--scheme int4-g32-gptq-mixed2-emb4: the two most sensitive layers int8 per channel, the rest and the tied
    embedding table int4 blocks, in every file as in the scheme (ExecuTorch and LiteRT lay out both kinds in one
    program; each runtime's lookup reads int4: GatherBlockQuantized, embedding_4bit, EMBEDDING_LOOKUP, Q4_0)."""
    result = run_cli("export", "--target", "llm-all", "--model", tiny_lm, "--out", tmp_path, "--json",
                     "--scheme", "int4-g32-gptq-mixed2-emb4")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {a["target"] for a in report["artifacts"]} == {*RUNTIMES, "llm-onnx-weight-only", "llm-coreml"}
    for a in report["artifacts"]:
        facts = a["facts"]
        assert len(facts["kept_int8"]) == 2 and facts["linear_int8"] == 2 and facts["linear_int4"] == 12, a
        assert facts["matmul_int4"] == 13 and facts["matmul_float"] == 0, a   # the output layer int4 too
        assert facts["matmul_int8"] == 2 and a["budget_broken"] == [], a
        assert facts["embedding_bits"] == 4 and facts.get("weights_as_scheme", True), a
    assert report["agreement_between_runtimes"]["int4-g32-gptq-mixed2-emb4"]["min_agreement"] >= 0.9


def _export_all(tiny_lm, tmp_path, scheme: str) -> tuple[dict, dict]:
    """`export --target llm-all --scheme <scheme>`: the report, and its artifacts by target."""
    result = run_cli("export", "--target", "llm-all", "--model", tiny_lm, "--out", tmp_path, "--json",
                     "--scheme", scheme)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    return report, {a["target"]: a for a in report["artifacts"]}


def test_asymmetric_int4_reaches_the_runtimes_that_store_zero_points(tiny_lm, tmp_path):
    """--scheme int4-g32-asym-gptq: a zero point per block in MatMulNBits (onnxruntime, and OpenVINO from the same
    graph), llama.cpp's Q4_1, Core ML's offset; the files agree with each other, and ExecuTorch and LiteRT, whose
    XNNPACK int4 has one zero point per tensor, are refused in a line each while the others are written."""
    scheme = "int4-g32-asym-gptq"
    report, rows = _export_all(tiny_lm, tmp_path, scheme)
    assert set(rows) == {"llm-gguf", "llm-onnx", "llm-onnx-weight-only", "llm-openvino", "llm-coreml"}
    assert sorted(line.split(":")[0] for line in report["refused"]) == [f"llm-executorch {scheme}",
                                                                         f"llm-litert {scheme}"]
    assert all("zero point" in line for line in report["refused"])
    for a in rows.values():
        assert a["budget_broken"] == [] and a["facts"]["matmul_float"] == 0, a
    assert rows["llm-gguf"]["facts"]["ggml_types"]["Q4_1"] == 14
    assert rows["llm-onnx"]["facts"]["matmul_zero_points"] == 14
    assert rows["llm-coreml"]["facts"]["weights_as_scheme"]  # codes, scales and offsets read back
    ratios = [a["perplexity_ratio"] for t, a in rows.items() if t != "llm-coreml"]
    assert max(ratios) - min(ratios) < 0.01, ratios
    assert report["agreement_between_runtimes"][scheme]["min_agreement"] >= 0.97


def test_hqq_float_zero_points_reach_the_runtimes_that_run_them(tiny_lm, tmp_path):
    """--scheme int4-g32-hqq-gptq: float16 zero points in llama.cpp's Q4_1 (its native min), OpenVINO (float16
    constants) and Core ML (a float16 offset, read back equal); onnxruntime, whose MatMulNBits runs float zero
    points on a path slower than float, is refused with its figures, as are ExecuTorch and LiteRT."""
    scheme = "int4-g32-hqq-gptq"
    report, rows = _export_all(tiny_lm, tmp_path, scheme)
    assert set(rows) == {"llm-gguf", "llm-openvino", "llm-coreml"}
    refused = {line.split(":")[0]: line for line in report["refused"]}
    assert set(refused) == {f"{t} {scheme}" for t in ("llm-executorch", "llm-litert", "llm-onnx",
                                                         "llm-onnx-weight-only")}
    assert "slower than a float MatMul" in refused[f"llm-onnx {scheme}"]
    for a in rows.values():
        assert a["budget_broken"] == [] and a["facts"]["matmul_float"] == 0, a
    assert rows["llm-gguf"]["facts"]["ggml_types"]["Q4_1"] == 14
    assert rows["llm-openvino"]["facts"]["matmul_int4"] == 14
    assert rows["llm-coreml"]["facts"]["weights_as_scheme"]  # codes, scales and float16 offsets read back
    assert abs(rows["llm-gguf"]["perplexity_ratio"] - rows["llm-openvino"]["perplexity_ratio"]) < 0.01
    assert report["agreement_between_runtimes"][scheme]["min_agreement"] >= 0.97


def test_each_runtime_s_own_int4_quantizer_is_the_scheme_runtime(tiny_lm, tmp_path):
    """--scheme runtime: each runtime's own int4 quantizer on the float artifact we write for it (llama.cpp Q4_K_M
    with an importance matrix, onnxruntime's RTN, NNCF's AWQ + SE + GPTQ, ai-edge-quantizer's GPTQ, ExecuTorch's
    8da4w, coremltools' linear quantizer), verified like ours, what each file holds counted from it and the quantizer
    named; no agreement between runtimes is claimed for it (each rounds its own way)."""
    report, rows = _export_all(tiny_lm, tmp_path, "runtime")
    assert set(rows) == {*RUNTIMES, "llm-onnx-weight-only", "llm-coreml"} and report["refused"] == []
    for target, a in rows.items():
        facts = a["facts"]
        assert a["scheme"] == "runtime" and a["budget_broken"] == [] and facts["matmul_float"] == 0, a
        assert facts["quantizer"] and (tmp_path / a["path"]).exists()
    ggml = rows["llm-gguf"]["facts"]["ggml_types"]  # 64-wide rows: llama.cpp's K-quants fall back to Q5_0 / Q8_0
    assert "Q4_0" not in ggml and sum(ggml.values()) == 15, ggml
    for target in ("llm-onnx", "llm-onnx-weight-only", "llm-litert", "llm-executorch", "llm-coreml"):
        assert rows[target]["facts"]["matmul_int4"] == 15, rows[target]  # the output layer int4 too
    assert rows["llm-openvino"]["facts"]["matmul_int4"] == 14 and rows["llm-openvino"]["facts"]["matmul_int8"] == 1
    assert "float32" in rows["llm-onnx-weight-only"]["facts"]["activations"]
    assert "runtime" not in report["agreement_between_runtimes"]
    assert "NNCF" in rows["llm-openvino"]["facts"]["quantizer"] and "Q4_K_M" in rows["llm-gguf"]["facts"]["quantizer"]


def test_a_runtime_quantizer_not_installed_is_refused_in_one_line(tiny_lm, tmp_path):
    """Without nncf (as if the openvino extra were older), OpenVINO's `runtime` is refused naming the install."""
    code = ("import sys\nsys.modules['nncf'] = None\nfrom shrink_edge.cli import app\n"
            f"app(['export', '--target', 'llm-openvino', '--model', {str(tiny_lm)!r}, '--scheme', 'runtime', "
            f"'--out', {str(tmp_path / 'out')!r}])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: no target can hold these weights: llm-openvino runtime: its own quantizer (NNCF compress_weights: "
        "int4 blocks of 32, AWQ, scale estimation and GPTQ) needs nncf: pip install 'shrink-edge[openvino]'")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(platform.system() == "Darwin", reason="Core ML runs on macOS")
def test_generate_from_core_ml_says_it_needs_macos(exported):
    _, out = exported
    result = run_cli("generate", out / "tiny.int4-g32-gptq.mlpackage", "--prompt", "The assert statement")
    assert result.exit_code == 2 and "Core ML prediction needs macOS" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_broken_budget_fails_and_writes_nothing(tiny_lm, tmp_path):
    """No int4 file of the tiny model agrees with PyTorch everywhere: the fallback adds int8 layers up to the bits
    ceiling (mixed7, half the layers, would hold 6.78 bits per weight > 6.5: not tried), then fails."""
    spec = tmp_path / "strict.toml"
    spec.write_text('description = "too strict"\nkind = "llm"\nruntime = "onnxruntime"\nschemes = ["int4-channel"]\n'
                    "[budget]\nmin_next_token_agreement = 1.0\nmax_int4_bits_per_weight = 6.5\n")
    out = tmp_path / "out"
    result = run_cli("export", "--target", spec, "--model", tiny_lm, "--out", out)
    assert result.exit_code == 1
    assert "strict int4-channel (also as int4-channel-mixed4) broke the budget" in result.stderr
    assert not list(out.glob("*.onnx")) and not list(out.glob("*.genai"))
    (artifact,) = json.loads((out / "llm.json").read_text())["artifacts"]
    assert artifact["budget_broken"][0].startswith("next-token agreement")
    (not_tried,) = artifact["fallback"]["not_tried"]
    assert not_tried.startswith("int4-channel-mixed7 would hold 6.") and not_tried.endswith("bits per weight > 6.5")
    assert max(step["bits_per_weight"] for step in artifact["fallback"]["steps"]) <= 6.5


def test_an_int4_artifact_that_misses_its_budget_gets_zero_points_then_more_int8_layers(tiny_lm, tmp_path):
    """int4-channel misses 99.5% next-token agreement on the tiny model; the export tries it again with the zero
    points OpenVINO holds (integer, then HQQ's float16 ones), then from the closest of the three with its 2, 4 and
    7 (half its layers) most sensitive layers int8, writes the first that holds, and reports every step; --strict
    fails at once, writing nothing."""
    spec = tmp_path / "tight.toml"
    spec.write_text('description = "tight"\nkind = "llm"\nruntime = "openvino"\nschemes = ["int4-channel"]\n'
                    '[budget]\nmin_next_token_agreement = 0.995\n')
    result = run_cli("export", "--target", spec, "--model", tiny_lm, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    (artifact,) = json.loads(result.stdout)["artifacts"]
    fallback = artifact["fallback"]
    assert fallback["from"] == "int4-channel" and fallback["holds"]
    steps = fallback["steps"]
    schemes = [step["scheme"] for step in steps]
    assert schemes[:3] == ["int4-channel", "int4-channel-asym", "int4-channel-hqq"][:len(schemes)]
    assert schemes[-1] == artifact["scheme"] and artifact["scheme"] != schemes[0]
    if len(schemes) > 3:  # the mixed steps start from the zero points that came closest
        closest = max(steps[:3], key=lambda step: step["next_token_agreement"])["scheme"]
        assert schemes[3:] == [f"{closest}-mixed{n}" for n in (2, 4, 7)][:len(schemes) - 3]
        assert artifact["facts"]["matmul_int8"] >= int(artifact["scheme"].rsplit("mixed", 1)[1])
        bits = [step["bits_per_weight"] for step in steps[3:]]
        assert bits == sorted(bits) and bits[0] < bits[-1]  # each int8 step pays in size
    assert all(step["budget_broken"] for step in steps[:-1]) and artifact["budget_broken"] == []
    assert artifact["next_token_agreement"] >= 0.995 > steps[0]["next_token_agreement"]
    assert [p.name for p in (tmp_path / "out").glob("*.xml")] == [artifact["path"]]

    strict = run_cli("export", "--target", spec, "--model", tiny_lm, "--out", tmp_path / "strict", "--strict")
    assert strict.exit_code == 1 and "tight int4-channel broke the budget" in strict.stderr
    assert not list((tmp_path / "strict").glob("*.xml"))


def _bad(tiny_lm, tmp_path, change):
    folder = tmp_path / "model"
    shutil.copytree(tiny_lm, folder)
    change(folder)
    return folder


def _set_config(folder, **values):
    config = json.loads((folder / "config.json").read_text())
    config.update(values)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("case,expected", [
    ("not-causal", "is not a causal language model"),
    ("no-tokenizer", "has no tokenizer"),
    ("long-context", "longer than"),
    ("refused-architecture", "no target can take this model"),
])
def test_bad_input_is_one_line_and_writes_nothing(tiny_lm, tmp_path, case, expected):
    args = []
    if case == "not-causal":
        folder = _bad(tiny_lm, tmp_path, lambda f: _set_config(f, architectures=["LlamaModel"]))
    elif case == "no-tokenizer":
        folder = _bad(tiny_lm, tmp_path, lambda f: [p.unlink() for p in f.glob("tokenizer*")])
    elif case == "long-context":
        folder, args = tiny_lm, ["--context", "100000"]
    else:
        folder = _bad(tiny_lm, tmp_path, lambda f: _set_config(f, model_type="gemma", architectures=["GemmaForCausalLM"]))
    out = tmp_path / "out"
    result = run_cli("export", "--target", "llm-all", "--model", folder, "--out", out, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_profile_an_llm_artifact(exported):
    _, out = exported
    result = run_cli("profile", out / "tiny.int4-g32-gptq.onnx", "--json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)["artifacts"][0]["runs"]
    assert [r["threads"] for r in runs] == [1, 2]
    for r in runs:
        assert r["prefill_tokens_per_s"] > 0 and r["decode_tokens_per_s"] > 0 and r["peak_rss_bytes"] > 10 * 2 ** 20
        assert 0 < r["bandwidth_fraction"] < 1


def test_python_api_takes_a_live_transformers_model(tiny_lm, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import shrink_edge

    module = AutoModelForCausalLM.from_pretrained(tiny_lm)
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    result = shrink_edge.export_llm(module, "llm-onnx", out=tmp_path, tokenizer=tokenizer, schemes=("int8-channel",),
                                    progress=False, new_tokens=16)
    (artifact,) = result.report["artifacts"]
    assert artifact["budget_broken"] == [] and artifact["next_token_agreement"] > 0.9
    text = shrink_edge.generate(tmp_path / artifact["path"], "The assert statement", max_new_tokens=4)
    assert text["new_tokens"] >= 1 and text["runtime"] == "onnxruntime"


def test_apps_get_the_smallest_verified_pte_its_tokenizer_and_metadata(exported):
    result, out = exported
    report = json.loads(result.stdout)
    apps = [__import__("pathlib").Path(p) for p in report["apps"]]
    assert all(p.is_file() for p in apps)
    meta = json.loads(next(p for p in apps if p.name == "tiny.llm.json" and "assets" in str(p)).read_text())
    assert meta["model"] == "tiny.int4-g32-gptq.pte" and meta["quantization"]["scheme"] == "int4-g32-gptq"
    assert meta["context_length"] == 256 and meta["vocab_size"] == 512 and meta["eos_token_id"] is not None
    assert meta["verified"]["next_token_agreement"] > 0.85
    kotlin = next(p for p in apps if p.suffix == ".kt").read_text()
    assert '"tiny.llm.json"' in kotlin and "LlmModule" in kotlin
    swift = next(p for p in apps if p.suffix == ".swift").read_text()
    assert '"tiny.llm"' in swift and "TextRunner" in swift


def test_a_gguf_is_a_model_too(exported, tiny_lm):
    """A float GGUF we wrote, read back through transformers (un-permuted, its tokenizer rebuilt from the file):
    the same model, token for token."""
    import torch

    from shrink_edge.llm import model

    _, out = exported
    original, read = model.load(tiny_lm), model.load(out / "tiny.float.gguf")
    text = "The assert statement is a convenient way to insert debugging assertions"
    ids = original.tokenizer(text)["input_ids"]
    assert read.tokenizer(text)["input_ids"] == ids
    with torch.no_grad():
        difference = (read.module(torch.tensor([ids])).logits - original.module(torch.tensor([ids])).logits).abs()
    assert difference.max() < 1e-5


def test_a_low_rank_model_runs_everywhere_but_llama_cpp(tiny_lm, tmp_path):
    """--lowrank 0.6: the linear layers factorized (two matrix products each) before quantization, every artifact
    scored against the model as it came; llama.cpp's graph has no tensor for a factorized layer: one line."""
    result = run_cli("export", "--target", "llm-all", "--model", tiny_lm, "--out", tmp_path, "--json",
                     "--scheme", "float", "--scheme", "int8-channel", "--lowrank", "0.6")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["lowrank"]["parameters_kept"] <= 0.6 and all(r % 8 == 0 for r in report["lowrank"]["ranks"].values())
    assert any("llm-gguf" in r and "not one matrix" in r for r in report["refused"])
    rows = {(a["target"], a["scheme"]): a for a in report["artifacts"]}
    assert {t for t, _ in rows} == {"llm-executorch", "llm-litert", "llm-onnx", "llm-onnx-weight-only",
                                    "llm-openvino", "llm-coreml"}
    for (target, scheme), a in rows.items():
        if target == "llm-coreml":
            continue
        assert a["perplexity_ratio"] > 1.0 and a["budget_broken"] == [], a  # the factorization's own loss
        if scheme == "int8-channel":  # twice as many matrices as layers factorized, every one int8
            assert a["facts"]["matmul_int8"] > 15 and a["facts"]["matmul_float"] == 0, a
    float_ratio = rows[("llm-onnx", "float")]["perplexity_ratio"]
    assert abs(rows[("llm-openvino", "float")]["perplexity_ratio"] - float_ratio) < 0.005
