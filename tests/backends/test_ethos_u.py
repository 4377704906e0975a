"""Ethos-U targets: Vela compiles the verified int8 .tflite for the NPU; its cycle/SRAM/flash estimates are the
artifact's facts and budgets; prediction is skipped with the reason (no NPU or FVP here)."""
import json

import pytest
from conftest import run_cli, tiny_args

from shrink_edge.config import targets


@pytest.mark.parametrize("target, accelerator", [("ethos-u55", "Ethos_U55_128"), ("ethos-u65", "Ethos_U65_256")])
def test_vela_build_with_estimates(target, accelerator, tmp_path):
    out = tmp_path / "out"
    done = run_cli("export", "--target", target, "--out", out, "--json")  # the sample: every op on the NPU
    assert done.exit_code == 0, done.stderr
    artifacts = {a["format"]: a for a in json.loads(done.stdout)["artifacts"]}
    assert artifacts["tflite-int8-static"]["metrics"]["agreement"] >= 0.95  # the source of the NPU build, verified
    npu = artifacts["ethos-u"]
    assert npu["metrics"] is None and "runs only on an Ethos-U NPU" in npu["facts"]["verification_skipped"]
    facts = json.loads((out / npu["file"] / "vela.json").read_text())
    assert facts["accelerator"] == accelerator and facts["npu_ops"] > 0
    assert facts["cpu_ops"] == 0 and facts["cpu_fallback"] == []
    assert facts["cycles_total"] >= facts["cycles_npu"] > 0 and facts["sram_bytes"] > 0
    assert facts["off_chip_bytes"] > 0 and npu["facts"]["cycles_total"] == facts["cycles_total"]
    assert b"ethos-u" in (out / npu["file"] / "model_vela.tflite").read_bytes()  # the NPU custom op


STRIDE_4 = """
import torch
from torch import nn


class Stride4(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 4, stride=4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.pool(torch.relu(self.conv(x))).flatten(1))


def build():
    torch.manual_seed(0)
    return Stride4()
"""


def test_cpu_fallback_fails_with_vela_s_reason(tiny_model, tmp_path, monkeypatch):
    """What the lint does not judge still fails the export, with Vela's reason: here a stride the NPU lacks, with
    the lint's stride limit taken out of the spec."""
    spec = (targets.TARGETS_DIR / "ethos-u55.toml").read_text()
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "ethos-u55.toml").write_text(spec.replace("max_stride_height = 3", ""))
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path / "targets")
    (tmp_path / "stride4.py").write_text(STRIDE_4)
    done = run_cli("export", "--target", "ethos-u55", "--model", f"{tmp_path / 'stride4.py'}:build",
                   "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert done.exit_code == 1 and "1 operator(s) fall back from the NPU to the CPU" in done.stderr
    assert "Unsupported kernel stride: 4, 4" in done.stderr and not (tmp_path / "out").exists()


def test_mean_over_depth_fails_with_vela_s_reason(tiny_model, tmp_path):
    """TinyNet's x.mean((2, 3)) becomes a MEAN over the last axis of litert-torch's NCHW tensor, a reduction the NPU
    cannot run: Vela says so, and the budget fails with its words."""
    done = run_cli("export", "--target", "ethos-u55", *tiny_args(tiny_model), "--out", tmp_path / "out")
    assert done.exit_code == 1 and "fall back from the NPU to the CPU" in done.stderr and "MEAN" in done.stderr


def test_sram_over_budget_fails(tmp_path, monkeypatch):
    spec = (targets.TARGETS_DIR / "ethos-u55.toml").read_text().replace("ram_bytes = 524288", "ram_bytes = 1024")
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "ethos-u55.toml").write_text(spec)
    monkeypatch.setattr(targets, "TARGETS_DIR", tmp_path / "targets")
    done = run_cli("export", "--target", "ethos-u55", "--out", tmp_path / "out")  # the sample
    assert done.exit_code == 1 and "ethos-u: SRAM:" in done.stderr and "Vela's estimate" in done.stderr
    assert not (tmp_path / "out").exists()
