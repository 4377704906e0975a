"""GGUF for llama.cpp (language models only): written from the scheme's integers as Q4_0/Q8_0, run in llama.cpp
itself through llama-cpp-python."""
from ..contract import Backend, LanguageModels
from . import gguf_file, session

BACKEND = Backend(
    name="llamacpp",
    formats=(),
    passes=(),
    predict=None,
    extra="llm",
    llm=LanguageModels(suffix=".gguf", write=gguf_file.write, session=session.Session, facts=session.facts,
                       unsupported=gguf_file.unsupported, requires=("transformers", "gguf", "llama_cpp")),
)
