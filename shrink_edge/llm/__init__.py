"""Decoder language models: a Hugging Face causal LM (or our own, trained here) read once, its weights quantized
once, written for every runtime that runs one, and verified through each runtime's own prefill/decode loop with its
KV cache against the float PyTorch model."""
