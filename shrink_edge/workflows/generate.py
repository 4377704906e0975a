"""Greedy generation from an LLM artifact in its own runtime: the tokenizer saved beside it by the export, the
runtime's prefill and decode, the text streamed as it comes, and the speed of each phase."""
from __future__ import annotations

import time
from pathlib import Path

from ..backends import BACKENDS
from ..errors import UserError, first_line
from ..progress import native_logs_quiet


def backend_for(artifact: Path):
    """The LLM backend whose files end like this one."""
    for backend in BACKENDS.values():
        if backend.llm is not None and artifact.name.endswith(backend.llm.suffix):
            if not (backend.installed() and backend.llm.installed()):
                from ..backends import install_hint

                raise UserError(f"{artifact.name} runs in {backend.name}: {install_hint([backend.extra or 'llm'])}")
            return backend
    suffixes = ", ".join(b.llm.suffix for b in BACKENDS.values() if b.llm)
    raise UserError(f"{artifact}: not an LLM artifact ({suffixes}); export one with --target llm-...")


def tokenizer_for(artifact: Path):
    folder = artifact.parent / "tokenizer"
    if not folder.is_dir():
        raise UserError(f"no tokenizer beside {artifact.name}: the export writes it to {folder}; copy that folder "
                        "with the artifact")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def generate(artifact: Path | str, prompt: str, max_new_tokens: int = 64, threads: int = 2, stream=None) -> dict:
    artifact = Path(artifact)
    if not artifact.exists():
        raise UserError(f"artifact not found: {artifact}")
    if max_new_tokens < 1:
        raise UserError("--max-new-tokens must be at least 1")
    if artifact.suffix == ".litertlm":
        return _litertlm(artifact, prompt, max_new_tokens, threads, stream)
    backend = backend_for(artifact)
    tokenizer = tokenizer_for(artifact)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if not ids:
        raise UserError("the prompt is empty after tokenization; give some text")
    try:
        with native_logs_quiet():
            session = backend.llm.session(artifact, threads)
    except Exception as e:
        raise UserError(f"{backend.name} cannot load {artifact.name}: {first_line(e)}") from None
    start = time.perf_counter()
    token = int(session.prefill(ids)[-1].argmax())
    prefill_s = time.perf_counter() - start
    out, shown = [token], ""
    start = time.perf_counter()
    while len(out) < max_new_tokens and token != tokenizer.eos_token_id:
        if stream:
            text = tokenizer.decode(out, skip_special_tokens=True)
            stream(text[len(shown):])
            shown = text
        token = int(session.decode(token).argmax())
        out.append(token)
    decode_s = time.perf_counter() - start
    text = tokenizer.decode(out, skip_special_tokens=True)
    if stream:
        stream(text[len(shown):])
    return {"artifact": str(artifact), "runtime": backend.name, "prompt_tokens": len(ids), "new_tokens": len(out),
            "text": text, "prefill_tokens_per_s": round(len(ids) / prefill_s, 1),
            "decode_tokens_per_s": round((len(out) - 1) / decode_s, 1) if len(out) > 1 else None}


def _litertlm(bundle: Path, prompt: str, max_new_tokens: int, threads: int, stream) -> dict:
    """A LiteRT-LM bundle in LiteRT-LM's own engine: its tokenizer is inside, text in and text out."""
    import importlib.util

    if importlib.util.find_spec("litert_lm") is None:
        raise UserError(f"{bundle.name} runs in LiteRT-LM: pip install 'shrink-edge[llm]'")
    from ..backends.litert.llm import greedy_text, litertlm_engine

    try:
        with native_logs_quiet(), litertlm_engine(bundle, threads) as engine:
            prompt_tokens = len(engine.tokenize(prompt))
            if not prompt_tokens:
                raise UserError("the prompt is empty after tokenization; give some text")
            text, prefill_s, decode_s = greedy_text(engine, prompt, max_new_tokens)
            new_tokens = len(engine.tokenize(text))
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"LiteRT-LM cannot run {bundle.name}: {first_line(e)}") from None
    if stream:
        stream(text)
    return {"artifact": str(bundle), "runtime": "litert-lm", "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
            "text": text, "prefill_tokens_per_s": round(prompt_tokens / prefill_s, 1),
            "decode_tokens_per_s": round(new_tokens / decode_s, 1) if new_tokens else None}
