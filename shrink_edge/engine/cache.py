"""Content-addressed cache of intermediates: one folder per key, created whole or not at all."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def default_cache_dir() -> Path:
    if env := os.environ.get("SHRINK_EDGE_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shrink-edge"


class Cache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else default_cache_dir()

    def path(self, key: str, filename: str) -> Path:
        return self.root / key[:2] / key / filename

    def scratch(self, key: str) -> Path:
        """A folder for a pass's resumable work on `key`; kept after a crash, removed once the entry exists."""
        path = self.root / "scratch" / key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def get_or_create(self, key: str, filename: str, create: Callable[[Path], None]) -> tuple[Path, bool]:
        """Return (path, hit). On a miss, `create(tmp_path)` writes the file into a fresh folder that is
        renamed into place only when it returns."""
        final = self.path(key, filename)
        if final.exists():
            return final, True
        final.parent.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=final.parent.parent, prefix=f".{key[:12]}."))
        try:
            create(staging / filename)
            if not (staging / filename).exists():
                raise RuntimeError(f"pass wrote nothing to {staging / filename}")
            try:
                os.rename(staging, final.parent)
            except OSError:  # another run made it first; theirs is as good as ours
                if not final.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(self.root / "scratch" / key, ignore_errors=True)
        return final, False
