"""The int8 scheme every backend shares: a PT2E quantizer built from a target spec's settings.

litert-torch's quantizer gives symmetric int8 weights (per channel by default) and asymmetric int8
activations per tensor, which TFLite, ONNX QDQ, OpenVINO and Core ML all take.
"""
from .targets import Quantization


def make_quantizer(scheme: Quantization, qat: bool = False):
    from litert_torch.quantize.pt2e_quantizer import get_symmetric_quantization_config

    from .workarounds import ResidualAddQuantizer

    config = get_symmetric_quantization_config(is_per_channel=scheme.weights_per_channel, is_qat=qat)
    return ResidualAddQuantizer().set_global(config)
