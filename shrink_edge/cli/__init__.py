"""The shrink-edge command line (Typer): commands, and the tables they print."""
from .commands import app

__all__ = ["app"]
