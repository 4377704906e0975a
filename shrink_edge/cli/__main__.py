"""`python -m shrink_edge.cli ...` (torchrun starts distributed fine-tuning this way)."""
from .commands import app

app()
