"""A small Llama-style language model trained here, from English that ships with Python (the documentation topics
in pydoc_data), with its own byte-level BPE tokenizer, written as a Hugging Face folder: the model the LLM targets,
tests and benchmarks run on without downloading anything."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


def english() -> str:
    """About 465,000 characters of real English prose (Python's reference documentation, as pydoc shows it)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


@dataclass(frozen=True)
class Size:
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 704
    vocab: int = 4096
    context: int = 512


TINY = Size(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=160, vocab=512, context=256)


def tokenizer_for(text: str, vocab: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator([text], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>")


def train(folder: Path | str, size: Size = Size(), steps: int = 600, batch: int = 16, sequence: int = 128,
          seed: int = 0, text: str | None = None, progress=None) -> Path:
    """Train on all but the last 10% of the text (held out for evaluation) and save the folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    text = text or english()
    train_text = text[: int(len(text) * 0.9)]
    torch.manual_seed(seed)
    tokenizer = tokenizer_for(train_text, size.vocab)
    ids = torch.tensor(tokenizer(train_text, add_special_tokens=False)["input_ids"])
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=size.hidden, num_hidden_layers=size.layers,
                         num_attention_heads=size.heads, num_key_value_heads=size.kv_heads,
                         intermediate_size=size.intermediate, max_position_embeddings=size.context,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, rope_theta=10000.0)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(ids) - sequence, (batch,), generator=generator)
        tokens = torch.stack([ids[s:s + sequence] for s in starts])
        loss = model(input_ids=tokens, labels=tokens).loss  # transformers shifts the labels itself
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if progress:
            progress(step + 1, steps, loss.item())
    model.eval()
    from .model import quiet_transformers

    quiet_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
