"""A causal language model as users hold one: a Hugging Face folder (config.json, safetensors, tokenizer files), a
`.gguf` file, or a live transformers model. Loaded in float32, on the CPU, without running any code from the folder."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

# The families the decoder (decoder.py) re-authors: Llama's block, with Qwen2's q/k/v biases and Qwen3's q/k norms.
FAMILIES = {"llama", "mistral", "qwen2", "qwen3", "smollm3"}


@dataclass
class LanguageModel:
    module: object        # transformers PreTrainedModel, eval mode, float32
    tokenizer: object     # transformers PreTrainedTokenizerBase
    source: Path | None   # the folder or file it came from (None: a live model)
    name: str

    @property
    def config(self):
        return self.module.config

    @property
    def context(self) -> int:
        return int(getattr(self.config, "max_position_embeddings", 2048))


def is_language_model(path: Path) -> bool:
    """A folder whose config.json names a *ForCausalLM architecture, or a .gguf file."""
    if path.suffix == ".gguf":
        return True
    config = path / "config.json"
    if not (path.is_dir() and config.is_file()):
        return False
    try:
        architectures = json.loads(config.read_text()).get("architectures") or []
    except json.JSONDecodeError:
        return False
    return any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in architectures)


def load(path: Path | str) -> LanguageModel:
    path = Path(path)
    if not path.exists():
        raise UserError(f"model not found: {path}; give a Hugging Face folder (config.json, *.safetensors, tokenizer)"
                        " or a .gguf file")
    if path.suffix == ".gguf":
        return _from_gguf(path)
    config = path / "config.json"
    if not config.is_file():
        raise UserError(f"{path} has no config.json: a language model is a Hugging Face folder (config.json, "
                        "*.safetensors, tokenizer files) or a .gguf file")
    if not is_language_model(path):
        raw = json.loads(config.read_text())
        raise UserError(f"{path} is not a causal language model (config.json architectures: "
                        f"{raw.get('architectures')}); LLM targets take a *ForCausalLM model")
    if not any(path.glob("*.safetensors")):
        raise UserError(f"{path} has no *.safetensors weights; shrink-edge never unpickles a checkpoint "
                        "(save the model with save_pretrained(safe_serialization=True))")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        raise UserError(f"{path} has no tokenizer (tokenizer.json, tokenizer.model or vocab.json); save the "
                        "tokenizer beside the model with tokenizer.save_pretrained(folder)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    try:
        module = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, trust_remote_code=False,
                                                      local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True)
    except (ValueError, OSError, KeyError) as e:
        raise UserError(f"transformers cannot load {path}: {str(e).splitlines()[0]}") from None
    return LanguageModel(module.eval(), tokenizer, path, path.name)


def from_live(module, tokenizer, name: str = "model") -> LanguageModel:
    """A transformers causal LM already in memory (the Python API)."""
    if not hasattr(module, "config") or not type(module).__name__.endswith(("ForCausalLM", "LMHeadModel")):
        raise UserError(f"{type(module).__name__} is not a causal language model; LLM targets take a "
                        "transformers *ForCausalLM model")
    if tokenizer is None:
        raise UserError("a language model needs its tokenizer: pass tokenizer=AutoTokenizer.from_pretrained(...)")
    return LanguageModel(module.float().eval(), tokenizer, None, name)


def _from_gguf(path: Path) -> LanguageModel:
    """A GGUF file dequantized to float32 by transformers' own reader (its weights keep the GGUF's rounding)."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise UserError(f"reading {path.name} needs the gguf package: pip install 'shrink-edge[llm]'")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    try:
        module = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32,
                                                      local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    except (ValueError, OSError, KeyError, NotImplementedError) as e:
        raise UserError(f"transformers cannot read {path.name}: {str(e).splitlines()[0]}") from None
    return LanguageModel(module.eval(), tokenizer, path, path.stem)


def family(model: LanguageModel) -> str:
    return str(getattr(model.config, "model_type", "unknown"))


def quiet_transformers() -> None:
    """No loading bars or advice on stderr: the run shows its own progress."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
