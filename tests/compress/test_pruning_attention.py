"""Pruning a transformer keeps its attention heads whole: query, key and value projections written as separate
linear layers (Hugging Face's BertModel) keep their channels, nn.MultiheadAttention is pruned head-consistently by
torch-pruning, and the feed-forward layers shrink."""
from pathlib import Path

import torch
from conftest import load_model_file

from shrink_edge.compress.pruning import attention_projections, count, prune
from shrink_edge.config.settings import PruneSettings

ZOO = load_model_file(Path(__file__).resolve().parents[2] / "zoo" / "transformers.py")
TEXT = (torch.randint(1, 1000, (2, 32)), torch.ones(2, 32, dtype=torch.long))


def test_separate_query_key_value_layers_are_found_and_kept():
    torch.manual_seed(0)
    model = ZOO.build_hf_bert().eval()
    attention = [layer.attention.self for layer in model.bert.encoder.layer]
    found = attention_projections(model, TEXT)
    assert set(found) == {m for a in attention for m in (a.query, a.key, a.value)}
    before = count(model, TEXT)
    prune(model, TEXT, PruneSettings(ratio=0.5))
    for a in attention:
        assert a.query.out_features == a.key.out_features == a.value.out_features == a.all_head_size == 128
    assert all(layer.intermediate.dense.out_features < 512 for layer in model.bert.encoder.layer)
    assert count(model, TEXT)["macs"] < 0.8 * before["macs"]
    assert model(*TEXT).shape == (2, 128)


def test_multihead_attention_is_pruned_whole_heads():
    torch.manual_seed(0)
    model = ZOO.build().eval()
    assert attention_projections(model, (torch.randn(2, 3, 32, 32),)) == []
    prune(model, (torch.randn(2, 3, 32, 32),), PruneSettings(ratio=0.5))
    for layer in model.encoder.layers:
        a = layer.self_attn
        assert a.embed_dim < 64 and a.head_dim * a.num_heads == a.embed_dim
        assert a.in_proj_weight.shape == (3 * a.embed_dim, a.embed_dim)
    assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
