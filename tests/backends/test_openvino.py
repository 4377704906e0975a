"""OpenVINO IR from the QDQ ONNX: runs its convolutions in int8 and agrees with the QAT reference."""
import numpy as np
import pytest
import torch
from conftest import TESTS, load_model_file

import shrink_edge

RecurrentNet = load_model_file(TESTS / "models" / "recurrent_net.py").RecurrentNet


def test_compute_layers_run_in_int8(all_targets):
    out, _, artifacts = all_targets
    ir = out / artifacts["openvino-int8"]["file"]
    assert (ir / "model.xml").is_file() and (ir / "model.bin").is_file()
    facts = artifacts["openvino-int8"]["facts"]
    assert facts["int8_compute_layers"] >= 5  # TinyNet: 4 convolutions and the classifier
    assert facts["float_compute_layers"] == []


def test_agrees_with_the_qat_reference(all_targets):
    # OpenVINO rounds its int8 pipeline differently from PyTorch's simulation: looser than LiteRT/onnxruntime
    metrics = all_targets[2]["openvino-int8"]["metrics"]
    assert metrics["agreement"] >= 0.95 and metrics["error_lsb_p99"] <= 2 and metrics["max_error_lsb"] <= 6


@pytest.mark.parametrize("layer", [torch.nn.LSTM, torch.nn.GRU])
def test_a_recurrent_layer_is_stored_int8_runs_float_and_is_listed_apart(tmp_path, layer):
    """The CPU plugin runs LSTM and GRU layers in float only, but compiles weights stored as int8 codes and row
    scales: the IR holds them in a quarter of the bytes, facts list the layer apart from the compute layers that the
    int8_compute budget judges (the runtime's limit), and the export holds."""
    torch.manual_seed(0)
    frames = np.random.default_rng(0).standard_normal((64, 20, 8)).astype(np.float32)
    model = RecurrentNet(layer).eval()
    result = shrink_edge.export(model, torch.zeros(1, 20, 8), target="openvino", data={"x": frames},
                                out=tmp_path / "out", progress=False)
    [artifact] = result.manifest["artifacts"]
    facts = artifact["facts"]
    assert len(facts["float_recurrent_layers"]) == 1 and facts["float_compute_layers"] == []
    assert facts["int8_recurrent_weights"] == 2  # its input and recurrent matrices
    assert facts["int8_compute_layers"] == 1 and artifact["metrics"]["sqnr_db"] > 20  # the head int8
    float_bytes = 4 * sum(p.numel() for p in model.parameters())
    assert (tmp_path / "out" / artifact["file"] / "model.bin").stat().st_size < 0.4 * float_bytes


def int8_sqnr(model, example, data, tmp_path) -> dict[str, float]:
    """Each int8 file's SQNR to the float model, for onnxruntime's and OpenVINO's files of one int8 program."""
    sqnr = {}
    for target in ("onnx", "openvino"):
        result = shrink_edge.export(model, example, target=target, data=data, out=tmp_path / target,
                                    cache_dir=tmp_path / "cache", progress=False, enforce_budget=False)
        sqnr.update({a["format"]: a["metrics"]["sqnr_db"] for a in result.manifest["artifacts"] if a["metrics"]})
    return sqnr


class PooledTokens(torch.nn.Module):
    """Tokens averaged before a batch-norm head, as LeViT classifies: mean over the tokens, then a per-channel
    multiply-add in int8."""

    def __init__(self):
        super().__init__()
        self.embed, self.norm, self.head = torch.nn.Linear(16, 32), torch.nn.BatchNorm1d(32), torch.nn.Linear(32, 5)
        with torch.no_grad():
            self.norm.running_mean.uniform_(-0.2, 0.2)
            self.norm.running_var.uniform_(0.3, 3)
            self.norm.weight.uniform_(0.5, 2)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, tokens):
        return self.head(self.norm(self.embed(tokens).mean(dim=1)))


def test_a_quantized_mean_over_tokens_before_a_batch_norm_head_agrees(tmp_path):
    """OpenVINO's convert_model miscomputed a reduction that drops its axes, quantized and then multiplied by a
    per-channel constant (1.4 dB here; cosine 0.918 on transformers' LeViT); the IR agrees with onnxruntime's."""
    torch.manual_seed(0)
    tokens = np.random.default_rng(0).standard_normal((64, 6, 16)).astype(np.float32)
    sqnr = int8_sqnr(PooledTokens().eval(), torch.zeros(1, 6, 16), {"tokens": tokens}, tmp_path)
    assert sqnr["onnx-int8"] > 20 and sqnr["openvino-int8"] > sqnr["onnx-int8"] - 3, sqnr


class QuietGroupNorm(torch.nn.Module):
    """A group norm on quiet activations (variance near its epsilon), as PoolFormer's blocks normalize."""

    def __init__(self):
        super().__init__()
        self.stem, self.norm = torch.nn.Conv2d(3, 16, 3, bias=False), torch.nn.GroupNorm(1, 16)
        self.head = torch.nn.Conv2d(16, 4, 1)

    def forward(self, image):
        return self.head(self.norm(self.stem(image)))


def test_a_group_norm_on_quiet_activations_agrees(tmp_path):
    """OpenVINO's low-precision transformations normalized a symmetric int8 input's integers with the epsilon
    unscaled (17.4 dB against onnxruntime's 32.3 here); a barrier keeps the dequantization before the norm."""
    torch.manual_seed(0)
    images = 0.01 * np.random.default_rng(0).standard_normal((64, 3, 12, 12)).astype(np.float32)
    sqnr = int8_sqnr(QuietGroupNorm().eval(), torch.zeros(1, 3, 12, 12), {"image": images}, tmp_path)
    assert sqnr["onnx-int8"] > 20 and sqnr["openvino-int8"] > sqnr["onnx-int8"] - 3, sqnr
