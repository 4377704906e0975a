"""Compression that changes the float model: structured pruning and fine-tuning with knowledge distillation."""
