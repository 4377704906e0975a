"""Global means become GlobalAveragePool: same outputs, and onnxruntime runs them in its int8 / blocked kernels."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from shrink_edge.backends.onnxruntime.pooling import global_average_pools
from conftest import fused_ops


class Means(nn.Module):
    """Both spellings of a global mean, and a mean over one axis that is not global."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        y = self.conv(x)
        return self.pool(y).flatten(1) + y.mean((2, 3)) + y.mean(3).sum(2)


def export(tmp_path) -> onnx.ModelProto:
    path = tmp_path / "means.onnx"
    torch.onnx.export(Means().eval(), (torch.rand(2, 1, 6, 6),), path, dynamo=True, external_data=False,
                      opset_version=18, verbose=False)
    return onnx.load(path)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_global_means_become_global_average_pools_with_the_same_outputs(tmp_path):
    model = export(tmp_path)
    x = np.random.default_rng(0).random((2, 1, 6, 6), dtype=np.float32)
    before = run(model, x)
    assert global_average_pools(model) == 2
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("GlobalAveragePool") == 2 and ops.count("ReduceMean") == 1  # the mean over one axis stays
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_allclose(run(model, x), before, rtol=1e-6, atol=1e-6)


def test_int8_global_pool_fuses_into_onnxruntime_int8_kernel(all_targets, tmp_path):
    """TinyNet ends in x.mean((2, 3)): in the QDQ graph it runs as QLinearGlobalAveragePool, not as float."""
    out, _, artifacts = all_targets
    path = out / artifacts["onnx-int8"]["file"]
    assert "ReduceMean" not in {n.op_type for n in onnx.load(path).graph.node}
    ops = fused_ops(path)
    assert ops["QLinearGlobalAveragePool"] == 1 and ops["ReduceMean"] == 0


@pytest.mark.parametrize("artifact", ["onnx", "onnx-int8"])
def test_exported_graphs_have_no_global_reduce_mean(all_targets, artifact):
    out, _, artifacts = all_targets
    ops = [n.op_type for n in onnx.load(out / artifacts[artifact]["file"]).graph.node]
    assert "ReduceMean" not in ops and ops.count("GlobalAveragePool") == 1
