"""Bias correction: after rounding the weights to int8, each layer's mean output per channel is the float weights'
again (measured with the int8 program's own inputs); layers without a bias are left alone."""
import numpy as np
import torch

from shrink_edge.quant.scheme import converted, make_quantizer
from shrink_edge.config.targets import Quantization


class Net(torch.nn.Module):
    """A depthwise 3x3 (9 weights per channel: the largest rounding shift) on post-ReLU inputs (a non-zero mean),
    then a bias-free pointwise layer."""  # noqa: D401

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.depthwise = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pointwise = torch.nn.Conv2d(16, 8, 1, bias=False)
        with torch.no_grad():  # one large tap per channel: its int8 step rounds the other eight coarsely
            self.depthwise.weight[:, 0, 0, 0] *= 30

    def forward(self, x):
        return self.pointwise(torch.relu(self.depthwise(torch.relu(self.stem(x)))))


def _int8(inputs, correct: bool):
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    from shrink_edge.passes.torch_export import export_program
    from shrink_edge.model.signature import TensorSpec

    net = Net().eval()
    program = export_program(net, (TensorSpec("x", (1, 3, 16, 16)),)).module()
    prepared = prepare_pt2e(program, make_quantizer(Quantization(weight_bits=7)))
    with torch.no_grad():
        prepared(torch.from_numpy(inputs))
    return converted(prepared, fold=False, bias_inputs=[inputs] if correct else None)


def _depthwise_shift(int8, x) -> float:
    """Mean over channels of |mean int8 depthwise output - mean output of the float weights and bias on the same
    int8 input|, on data the correction did not see."""
    values = {}
    recorder = torch.fx.Interpreter(int8)
    base = recorder.run_node

    def run_node(node):
        values[node] = value = base(node)
        return value
    recorder.run_node = run_node
    with torch.no_grad():
        recorder.run(x)
        conv = [n for n in int8.graph.nodes if n.op == "call_function" and "conv2d" in str(n.target)][1]
        net = Net()  # its own parameters: the program's are the ones corrected
        wanted = torch.nn.functional.conv2d(values[conv.args[0]], net.depthwise.weight, net.depthwise.bias,
                                            padding=1, groups=16)
        return float((values[conv] - wanted).mean((0, 2, 3)).abs().mean())


def test_corrected_biases_restore_each_channel_mean():
    rng = np.random.default_rng(0)
    calibration, held_out = (rng.random((n, 3, 16, 16), dtype=np.float32) for n in (64, 64))
    shifts = {}
    for correct in (False, True):
        shifts[correct] = _depthwise_shift(_int8(calibration, correct), torch.from_numpy(held_out))
    assert shifts[True] < shifts[False] / 5, shifts


def test_only_layers_with_a_bias_change():
    from shrink_edge.quant.bias_correction import correct_biases

    rng = np.random.default_rng(1)
    inputs = rng.random((32, 3, 16, 16), dtype=np.float32)
    int8 = _int8(inputs, False)
    assert correct_biases(int8, [inputs]) == 2  # stem and depthwise; the pointwise layer has no bias
