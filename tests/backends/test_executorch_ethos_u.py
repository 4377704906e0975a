"""ExecuTorch's Arm Ethos-U delegate: `--target executorch-ethos-u55` lowers the shared int8 program through the Arm
backend twice: into a .pte with Vela's command stream for the NPU (its memory read from the file; not run here), and
into a .pte whose delegate is the TOSA graph Vela compiles, run in Arm's TOSA reference model and verified like every
artifact, also from a QAT checkpoint and with ops left on the CPU. Before training, an op the Arm partitioner leaves
on the CPU is named."""
import json
from pathlib import Path

import numpy as np
import torch

from conftest import RECIPE_SMALL, load_model_file, run_cli, tiny_args
from shrink_edge.verify import conversion_check
from shrink_edge.backends.executorch.arm import arm_graph, arm_lowered, float_delegate_outputs, mark_quantized
from shrink_edge.backends.executorch.lower import lowered, tosa
from shrink_edge.quant.scheme import quick_int8
from shrink_edge.model.signature import TensorSpec
from shrink_edge.config.targets import resolve


def test_the_npu_build_and_its_tosa_graph(tiny_model, tmp_path):
    """Beside XNNPACK's .pte of the same int8 program (a group of both targets): the TOSA graph is as faithful."""
    group = tmp_path / "group.toml"
    group.write_text('description = "XNNPACK and Ethos-U"\ninclude = ["executorch", "executorch-ethos-u55"]\n')
    result = run_cli("export", "--target", group, *tiny_args(tiny_model), "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    npu, graph = artifacts["executorch-ethos-u-int8"], artifacts["executorch-tosa-int8"]
    assert npu["file"].endswith(".ethos-u.int8.pte") and npu["metrics"] is None
    assert npu["facts"]["delegate_calls"] == {"EthosUBackend": 1} and npu["facts"]["cpu_ops"] == 0
    [blocks] = npu["facts"]["ethos_u"]
    assert blocks["command_stream_bytes"] > 0 and blocks["weight_bytes"] > 0 and 0 < blocks["scratch_bytes"] < 524288
    assert npu["facts"]["off_chip_bytes"] == blocks["command_stream_bytes"] + blocks["weight_bytes"]
    assert "Ethos-U NPU only" in npu["facts"]["verification_skipped"]
    assert graph["facts"]["delegate_calls"] == {"TOSABackend": 1} and graph["facts"]["cpu_ops"] == 0
    tosa, xnnpack = graph["metrics"], artifacts["executorch-int8"]["metrics"]
    assert tosa["sqnr_db"] >= xnnpack["sqnr_db"] - 1 and tosa["agreement"] >= xnnpack["agreement"] - 0.01, (tosa, xnnpack)
    shown = run_cli("profile", tmp_path / "out" / npu["file"])
    assert shown.exit_code == 2 and "no runtime here runs it" in shown.stderr


def test_tosa_graph_of_a_qat_checkpoint_keeps_its_int8_answers(tiny_model, train_data, tmp_path):
    """The QAT program's int8 outputs are the reference: the TOSA graph must stay within the budget's 2 steps."""
    result = run_cli("export", "--target", "executorch-ethos-u55", *tiny_args(tiny_model), "--train-data",
                     train_data, *RECIPE_SMALL, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    [graph] = [a for a in json.loads(result.stdout)["artifacts"] if a["format"] == "executorch-tosa-int8"]
    assert graph["metrics"]["max_error_lsb"] is not None and graph["metrics"]["error_lsb_p99"] <= 1, graph["metrics"]


TWO_HEADS = '''
import torch
class Net(torch.nn.Module):
    """Class probabilities (a softmax the Arm partitioner leaves on the CPU) and a map reshaped after its last
    convolution, as a detector's boxes: float ops at the end of the program."""
    def __init__(self):
        super().__init__()
        self.conv, self.boxes, self.head = torch.nn.Conv2d(1, 8, 3, 2, 1), torch.nn.Conv2d(8, 4, 3, 2, 1), \\
            torch.nn.Linear(8, 10)
    def forward(self, x):
        h = torch.relu(self.conv(x))
        return torch.softmax(self.head(h.mean((2, 3))), -1), self.boxes(h).permute(0, 2, 3, 1).reshape(-1, 49, 4)
'''


def test_ops_left_on_the_cpu_run_beside_the_tosa_graph(tiny_model, tmp_path):
    (tmp_path / "net.py").write_text(TWO_HEADS)
    result = run_cli("export", "--target", "executorch-ethos-u55", "--model", f"{tmp_path / 'net.py'}:Net",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--no-budget", "--out",
                     tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    [graph] = [a for a in manifest["artifacts"] if a["format"] == "executorch-tosa-int8"]
    assert "to the CPU (ExecuTorch's Arm partitioner: aten::_softmax.out: not delegated" in manifest["budget_broken"][0]
    # the boxes' permute and reshape keep the convolution's grid (quant/data_movement.py): on the NPU, where the
    # reshape of their float values was left on the CPU before
    assert graph["facts"]["cpu_fallback"] == ["aten::_softmax.out: not delegated"]
    for name, output in graph["metrics"]["outputs"].items():
        assert output["cosine"] >= 0.99 and output["sqnr_db"] >= 20, (name, output)


class Pooled(torch.nn.Module):
    def __init__(self, activation):
        super().__init__()
        self.conv, self.head, self.activation = torch.nn.Conv2d(1, 8, 3, 2, 1), torch.nn.Linear(8, 10), activation

    def forward(self, x):
        return self.head(self.activation(self.conv(x).mean((2, 3))))


class ResidualTail(torch.nn.Module):
    """ResNet's end: a residual add, a ReLU, global pooling of the float result, a flatten, a linear layer."""

    def __init__(self):
        super().__init__()
        self.stem, self.body = torch.nn.Conv2d(1, 8, 3, 2, 1), torch.nn.Conv2d(8, 8, 3, 1, 1)
        self.pool, self.head = torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(8, 10)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        return self.head(torch.flatten(self.pool(torch.relu(self.body(h) + h)), 1))


class Model:
    inputs = (TensorSpec("x", (1, 1, 28, 28)),)


def test_what_the_arm_partitioner_leaves_on_the_cpu_is_named_before_training():
    spec = resolve("executorch-ethos-u55")
    assert conversion_check.problems(Pooled(torch.nn.GELU()).eval(), Model, [spec]) == []  # a TABLE op on the NPU
    assert conversion_check.problems(ResidualTail().eval(), Model, [spec]) == []  # pooled and flattened in int8
    [line] = conversion_check.problems(Pooled(torch.nn.Softmax(-1)).eval(), Model, [spec])
    assert line == "executorch-ethos-u55: the Arm partitioner leaves 1 op(s) on the CPU (aten._softmax x1)"


def test_a_partition_that_would_return_float_is_lowered_again():
    """The ViT's attention: the partitioner takes ops the marking calls int8 but refuses the op that rounds their
    result, so one marking pass gives delegates that return int8 where the program expects float; the lowering
    leaves those ops out and lowers again until every delegate output is int8."""
    vit = load_model_file(Path(__file__).resolve().parents[2] / "zoo" / "transformers.py").build().eval()

    inputs = (TensorSpec("image", (1, 3, 32, 32)),)
    program = quick_int8(vit, inputs, resolve("executorch-ethos-u55").quantization)

    def once(exported, partitioner):
        from executorch.exir import to_edge_transform_and_lower

        mark_quantized(exported)
        return to_edge_transform_and_lower(exported, partitioner=[partitioner])

    assert float_delegate_outputs(lowered(program, inputs, tosa({}), arm_graph, once))
    assert not float_delegate_outputs(lowered(program, inputs, tosa({}), arm_graph, arm_lowered))


ANCHORS = '''
import torch
class Net(torch.nn.Module):
    """A detector's heads: two maps permuted to NHWC, reshaped into anchors and concatenated (an int8 concatenation)."""
    def __init__(self):
        super().__init__()
        self.conv, self.down = torch.nn.Conv2d(1, 8, 3, 2, 1), torch.nn.Conv2d(8, 16, 3, 2, 1)
        self.heads = torch.nn.ModuleList([torch.nn.Conv2d(8, 12, 3, 1, 1), torch.nn.Conv2d(16, 12, 3, 1, 1)])
    def forward(self, x):
        maps = [torch.relu(self.conv(x))]
        maps.append(torch.relu(self.down(maps[0])))
        return torch.cat([h(m).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4) for h, m in zip(self.heads, maps)], 1)
'''


def test_anchors_reshaped_from_permuted_maps_keep_their_order(tiny_model, tmp_path):
    """ExecuTorch's Arm backend orders a reshape of a permuted tensor wrongly inside its delegate: such reshapes stay
    on the CPU (arm.reshaped_permutation), and the TOSA graph is as faithful as XNNPACK's file (was 15.9 dB against
    38.2 on the zoo's detector)."""
    (tmp_path / "net.py").write_text(ANCHORS)
    with np.load(tiny_model["data"]) as data:  # the images without their labels: no output holds class scores
        np.savez(tmp_path / "images.npz", **{k: data[k] for k in data.files if k != "y"})
    group = tmp_path / "group.toml"
    group.write_text('description = "XNNPACK and Ethos-U"\ninclude = ["executorch", "executorch-ethos-u55"]\n')
    result = run_cli("export", "--target", group, "--model", f"{tmp_path / 'net.py'}:Net", "--input-shape",
                     "1,1,28,28", "--data", tmp_path / "images.npz", "--no-budget", "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    tosa, xnnpack = artifacts["executorch-tosa-int8"]["metrics"], artifacts["executorch-int8"]["metrics"]
    assert tosa["sqnr_db"] >= xnnpack["sqnr_db"] - 1, (tosa, xnnpack)
