"""Fixes for bugs in the tools we drive, each in one marked place with a test that notices when it goes stale."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def litert_conv_bn_qat_patterns() -> Iterator[None]:
    """litert-torch 0.10 (and its 0.11 nightly) hands torch.export a bare function when annotating conv+BN for
    QAT ("Expected `mod` to be an instance of `torch.nn.Module`, got <class 'function'>"). Wrap such pattern
    functions in torchao's WrapperModule while the quantizer annotates. tests/test_workarounds.py fails when
    the bug is fixed upstream (drop this) or the fix stops working."""
    import litert_torch.quantize.pt2e_quantizer_utils as utils
    from torch import nn
    from torchao.quantization.pt2e import WrapperModule

    original = utils._get_aten_graph_module_for_pattern

    def wrapped(pattern, example_inputs, is_cuda=False, **kwargs):
        if not isinstance(pattern, nn.Module):
            pattern = WrapperModule(pattern)
        return original(pattern, example_inputs, is_cuda, **kwargs)

    utils._get_aten_graph_module_for_pattern = wrapped
    try:
        yield
    finally:
        utils._get_aten_graph_module_for_pattern = original
