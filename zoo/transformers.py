"""Transformers: a ViT-tiny (patches, LayerNorm, GELU, attention), a BERT-mini encoder with int64 token ids and
an attention mask in, a mean-pooled sentence embedding out, and the same kind of sentence encoder as Hugging Face
transformers builds it (BertModel: its own attention-mask code, token-type and position embeddings)."""
import torch
from torch import nn

INPUTS = {"image": ((1, 3, 32, 32), "float32")}
TEXT_INPUTS = {"ids": ((1, 32), "int64"), "mask": ((1, 32), "int64")}
HF_TEXT_INPUTS = {"input_ids": ((1, 32), "int64"), "attention_mask": ((1, 32), "int64")}


class ViTTiny(nn.Module):
    def __init__(self, classes=10, dim=64, depth=4, heads=4, patch=4, size=32):
        super().__init__()
        self.patches = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, classes)

    def forward(self, image):
        x = self.patches(image).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.position
        return self.head(self.norm(self.encoder(x))[:, 0])


class BertMini(nn.Module):
    def __init__(self, vocabulary=1000, dim=128, depth=4, heads=4, length=32):
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, dim)
        self.position = nn.Embedding(length, dim)
        self.norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout=0.0, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, ids, mask):
        positions = torch.arange(ids.shape[1], device=ids.device)[None]
        x = self.norm(self.tokens(ids) + self.position(positions))
        keep = mask.to(x.dtype)[..., None]
        x = self.encoder(x, src_key_padding_mask=mask == 0)
        return (x * keep).sum(1) / keep.sum(1).clamp(min=1)


def build():
    return ViTTiny()


def build_bert():
    return BertMini()


class HfSentenceEncoder(nn.Module):
    """transformers.BertModel (random init, nothing downloaded), mean-pooled over the unmasked tokens, as
    sentence-transformers pools it."""

    def __init__(self, vocabulary=1000, dim=128, depth=4, heads=4, length=64):
        super().__init__()
        from transformers import BertConfig, BertModel

        self.bert = BertModel(BertConfig(vocab_size=vocabulary, hidden_size=dim, num_hidden_layers=depth,
                                         num_attention_heads=heads, intermediate_size=dim * 4,
                                         max_position_embeddings=length), add_pooling_layer=False)

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        keep = attention_mask.to(hidden.dtype)[..., None]
        return (hidden * keep).sum(1) / keep.sum(1).clamp(min=1)


def build_hf_bert():
    return HfSentenceEncoder()
