"""ExecuTorch: the sample's int8 .pte runs in ExecuTorch's runtime, fully inside the XNNPACK delegate, as close to
the float model as the ONNX artifact from the same int8 program; the same inputs give the same bytes; an op that
XNNPACK does not take is named and breaks the full-delegation budget; a model with named inputs and a dict output
is verified per output."""
import hashlib
import json

import pytest

from conftest import TESTS, run_cli

from shrink_edge.backends.executorch.session import facts


@pytest.fixture(scope="module")
def sample_pte(tmp_path_factory):
    out = tmp_path_factory.mktemp("executorch") / "out"
    result = run_cli("export", "--target", "executorch", "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    return out, {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}


def test_sample_int8_pte_is_verified_and_fully_delegated(sample_pte, sample_export):
    _, artifacts = sample_pte
    int8 = artifacts["executorch-int8"]
    assert int8["facts"]["undelegated_ops"] == {} and int8["facts"]["delegate_calls"] == {"XnnpackBackend": 1}
    assert int8["facts"]["xnnpack_nodes"]["Conv2d"] > 0 and int8["facts"]["float_compute_layers"] == []
    onnx = next(a for a in sample_export[1]["artifacts"] if a["format"] == "onnx-int8")
    assert int8["metrics"]["agreement"] >= onnx["metrics"]["agreement"] - 0.005, (int8["metrics"], onnx["metrics"])
    assert int8["size_bytes"] < artifacts["executorch"]["size_bytes"] / 2.5  # int8 weights, not float


def test_the_pte_files_are_profiled_on_the_host(sample_pte):
    out, artifacts = sample_pte
    files = [out / artifacts[f]["file"] for f in ("executorch-int8", "executorch")]
    result = run_cli("profile", *files, "--runs", "20", "--warmup", "2", "--json")
    assert result.exit_code == 0, result.stderr
    [profile] = json.loads(result.stdout)["profiles"]
    assert [r["runtime"] for r in profile["results"]] == ["executorch", "executorch"]
    assert all(r["p50_ms"] > 0 and r["runs"] == 20 for r in profile["results"])


def test_same_inputs_give_the_same_pte_bytes(tmp_path):
    digests = []
    for run in ("a", "b"):
        result = run_cli("export", "--target", "executorch", "--out", tmp_path / run, "--cache-dir",
                         tmp_path / f"cache-{run}", "--json")
        assert result.exit_code == 0, result.stderr
        digests.append([hashlib.sha256((tmp_path / run / a["file"]).read_bytes()).hexdigest()
                        for a in json.loads(result.stdout)["artifacts"]])
    assert digests[0] == digests[1]


def test_an_op_outside_the_delegate_is_named_and_breaks_a_full_delegation_budget(tiny_model, tmp_path):
    """By default the op left on the portable kernels is named in the facts and the .pte is written; a spec with
    full_delegation = true refuses it in one line."""
    from shrink_edge.config import targets

    strict = tmp_path / "whole.toml"
    strict.write_text((targets.TARGETS_DIR / "executorch.toml").read_text().replace("full_delegation = false",
                                                                                    "full_delegation = true"))
    args = ["export", "--model", f"{TESTS / 'models' / 'cumsum_net.py'}:build", "--input-shape", "1,1,28,28",
            "--data", tiny_model["data"]]
    result = run_cli(*args, "--target", strict, "--out", tmp_path / "strict")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1, result.stderr
    assert "outside the delegate" in result.stderr and "cumsum" in result.stderr
    assert "--no-budget" in result.stderr and "--debug" not in result.stderr  # not a loss of accuracy
    assert not (tmp_path / "strict").exists()
    result = run_cli(*args, "--target", "executorch", "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    int8 = next(a for a in json.loads(result.stdout)["artifacts"] if a["format"] == "executorch-int8")
    # only the cumsum: the global mean around it is rewritten so that XNNPACK takes it (keepdim=True)
    assert list(int8["facts"]["undelegated_ops"]) == ["aten::cumsum.out"]
    assert list(facts(tmp_path / "out" / int8["file"])["undelegated_ops"]) == ["aten::cumsum.out"]
    assert int8["metrics"]["cosine"] >= 0.98  # still right, only slower


def test_named_inputs_and_outputs_are_verified_per_output(two_heads, tmp_path):
    result = run_cli("export", "--target", "executorch", "--model", two_heads["model"], "--weights",
                     two_heads["weights"], "--data", two_heads["labelled"], "--out", tmp_path / "out", "--json",
                     "--no-budget")
    assert result.exit_code == 0, result.stderr
    for artifact in json.loads(result.stdout)["artifacts"]:
        outputs = artifact["metrics"]["outputs"]
        assert list(outputs) == ["scores", "embedding"]
        assert all(m["cosine"] >= 0.98 for m in outputs.values()), outputs


def test_prelu_after_a_linear_layer_is_lowered(tiny_model, tmp_path):
    """ExecuTorch 1.5.1's XNNPACK lowering lays PReLU out channels-last and failed the whole model on a 2-D one
    ("Attempting to convert non-NHWC compatible node to NHWC"); the lowering now gives it 4-D."""
    result = run_cli("export", "--target", "executorch", "--model", f"{TESTS / 'models' / 'prelu_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    assert set(artifacts) == {"executorch", "executorch-int8"}
    for artifact in artifacts.values():
        assert artifact["metrics"]["cosine"] >= 0.99, artifact["metrics"]
        assert facts(tmp_path / "out" / artifact["file"])["undelegated_ops"] == {}, artifact


def test_an_audio_model_s_unsqueezed_input_stays_in_the_delegate(tmp_path):
    """`wave[:, None, :, None]` (how pretrained audio nets make a waveform an image): XNNPACK's partitioner leaves an
    unsqueeze on the portable kernels, so the lowering writes it as a view."""
    import numpy as np
    import torch

    import shrink_edge

    class Wave(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 8, (9, 1), stride=(4, 1))
            self.head = torch.nn.Linear(8 * 62, 4)

        def forward(self, wave):
            return self.head(torch.relu(self.conv(wave[:, None, :, None])).flatten(1))

    torch.manual_seed(0)
    waves = np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32)
    result = shrink_edge.export(Wave().eval(), torch.zeros(1, 256), target="executorch", data={"wave": waves},
                                out=tmp_path / "out", progress=False)
    for artifact in result.manifest["artifacts"]:
        assert artifact["facts"]["undelegated_ops"] == {}, artifact["facts"]
        assert artifact["facts"]["xnnpack_nodes"]["StaticReshape"] >= 1


MASK_ARITHMETIC = {"bitwise_not", "expand_copy", "full_like", "scalar_tensor", "where"}


def test_a_transformer_encoder_runs_in_the_delegate(tmp_path):
    """ExecuTorch decomposes scaled_dot_product_attention into a "safe" softmax (eq, logical_not, any, where) and
    keeps layer_norm and select whole, none of which XNNPACK's partitioner takes: the zoo's ViT-tiny ran as 26
    delegate calls. The lowering writes them as matmuls, a softmax, 4-D means and slices; a padding mask (boolean)
    keeps its meaning. Outside the delegate is left only what nn.MultiheadAttention computes once from the boolean
    mask input (XNNPACK takes no boolean op)."""
    import numpy as np
    import torch

    import shrink_edge

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            self.head = torch.nn.Linear(32, 3)

        def forward(self, tokens, keep):
            return self.head(self.layer(tokens, src_key_padding_mask=~keep)[:, 0])

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((48, 12, 32)).astype(np.float32)
    keep = np.arange(12)[None, :] < rng.integers(4, 13, (48, 1))  # the last positions of most rows are padding
    result = shrink_edge.export(Encoder().eval(), (torch.zeros(1, 12, 32), torch.ones(1, 12, dtype=torch.bool)),
                                target="executorch", data={"tokens": tokens, "keep": keep}, out=tmp_path / "out",
                                progress=False)
    for artifact in result.manifest["artifacts"]:
        outside = {op.split("::")[1].split(".")[0] for op in artifact["facts"]["undelegated_ops"]}
        assert outside <= MASK_ARITHMETIC, artifact["facts"]["undelegated_ops"]
        assert artifact["facts"]["xnnpack_nodes"]["Softmax"] == 1
        assert artifact["facts"]["xnnpack_nodes"]["BatchMatrixMultiply"] == 2
        assert artifact["metrics"]["cosine"] >= (0.9999 if artifact["format"] == "executorch" else 0.99), artifact


def test_a_recurrent_net_runs_whole_in_the_delegate(tmp_path):
    """ExecuTorch decomposes a GRU or LSTM while lowering into steps joined by split, unbind and zeros, which
    XNNPACK does not take (the zoo's GRU keyword spotter: 50 delegate calls); the lowering unrolls them first and
    writes those as slices, views and constants."""
    import numpy as np
    import torch

    import shrink_edge

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(8, 16, batch_first=True)
            self.lstm = torch.nn.LSTM(16, 16, batch_first=True)
            self.head = torch.nn.Linear(16, 3)

        def forward(self, frames):
            return self.head(self.lstm(self.gru(frames)[0])[0][:, -1])

    torch.manual_seed(0)
    frames = np.random.default_rng(0).standard_normal((48, 10, 8)).astype(np.float32)
    result = shrink_edge.export(Recurrent().eval(), torch.zeros(1, 10, 8), target="executorch",
                                data={"frames": frames}, out=tmp_path / "out", progress=False)
    for artifact in result.manifest["artifacts"]:
        assert artifact["facts"]["undelegated_ops"] == {}, artifact["facts"]
        assert artifact["facts"]["delegate_calls"] == {"XnnpackBackend": 1}, artifact["facts"]
        assert artifact["metrics"]["cosine"] >= (0.9999 if artifact["format"] == "executorch" else 0.99), artifact


def test_a_layer_norm_of_transposed_tokens_is_lowered(tmp_path):
    """A LayerNorm straight after a feature map is unfolded into batches of tokens (MobileViT): the lowering's 4-D
    form of it viewed the permuted tensor, which no view can, and failed ("Cannot view a tensor with shape ... and
    strides ...": transformers' MobileViT)."""
    import numpy as np
    import torch

    import shrink_edge

    class Patches(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Conv2d(1, 16, 7, 7)
            self.norm = torch.nn.LayerNorm(16)
            self.head = torch.nn.Linear(16, 4)

        def forward(self, image):  # MobileViT: (batch x 4 patch positions, 4 patches, channels)
            tokens = self.embed(image).reshape(-1, 16, 4, 4).flatten(2).transpose(1, 2).reshape(-1, 4, 4, 16)
            tokens = tokens.permute(0, 2, 1, 3).reshape(-1, 4, 16)
            return self.head(self.norm(tokens).mean(1).reshape(-1, 4, 16).mean(1))

    torch.manual_seed(0)
    images = np.random.default_rng(0).standard_normal((48, 1, 28, 28)).astype(np.float32)
    result = shrink_edge.export(Patches().eval(), torch.zeros(1, 1, 28, 28), target="executorch",
                                data={"image": images}, out=tmp_path / "out", progress=False)
    for artifact in result.manifest["artifacts"]:
        assert artifact["facts"]["undelegated_ops"] == {}, artifact["facts"]
        assert artifact["metrics"]["cosine"] >= 0.99, artifact["metrics"]
