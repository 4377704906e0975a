"""manifest.json: what a run was made from (hashes, settings, versions) and what it wrote.

A run whose key matches the manifest in its output folder, with every artifact intact, has nothing to do.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write_text, tree_sha256

NAME = "manifest.json"


def read_current(out: Path, run_key: str) -> dict | None:
    """The manifest in `out` if it was written for `run_key` and its artifacts are unchanged."""
    path = out / NAME
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("run_key") != run_key:
        return None
    for artifact in manifest.get("artifacts", []):
        file = out / artifact["file"]
        if not file.exists() or tree_sha256(file) != artifact["sha256"]:
            return None
    return manifest


def write(out: Path, manifest: dict) -> None:
    atomic_write_text(out / NAME, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
