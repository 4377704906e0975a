import numpy as np
import torch

import shrink_edge


def test_transformers_swin_converts_where_attention_is_written_as_matmuls(tmp_path):
    """transformers' Swin (a tiny config, random weights): its attention output, transposed, made contiguous and
    reshaped, exported with no copy (torch's CPU attention kernel lays it out transposed already), and torch.onnx and
    ExecuTorch's lowering, which write the attention as matmuls, could not view the transpose ("Cannot view a tensor
    with shape ... and strides ..."): passes/torch_export.attention_views_copied, executorch/transformer.py."""
    from transformers import SwinConfig, SwinForImageClassification

    torch.manual_seed(0)
    model = SwinForImageClassification(SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[2],
                                                  num_heads=[2], window_size=4, num_labels=5)).eval()
    images = np.random.default_rng(0).standard_normal((24, 3, 32, 32)).astype(np.float32)
    result = shrink_edge.export(model, target="all", data={"pixel_values": images}, out=tmp_path / "out",
                                progress=False, enforce_budget=False)
    built = {a["format"]: a for a in result.manifest["artifacts"]}
    assert {"onnx", "onnx-int8", "executorch", "executorch-int8", "openvino-int8", "tflite-int8"} <= set(built), \
        result.manifest["refused"]
    assert all(a["metrics"]["cosine"] >= 0.99 for a in built.values() if a.get("metrics")), built


class Pooler(torch.nn.Module):
    """BERT's pooler and classifier: the first token, a dense layer, tanh, dropout, the class scores."""

    def __init__(self):
        super().__init__()
        self.dense, self.classifier = torch.nn.Linear(32, 32), torch.nn.Linear(32, 3)
        self.dropout = torch.nn.Dropout(0.1)

    def forward(self, tokens):
        return self.classifier(self.dropout(torch.tanh(self.dense(tokens[:, 0]))))


def test_the_classifier_reads_the_tanh_grid_through_an_eval_dropout(tmp_path):
    """torch.export keeps an eval-mode dropout; the quantizer annotated it as the classifier's input and requantized
    the tanh's fixed 1/128 grid (TFLite's) onto another: passes/torch_export.eval_dropouts_removed."""
    import onnx
    from onnx import numpy_helper

    torch.manual_seed(0)
    tokens = 3 * np.random.default_rng(0).standard_normal((64, 4, 32)).astype(np.float32)
    result = shrink_edge.export(Pooler().eval(), torch.zeros(1, 4, 32), target="onnx", data={"tokens": tokens},
                                out=tmp_path, progress=False, enforce_budget=False)
    file = next(a["file"] for a in result.manifest["artifacts"] if a["format"] == "onnx-int8")
    graph = onnx.load(tmp_path / file).graph
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    made_by = {o: n for n in graph.node for o in n.output}
    classifier = [n for n in graph.node if n.op_type in ("Gemm", "MatMul")][-1]
    read = made_by[classifier.input[0]]
    assert read.op_type == "DequantizeLinear" and float(constants[read.input[1]]) == 1 / 128
    assert made_by[made_by[read.input[0]].input[0]].op_type == "Tanh"  # no requantization between
