"""manifest.json: what a run was made from (hashes, settings, versions) and what it wrote.

A run whose key matches the manifest in its output folder, with every artifact intact, has nothing to do.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_text, size_bytes, tree_sha256

NAME = "manifest.json"


@dataclass(frozen=True)
class Entry:
    """One file a run wrote: an export's verified artifact (target, runtime, metrics, facts) or an optimize stage's
    checkpoint (stage)."""
    format: str
    file: str
    path: str
    size_bytes: int
    sha256: str
    target: str | None = None
    stage: str | None = None
    runtime: str | None = None
    metrics: dict | None = None
    facts: dict | None = None
    keep_float: list[str] | None = None  # the layers this int8 file leaves in float, where any

    @classmethod
    def of(cls, src: Path, out: Path, file: str, fmt: str, **about) -> "Entry":
        """The entry for `src`, to be copied to out/file."""
        return cls(fmt, file, str(out / file), size_bytes(src), tree_sha256(src), **about)


@dataclass(frozen=True)
class Manifest:
    """What a run was made from and what it wrote. Fields an export or an optimize run does not have stay out of
    the file, as do an export's empty findings (nothing refused, no budget broken)."""
    run_key: str
    command: str                  # export | optimize
    model: str
    inputs: dict                  # every input's hash
    settings: dict
    versions: dict
    target: str | None = None
    signature: dict | None = None  # export: named inputs and outputs, the class-score output
    reference: dict | None = None  # export: what the artifacts were compared with
    evaluated_on: int | None = None  # optimize: held-out samples
    stages: dict | None = None       # optimize: params, MACs and accuracy per stage
    budget_broken: list | None = None  # written anyway (--no-budget)
    failed: dict | None = None         # group members that broke their budget, not written (name -> reasons)
    refused: dict | None = None        # group members a converter or the install refused (name -> reason)
    keep_float: list | None = None
    fallback: dict | None = None
    debug: dict | None = None
    artifacts: list[Entry] = field(default_factory=list)

    def as_dict(self) -> dict:
        kept = {k: v for k, v in asdict(self).items() if v not in (None, [], {}) or k == "artifacts"}
        kept["artifacts"] = [{k: v for k, v in a.items() if v is not None or k == "metrics" and a["target"]}
                             for a in kept["artifacts"]]
        return kept


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


def write(out: Path, manifest: Manifest | dict) -> dict:
    """Write it (a profile run adds its figures to an export's dict); returns what was written."""
    written = manifest.as_dict() if isinstance(manifest, Manifest) else manifest
    atomic_write_text(out / NAME, json.dumps(written, indent=2, sort_keys=False) + "\n")
    return written
