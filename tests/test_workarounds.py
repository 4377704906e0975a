"""The litert-torch conv+BN QAT workaround: still needed, and still working."""
import pytest
import torch
from conftest import load_tiny_module
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

from shrink_edge.quantization import make_quantizer
from shrink_edge.targets import Quantization
from shrink_edge.workarounds import litert_conv_bn_qat_patterns


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
