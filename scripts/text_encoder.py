"""A BERT-style sentence encoder trained here on real English, for scripts/bench_fidelity.py.

Text: the docstrings of Python's standard library (read from its .py files with `ast`, nothing imported), about
250,000 words written by people; one paragraph per sample. Tokens: a WordPiece vocabulary trained on that text
(Hugging Face tokenizers, as BERT's). Model: zoo/transformers.py's HfSentenceEncoder (transformers' BertModel,
mean-pooled over the unmasked tokens), pre-trained with masked-language modelling as BERT is; the sentence
embedding is what an app ships for search or clustering."""
from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import numpy as np
from fidelity_models import TEXT_LENGTH as LENGTH
from fidelity_models import TEXT_VOCABULARY as VOCABULARY

SPECIAL, MASK = 5, 4  # WordPiece's first ids: [PAD] [UNK] [CLS] [SEP] [MASK]


def paragraphs() -> list[str]:
    """Every docstring paragraph of the standard library with at least eight words, in file order."""
    found = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if any(part in ("test", "tests", "site-packages", "idle_test") for part in path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                found += [" ".join(p.split()) for p in doc.split("\n\n") if len(p.split()) >= 8]
    return found


def tokenizer(texts: list[str], vocabulary: Path):
    """A WordPiece tokenizer: read from `vocabulary`, else trained on `texts` and saved there. Training breaks ties
    between equally frequent pieces differently from run to run, so the vocabulary is kept with the weights."""
    from tokenizers import BertWordPieceTokenizer

    if not vocabulary.exists():
        trained = BertWordPieceTokenizer(lowercase=True)
        trained.train_from_iterator(texts, vocab_size=VOCABULARY, min_frequency=2, show_progress=False)
        written = Path(trained.save_model(str(vocabulary.parent), "text")[0])
        written.rename(vocabulary)
    words = BertWordPieceTokenizer(str(vocabulary), lowercase=True)
    words.enable_truncation(LENGTH)
    words.enable_padding(length=LENGTH)
    return words


def encoded(words, texts: list[str]) -> dict[str, np.ndarray]:
    batch = words.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in batch], np.int64),
            "attention_mask": np.array([e.attention_mask for e in batch], np.int64)}


def pretrain(encoder, data: dict[str, np.ndarray], steps: int, batch: int = 32, lr: float = 1e-3):
    """Masked-language modelling (15% of tokens: 80% [MASK], 10% random, 10% kept) on `encoder.bert` with a tied
    output layer, as BERT; returns the encoder in eval mode."""
    import torch
    from transformers import BertForMaskedLM

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    mlm = BertForMaskedLM(encoder.bert.config)
    mlm.bert.load_state_dict(encoder.bert.state_dict(), strict=False)
    opt = torch.optim.AdamW(mlm.parameters(), lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    ids, mask = torch.from_numpy(data["input_ids"]), torch.from_numpy(data["attention_mask"])
    rng = torch.Generator().manual_seed(0)
    mlm.train()
    for step in range(steps):
        rows = torch.randint(0, len(ids), (batch,), generator=rng)
        tokens, keep = ids[rows].clone(), mask[rows]
        chosen = (torch.rand(tokens.shape, generator=rng) < 0.15) & (tokens >= SPECIAL)
        labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
        roll = torch.rand(tokens.shape, generator=rng)
        tokens[chosen & (roll < 0.8)] = MASK
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        tokens[swap] = torch.randint(SPECIAL, VOCABULARY, (int(swap.sum()),), generator=rng)
        loss = mlm(input_ids=tokens, attention_mask=keep, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if step % 200 == 0:
            print(f"  masked-LM step {step}: loss {loss.item():.3f}", flush=True)
    encoder.bert.load_state_dict(mlm.bert.state_dict(), strict=False)
    torch.set_num_threads(threads)
    return encoder.eval()
