"""Ops that coremltools' torch frontend lacks but torch can decompose are decomposed before conversion: HF
transformers builds its attention mask with `new_ones` and `&`."""
import torch
from torch import nn

from shrink_edge.backends.coreml.export import _convert, _known_ops


class MaskOps(nn.Module):
    def forward(self, x, mask):
        keep = mask.new_ones(mask.shape).bool() & (mask > 0)
        return x * keep.to(x.dtype)


def program():
    return torch.export.export(MaskOps(), (torch.randn(2, 8), torch.ones(2, 8, dtype=torch.long)))


def test_ops_coremltools_lacks_are_decomposed_and_the_rest_kept():
    ops = {node.target._opname for node in _known_ops(program()).graph.nodes if node.op == "call_function"}
    assert not ops & {"new_ones", "__and__"}
    assert "mul" in ops


def test_the_model_converts():
    spec = _convert(program()).get_spec()
    assert [i.name for i in spec.description.input] == ["x", "mask"]
