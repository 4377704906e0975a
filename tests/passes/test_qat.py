"""INT8 QAT: the converted int8 program answers like the fake-quantized model it was trained as."""
import torch
from conftest import load_tiny_module
from torchao.quantization.pt2e import move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

from shrink_edge.passes.qat import freeze, prepare_qat
from shrink_edge.model.signature import TensorSpec
from shrink_edge.config.targets import Quantization


def test_converted_model_stays_within_tolerance_of_fake_quant():
    torch.manual_seed(0)
    prepared = prepare_qat(load_tiny_module().build(), (TensorSpec("x", (1, 1, 28, 28)),), Quantization())
    opt = torch.optim.SGD(prepared.parameters(), lr=0.01)
    for step in range(6):
        if step == 4:
            freeze(prepared)
        x = torch.rand(16, 1, 28, 28)
        loss = torch.nn.functional.cross_entropy(prepared(x), torch.randint(0, 10, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    move_exported_model_to_eval(prepared)
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        fake_quant = prepared(x)
        scale = float(next(m for m in reversed(list(prepared.modules()))
                           if "FakeQuantize" in type(m).__name__).scale.max())
        int8 = convert_pt2e(prepared)(x)
    assert (int8 - fake_quant).abs().max() <= 2 * scale + 1e-6
    assert (int8.argmax(1) == fake_quant.argmax(1)).float().mean() >= 0.95
