"""The int8 program holds each bias on the int32 grid its runtimes store it on: input scale x weight scale."""
import torch
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

from shrink_edge.passes.torch_export import export_program
from shrink_edge.model.signature import TensorSpec
from shrink_edge.quant.scheme import biases_on_int32_grid, make_quantizer
from shrink_edge.config.targets import Quantization


def test_biases_become_whole_multiples_of_their_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 26 * 26, 3)).eval()
    x = torch.rand(8, 1, 28, 28)
    prepared = prepare_pt2e(export_program(model, (TensorSpec("x", (1, 1, 28, 28)),)).module(),
                            make_quantizer(Quantization()))
    prepared(x)
    converted = convert_pt2e(prepared)
    before = converted(x)
    assert biases_on_int32_grid(converted) == 2
    dequantize = (torch.ops.quantized_decomposed.dequantize_per_tensor.default,
                  torch.ops.quantized_decomposed.dequantize_per_channel.default)
    layers = [n for n in converted.graph.nodes if n.op == "call_function"
              and n.target in (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)]
    for layer in layers:
        x_node, w_node, b_node = layer.args[:3]
        assert x_node.target in dequantize and w_node.target in dequantize
        step = float(x_node.args[1]) * converted.get_buffer(w_node.args[1].target).double()
        steps = converted.get_parameter(b_node.target).double() / step
        assert torch.allclose(steps, steps.round(), atol=1e-3) and steps.abs().max() > 1
    assert (converted(x) - before).abs().max() < 0.1  # the same model, within a step of its output
