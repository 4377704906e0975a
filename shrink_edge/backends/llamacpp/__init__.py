"""GGUF for llama.cpp (language models only): written from the scheme's integers as Q4_0/Q4_1/Q8_0 (or by llama.cpp's
own quantizer as Q4_K_M, the scheme `runtime`), run in llama.cpp itself through llama-cpp-python."""
from ..contract import Backend, LanguageModels
from . import gguf_file, own_int4, session

BACKEND = Backend(
    name="llamacpp",
    formats=(),
    passes=(),
    predict=None,
    extra="llm",
    llm=LanguageModels(suffix=".gguf", write=gguf_file.write, session=session.Session, facts=session.facts,
                       unsupported=gguf_file.unsupported, requires=("transformers", "gguf", "llama_cpp"),
                       runtime_quantizer=own_int4.QUANTIZER),
)
