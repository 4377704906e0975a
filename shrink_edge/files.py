"""File helpers: the package's own data files, content hashes and atomic writes, so a failed run never leaves a
partial artifact."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path


def package_data(*parts: str) -> Path:
    """A file or folder the package ships (target specs, the bundled samples, app templates), wherever it is
    installed: a checkout, an editable install or a wheel."""
    return Path(str(resources.files("shrink_edge").joinpath(*parts)))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(path: Path) -> str:
    """A file's hash, or a folder's: over its files' relative paths and contents."""
    if path.is_file():
        return sha256_file(path)
    return sha256_json({str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*")) if p.is_file()})


def size_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sha256_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _user_modes(path: Path) -> None:
    """Give a new file or folder tree the modes the user's umask asks for (mkstemp and mkdtemp make them 0600 and
    0700, which an app build run as another user cannot read)."""
    mask = _umask()
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for p in paths:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~mask)


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _user_modes(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy a file or a folder to dst so that dst is either the old one or the whole new one."""
    atomic_copies([(src, dst)])


def atomic_copies(pairs: list[tuple[Path, Path]]) -> None:
    """Copy several files or folders, each to its destination: all the copying first, beside each destination,
    then the renames one after another, so an interrupted run leaves the old files (nothing partial)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for src, dst in pairs:
            staged.append((_stage(src, dst), dst))
        for tmp, dst in staged:
            _replace(tmp, dst)
    finally:
        for tmp, _ in staged:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def _stage(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        tmp = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}."))
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    else:
        fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        shutil.copyfile(src, tmp)
    _user_modes(tmp)
    return tmp


def _replace(tmp: Path, dst: Path) -> None:
    if tmp.is_dir() and dst.is_dir():
        old = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.old."))
        os.replace(dst, old / dst.name)
        os.replace(tmp, dst)
        shutil.rmtree(old)
    else:
        os.replace(tmp, dst)
