"""Before any training, a target that cannot convert an op says so, naming the op and its module."""
from conftest import RECIPE_SMALL, run_cli

GELU_NET = '''
import torch
class GeluNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, 2, 1)
        self.act = torch.nn.GELU()
        self.head = torch.nn.Linear(8, 10)
    def forward(self, x):
        return self.head(self.act(self.conv(x)).mean((2, 3)))
'''


def test_unsupported_op_is_reported_before_training(tmp_path, tiny_model, train_data, monkeypatch):
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    result = run_cli("export", "--target", "tflite", "--model", f"{tmp_path / 'gelu_net.py'}:GeluNet",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--train-data", train_data,
                     *RECIPE_SMALL, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "tflite lacks gelu (in act: GELU)" in result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache").exists()  # nothing was pruned, trained or converted


def test_group_target_names_each_member_that_lacks_an_op(tmp_path, tiny_model):
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    result = run_cli("export", "--target", "all", "--model", f"{tmp_path / 'gelu_net.py'}:GeluNet",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "tflite lacks gelu" in result.stderr and "cortex-m4 lacks gelu" in result.stderr
