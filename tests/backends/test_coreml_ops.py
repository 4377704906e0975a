"""Ops that coremltools' torch frontend lacks but torch can decompose are decomposed before conversion: HF
transformers builds its attention mask with `new_ones` and `&`. Packages take the --input-shape batch."""
import torch
from torch import nn

from shrink_edge.backends.coreml.export import _convert, _known_ops, _static
from shrink_edge.model.signature import TensorSpec
from shrink_edge.passes.torch_export import export_program


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


class AudioFeatures(nn.Module):
    """wav2vec 2.0's first feature layer: a strided convolution, then GroupNorm with one group per channel."""
    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv1d(1, 16, 10, 5, bias=False), nn.GroupNorm(16, 16)

    def forward(self, audio):
        return nn.functional.gelu(self.norm(self.conv(audio)))


def test_a_group_norm_converts_at_the_input_shape_batch():
    """With the exported program's dynamic batch coremltools failed: "Cannot add const [is0, 16, 1, 79]"."""
    inputs = (TensorSpec("audio", (1, 1, 400)),)
    spec = _convert(_static(export_program(AudioFeatures().eval(), inputs), inputs)).get_spec()
    assert [list(i.type.multiArrayType.shape) for i in spec.description.input] == [[1, 1, 400]]
