"""Text for a language model: a .txt file, or .jsonl with a `text` field per line. Split once, by position, into
calibration text (the first part) and held-out evaluation text (the last part)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError


def read(path: Path | str) -> str:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"text not found: {path}; give a .txt file or .jsonl with a 'text' field per line")
    if path.suffix == ".jsonl":
        texts = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                texts.append(json.loads(line)["text"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UserError(f"{path}:{number}: not a JSON object with a 'text' field") from None
        text = "\n\n".join(texts)
    elif path.suffix in (".txt", ".md", ""):
        text = path.read_text(encoding="utf-8", errors="replace")
    else:
        raise UserError(f"{path}: LLM data is text: a .txt file, or .jsonl with a 'text' field per line")
    if len(text.split()) < 200:
        raise UserError(f"{path} holds {len(text.split())} words; evaluation needs a few thousand (held-out text "
                        "the model was not trained on)")
    return text


@dataclass(frozen=True)
class TokenText:
    calibration: list[list[int]]   # windows for calibration
    evaluation: list[list[int]]    # held-out windows for perplexity, KL and agreement
    prompts: list[list[int]]       # greedy-generation prompts, from the held-out text


def windows(tokenizer, text: str, length: int, evaluation: int, calibration: int, prompts: int = 4,
            prompt_length: int = 16) -> TokenText:
    """Non-overlapping token windows: the held-out ones from the end of the text, calibration from the start."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    chunks = [ids[i:i + length] for i in range(0, len(ids) - length + 1, length)]
    if len(chunks) < 2:
        raise UserError(f"the text holds {len(ids)} tokens: too short for windows of {length} tokens; give more text")
    held = min(evaluation, max(1, len(chunks) // 2))
    held_out, rest = chunks[-held:], chunks[:-held]
    starts = [w[:prompt_length] for w in held_out[:prompts]]
    return TokenText(rest[:calibration], held_out, starts)
