"""The litert-torch workarounds (quant/workarounds.py): each still needed, and still working."""
import pytest
import torch
from conftest import TESTS, load_model_file, load_tiny_module
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

from shrink_edge.quant.scheme import make_quantizer
from shrink_edge.config.targets import Quantization
from shrink_edge.quant.workarounds import litert_conv_bn_qat_patterns


def exported_for_qat():
    model = load_tiny_module().build().train()
    return torch.export.export(model, (torch.rand(2, 1, 28, 28),),
                               dynamic_shapes=({0: torch.export.Dim("batch", min=1)},)).module()


def test_the_bug_is_still_there():
    """When this fails, litert-torch fixed conv+BN QAT annotation: drop the workaround."""
    with pytest.raises(ValueError, match="Expected `mod` to be an instance of `torch.nn.Module`"):
        prepare_qat_pt2e(exported_for_qat(), make_quantizer(Quantization(), qat=True))


def test_the_workaround_annotates_conv_bn_for_qat():
    with litert_conv_bn_qat_patterns():
        prepared = prepare_qat_pt2e(exported_for_qat(), make_quantizer(Quantization(), qat=True))
    fake_quant = [m for m in prepared.modules() if "FakeQuantize" in type(m).__name__]
    assert len(fake_quant) > 5
    assert prepared(torch.rand(4, 1, 28, 28)).shape == (4, 10)


class ChainedResiduals(torch.nn.Module):
    """Two residual adds in a row, as in MobileNetV2's stacked blocks."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Conv2d(4, 4, 1), torch.nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = x + self.a(x)
        return x + self.b(x)


def test_chained_residual_adds_are_quantized_on_every_input():
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    def unobserved_add_inputs(quantizer):
        program = torch.export.export(ChainedResiduals().eval(), (torch.rand(1, 4, 8, 8),)).module()
        prepared = prepare_pt2e(program, quantizer)
        return [a.name for n in prepared.graph.nodes if n.target == torch.ops.aten.add.Tensor
                for a in n.args if "activation_post_process" not in a.name]

    plain = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    assert unobserved_add_inputs(plain), "litert-torch now quantizes add chains: drop FusingQuantizer"
    assert unobserved_add_inputs(make_quantizer(Quantization())) == []


class ConvRelu6(torch.nn.Module):
    """MobileNetV2's conv -> BN -> ReLU6, read by the next conv."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU6())
        self.b = torch.nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.b(self.a(x))


def quantizes_between_the_convs(quantizer) -> list:
    """(input op, zero point) of each activation quantize from the first conv up to the second."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    x = torch.randn(8, 3, 8, 8)
    prepared = prepare_pt2e(torch.export.export(ConvRelu6().eval(), (x,)).module(), quantizer)
    prepared(x)
    graph = list(convert_pt2e(prepared).graph.nodes)
    convs = [i for i, n in enumerate(graph) if n.target == torch.ops.aten.conv2d.default]
    return [(str(n.args[0].target), n.args[2]) for n in graph[convs[0]:convs[1]]
            if n.target == torch.ops.quantized_decomposed.quantize_per_tensor.default]


def test_conv_relu6_is_quantized_once_after_the_clamp():
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    plain = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    assert len(quantizes_between_the_convs(plain)) == 2, "litert-torch now fuses conv+ReLU6: drop _fuse_clamps"
    assert quantizes_between_the_convs(make_quantizer(Quantization())) == [("aten.hardtanh.default", -128)]


def test_integer_arithmetic_is_not_observed():
    """A Swin block: litert-torch's quantizer annotates the integer multiplies of its shifted-window mask (int64
    region ids: "histogram_cpu" not implemented for 'Long') and of `reshape(-1, 49, c)` (the exported `16 * batch`:
    "'int' object has no attribute 'numel'"); calibration failed for every target."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    def calibrated(quantizer):
        batch = torch.export.Dim("batch", min=1, max=64)
        program = torch.export.export(load_model_file(TESTS / "models" / "window_net.py").build(),
                                      (torch.rand(2, 1, 28, 28),), dynamic_shapes=({0: batch},)).module()
        prepared = prepare_pt2e(program, quantizer)
        return prepared(torch.rand(3, 1, 28, 28))

    plain = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    with pytest.raises((AttributeError, NotImplementedError), match="numel|Long"):  # when this fails, litert-torch
        # fixed it: drop the workaround
        calibrated(plain)
    assert calibrated(make_quantizer(Quantization())).shape == (3, 10)


def test_integer_constants_are_not_observed():
    """transformers' T5 encoder: its relative position buckets (int64) export as a constant that litert-torch's
    quantizer annotates ("histogram_cpu" not implemented for 'Long'); only float values are observed now."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    encoder = T5EncoderModel(T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4)).eval()
    ids = torch.randint(0, 100, (2, 12))

    def calibrated(quantizer):
        program = torch.export.export(encoder, (ids,), dynamic_shapes=({0: torch.export.Dim("batch", max=64)},))
        return prepare_pt2e(program.module(), quantizer)(ids).last_hidden_state

    plain = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    with pytest.raises(NotImplementedError, match="Long"):  # when this fails, litert-torch fixed it: drop the fix
        calibrated(plain)
    assert calibrated(make_quantizer(Quantization())).shape == (2, 12, 32)
