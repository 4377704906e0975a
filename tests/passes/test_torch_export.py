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
