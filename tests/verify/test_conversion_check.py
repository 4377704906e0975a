"""Before training, the real converters and runtimes try the float model; what they refuse is one line, exit 2,
and nothing is trained or written. What they take goes through."""
from conftest import RECIPE_SMALL, run_cli

NET = '''
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, 2, 1)
        self.head = torch.nn.Linear(8, 10)
    def forward(self, x):
        h = self.conv(x).mean((2, 3))
        return self.head({op})
'''
GELU = NET.format(op="torch.nn.functional.gelu(h)")
INVERSE = NET.format(op="torch.linalg.inv(h.reshape(-1, 2, 2) + torch.eye(2)).reshape(h.shape[0], 8)")


def export(tmp_path, source, target, tiny_model, train_data):
    (tmp_path / "net.py").write_text(source)
    return run_cli("export", "--target", target, "--model", f"{tmp_path / 'net.py'}:Net", "--input-shape",
                   "1,1,28,28", "--data", tiny_model["data"], "--train-data", train_data, *RECIPE_SMALL,
                   "--out", tmp_path / "out")


def test_a_runtime_without_the_kernel_is_named(tmp_path, tiny_model, train_data, monkeypatch):
    """TFLite converts GELU, but TFLite Micro has no GELU kernel: the board target says so before training."""
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    result = export(tmp_path, GELU, "cortex-m4", tiny_model, train_data)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "cortex-m4: TFLite Micro has no kernel for GELU" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_a_converter_failure_is_its_own_reason(tmp_path, tiny_model, train_data, monkeypatch):
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    result = export(tmp_path, INVERSE, "tflite", tiny_model, train_data)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "tflite: litert-torch cannot convert the model (" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cache").exists()


def test_what_the_converters_take_goes_through(tmp_path, tiny_model, train_data):
    """GELU used to be refused by a hand-kept op list; litert-torch converts it (and the QAT model with it)."""
    result = export(tmp_path, GELU, "tflite", tiny_model, train_data)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "net.int8.tflite").is_file()
