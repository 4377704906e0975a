"""Before any training, a target that cannot convert the model says so: the NPU's layer limits, named with their
module; the operators Vela leaves on the CPU, in Vela's words; and what the real converters and runtimes refuse
(test_conversion_check.py)."""
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


def test_op_vela_leaves_on_the_cpu_is_reported_before_training(tmp_path, tiny_model, train_data, monkeypatch):
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "gelu_net.py").write_text(GELU_NET)
    result = run_cli("export", "--target", "ethos-u55", "--model", f"{tmp_path / 'gelu_net.py'}:GeluNet",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--train-data", train_data,
                     *RECIPE_SMALL, "--out", tmp_path / "out")
    assert result.exit_code == 2
    # Vela runs the int8 GELU on the NPU; it leaves the mean over the last axis of litert-torch's NCHW tensor
    assert "ethos-u55: Vela leaves" in result.stderr and "MEAN: Unsupported depth-reduction" in result.stderr, \
        result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache").exists()  # nothing was pruned, trained or converted


NPU_LIMITS_NET = '''
import torch
from torch import nn
class NpuLimitsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 4, stride=4)
        self.spread = nn.Conv2d(4, 8, 3, padding=1, groups=4)   # depthwise, depth multiplier 2
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 10)
    def forward(self, x):
        return self.head(self.pool(torch.relu(self.spread(torch.relu(self.stem(x))))).flatten(1))
'''


def test_npu_layer_limits_are_reported_before_any_work(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("SHRINK_EDGE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "npu_net.py").write_text(NPU_LIMITS_NET)
    result = run_cli("export", "--target", "ethos-u55", "--model", f"{tmp_path / 'npu_net.py'}:NpuLimitsNet",
                     "--input-shape", "2,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1  # one line
    assert "ethos-u55: batch 2 (--input-shape) where it runs batch 1 only" in result.stderr
    assert "stride 4 along the height in stem: Conv2d (at most 3)" in result.stderr
    assert "depth multiplier 2 in spread: Conv2d" in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_targets_without_those_limits_take_the_same_model(tmp_path):
    """The limits are the NPU's: the same layers pass the TFLite spec's lint."""
    import importlib.util

    import torch

    from shrink_edge.config import targets
    from shrink_edge.verify.lint import beyond_limits
    from shrink_edge.passes.torch_export import export_program
    from shrink_edge.model.signature import TensorSpec

    (tmp_path / "npu_net.py").write_text(NPU_LIMITS_NET)
    spec = importlib.util.spec_from_file_location("npu_net", tmp_path / "npu_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    program = export_program(module.NpuLimitsNet().eval(), (TensorSpec("x", (2, 1, 28, 28)),))
    tflite = targets.resolve("tflite")
    assert beyond_limits(program, tflite, (2, 1, 28, 28)) == []
    assert len(beyond_limits(program, targets.resolve("ethos-u55"), (1, 1, 28, 28))) == 2
    assert torch.is_tensor(program.module()(torch.zeros(3, 1, 28, 28)))


def _saved_program(tmp_path, dynamic_shapes):
    import torch

    from conftest import load_tiny_module

    module = load_tiny_module().build().eval()
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(module, (torch.rand(2, 1, 28, 28),), dynamic_shapes=dynamic_shapes), path)
    return path


def test_program_with_a_fixed_batch_is_refused_with_the_fix(tmp_path, tiny_model):
    path = _saved_program(tmp_path, None)
    result = run_cli("export", "--target", "onnx", "--model", path, "--input-shape", "2,1,28,28",
                     "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "exported with a fixed batch size" in result.stderr and "torch.export.Dim('batch')" in result.stderr


def test_dynamic_dimensions_are_fixed_with_a_note(tmp_path, tiny_model):
    """A program with dynamic batch, height and width: the int8 artifacts fix the height and width, the static
    targets the batch as well; the run says so and goes on."""
    import torch

    batch, side = torch.export.Dim("batch"), torch.export.Dim("side", min=8, max=64)
    path = _saved_program(tmp_path, ({0: batch, 2: side, 3: side},))
    result = run_cli("export", "--target", "tflite", "--model", path, "--input-shape", "1,1,28,28",
                     "--data", tiny_model["data"], "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert "note: dimensions 2, 3 of the input are dynamic" in result.stderr
    assert "the int8 artifacts fix them at 28, 28" in result.stderr
    assert "static input shapes in tflite: the batch is fixed at 1" in result.stderr
