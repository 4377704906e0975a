"""A fast subset of the zoo through every target (scripts/bench_coverage.py runs all of it): a GRU keyword
spotter (TFLite Micro included), a two-headed detector (on every target), a BERT-style encoder with token ids and a mask, and one that Hugging Face
transformers builds (its BertModel) convert, keep their output names
and keep every output's cosine to the float model. Random weights with batch-norm statistics from the data; the data
is the sample's real images (cropped, tiled) and an old README of this repository (tests/data/english.txt) as text."""
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_model_file, run_cli
from safetensors.torch import save_file

from shrink_edge.model import sample

ZOO = Path(__file__).resolve().parents[2] / "zoo"
CASES = [("audio.py", "build_gru", target) for target in ("onnx", "tflite", "openvino", "coreml", "cortex-m4")] + \
        [("vision_heads.py", "build", target) for target in ("onnx", "tflite", "openvino", "cortex-m4", "ethos-u55",
                                                             "executorch", "executorch-ethos-u55")] + \
        [("transformers.py", "build_bert", target) for target in ("onnx", "tflite")] + \
        [("transformers.py", "build_hf_bert", target) for target in ("openvino", "coreml")]


def images(n: int) -> np.ndarray:
    """(n, 28, 28) in [0, 1]."""
    with np.load(sample.HELDOUT) as f:
        return f["x"][:n, 0].astype(np.float32) / 255


def data_for(factory: str, n: int) -> dict[str, np.ndarray]:
    if factory == "build_gru":  # 49 rows x 10 columns of each image, as MFCC frames
        return {"mfcc": images(n)[:, None, :, 9:19].repeat(2, 2)[:, :, :49]}
    if factory == "build":      # 3 x 64 x 64: each image twice its size, on three channels
        big = np.kron(images(n), np.ones((2, 2), np.float32))
        return {"image": np.pad(big, ((0, 0), (4, 4), (4, 4)))[:, None].repeat(3, 1)}
    words = (Path(__file__).resolve().parents[1] / "data" / "english.txt").read_text().split()  # English text (an old README)
    ids = np.array([1 + zlib.crc32(w.encode()) % 999 for w in words], np.int64)
    rng = np.random.default_rng(0)
    tokens, mask = np.zeros((n, 32), np.int64), np.zeros((n, 32), np.int64)
    for i in range(n):
        size, start = int(rng.integers(16, 33)), int(rng.integers(0, len(ids) - 32))
        tokens[i, :size], mask[i, :size] = ids[start:start + size], 1
    if factory == "build_hf_bert":
        return {"input_ids": tokens, "attention_mask": mask}
    return {"ids": tokens, "mask": mask}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Per model: weights (seed 0, batch-norm statistics from the data) and 40 samples, 8 of them to calibrate."""
    made = {}
    for file, factory in {(f, g) for f, g, _ in CASES}:
        folder = tmp_path_factory.mktemp(factory)
        data = data_for(factory, 40)
        torch.manual_seed(0)
        model = getattr(load_model_file(ZOO / file), factory)().train()
        with torch.no_grad():
            model(*(torch.from_numpy(x) for x in data.values()))
        save_file({k: v.contiguous() for k, v in model.eval().state_dict().items()}, folder / "w.safetensors")
        np.savez(folder / "data.npz", **data)
        made[factory] = folder
    return made


@pytest.mark.parametrize("file,factory,target", CASES)
def test_zoo_model_converts_and_keeps_every_output(file, factory, target, prepared, tmp_path):
    folder = prepared[factory]
    result = run_cli("export", "--target", target, "--model", f"{ZOO / file}:{factory}", "--weights",
                     folder / "w.safetensors", "--data", folder / "data.npz", "--out", tmp_path / "out", "--no-budget",
                     "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    names = manifest["signature"]["outputs"]
    for artifact in manifest["artifacts"]:
        if artifact["metrics"] is None:  # Core ML off macOS (checked at spec level); an NPU's build (no NPU here)
            assert artifact["facts"]["verification_skipped"]
            assert "spec_version" in artifact["facts"] or "ethos" in artifact["format"]
            continue
        assert list(artifact["metrics"]["outputs"]) == names
        worst = min(m["cosine"] for m in artifact["metrics"]["outputs"].values())
        assert worst >= 0.98, (artifact["file"], artifact["metrics"]["outputs"])


LIMITS = [("transformers.py", "build_bert", "cortex-m4", ["TFLite Micro has no kernel for GELU"])]


@pytest.mark.parametrize("file,factory,target,quoted", LIMITS)
def test_a_limit_of_the_runtime_is_quoted(file, factory, target, quoted, prepared, tmp_path):
    """TFLite Micro has no GELU kernel: one line, the tool's own words, nothing written. (Its 10-input limit on a
    CONCATENATION, which the GRU's 49 unrolled steps broke, is split around now: the GRU converts above.)"""
    folder = prepared[factory]
    result = run_cli("export", "--target", target, "--model", f"{ZOO / file}:{factory}", "--weights",
                     folder / "w.safetensors", "--data", folder / "data.npz", "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert all(q in result.stderr for q in quoted), result.stderr
    assert not (tmp_path / "out").exists()
