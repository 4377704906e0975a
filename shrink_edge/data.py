"""Evaluation and calibration data: IDX files (as Fashion-MNIST ships) or an .npz with arrays x and y.

Images are returned as float32 in NCHW. IDX images (uint8) are scaled to [0, 1] and given a channel axis;
.npz arrays are taken as they are (uint8 is scaled to [0, 1] too), so an .npz can hold any preprocessed
input the model expects.
"""
from __future__ import annotations

import gzip
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray  # float32, (N, ...) model input
    y: np.ndarray  # int64, (N,) class labels

    def __len__(self) -> int:
        return len(self.y)

    def digest(self) -> str:
        h = hashlib.sha256(self.x.tobytes())
        h.update(self.y.tobytes())
        return h.hexdigest()

    def take(self, start: int, stop: int | None = None) -> "Dataset":
        return Dataset(self.x[start:stop], self.y[start:stop])


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read IDX file {path}: {e}; check the file is a complete (gzipped) IDX file")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number); give IDX files as Fashion-MNIST ships them")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder(">"), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise UserError(f"{path} is truncated or corrupt: header says shape {shape}, "
                        f"but it holds {len(raw) - header} bytes of data instead of {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx_pair(directory: Path, split: str) -> tuple[Path, Path] | None:
    prefix = "t10k" if split == "test" else "train"
    images = sorted(directory.glob(f"{prefix}-images-idx3-ubyte*"))
    labels = sorted(directory.glob(f"{prefix}-labels-idx1-ubyte*"))
    if images and labels:
        return images[0], labels[0]
    images = sorted(directory.glob("*images*idx*"))
    labels = sorted(directory.glob("*labels*idx*"))
    if len(images) == 1 and len(labels) == 1:
        return images[0], labels[0]
    return None


def _as_input(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


def load_idx_dir(directory: Path, split: str = "test") -> Dataset:
    pair = _find_idx_pair(directory, split)
    if pair is None:
        raise UserError(f"no IDX image/label pair in {directory}; expected files like "
                        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    images, labels = (read_idx(p) for p in pair)
    if images.ndim == 3:
        images = images[:, None]
    return _checked(_as_input(images), labels, directory)


def load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f or "y" not in f:
                raise UserError(f"{path} must hold arrays named 'x' (inputs) and 'y' (labels); "
                                f"it holds {sorted(f.files)}")
            x, y = f["x"], f["y"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"cannot read {path} as .npz: {e}; save it with numpy.savez(path, x=..., y=...)")
    return _checked(_as_input(x), y, path)


def _checked(x: np.ndarray, y: np.ndarray, where: Path) -> Dataset:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise UserError(f"labels in {where} must be a 1-D integer array, got shape {y.shape} of {y.dtype}")
    if len(x) != len(y):
        raise UserError(f"{where} has {len(x)} inputs but {len(y)} labels; they must match one to one")
    if len(y) == 0:
        raise UserError(f"{where} holds no samples")
    return Dataset(np.ascontiguousarray(x), y.astype(np.int64))


def load(path: Path, split: str = "test") -> Dataset:
    """Load evaluation data from an IDX directory or an .npz file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data not found: {path}; give a directory of IDX files or an .npz with x and y")
    if path.is_dir():
        return load_idx_dir(path, split)
    if path.suffix == ".npz":
        return load_npz(path)
    raise UserError(f"unsupported data {path}: give a directory of IDX files or an .npz with arrays x and y")
