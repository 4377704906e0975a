"""Evaluation, calibration and training data: IDX files (as Fashion-MNIST ships) or an .npz with one array per
model input, by name (`x` for a single input), and optional labels: `y`, or `y_<output>` to name the output they
describe.

IDX images (uint8) are scaled to [0, 1] and given a channel axis (NCHW). .npz arrays are taken as they are
(uint8 is scaled to [0, 1] too), so an .npz can hold any preprocessed input the model expects; integer and bool
arrays (token ids, masks) stay integers.
"""
from __future__ import annotations

import gzip
import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


@dataclass(frozen=True)
class Dataset:
    inputs: dict[str, np.ndarray]    # one (N, ...) array per model input, by name
    labels: np.ndarray | None = None  # one row per sample: class ids, or what a task metric reads (masks, boxes)
    labels_output: str | None = None  # the output the labels describe, where the data names it (y_<output>)

    def __len__(self) -> int:
        return len(next(iter(self.inputs.values())))

    def arrays(self) -> list[np.ndarray]:
        return list(self.inputs.values())

    @property
    def class_labels(self) -> np.ndarray | None:
        """The labels when they are class ids (1-D integers), which top-1 accuracy and cross-entropy read; other
        labels (masks, boxes, pitches) reach only the user's --metric."""
        if self.labels is not None and self.labels.ndim == 1 and np.issubdtype(self.labels.dtype, np.integer):
            return self.labels
        return None

    def digest(self) -> str:
        h = hashlib.sha256()
        for name, x in self.inputs.items():
            h.update(f"{name}:{x.dtype}:{x.shape}".encode())
            h.update(x.tobytes())
        if self.labels is not None:
            h.update(self.labels.tobytes())
        return h.hexdigest()

    def take(self, start: int, stop: int | None = None) -> "Dataset":
        return self.select(slice(start, stop))

    def select(self, index) -> "Dataset":
        """The samples at `index` (a slice or an index array)."""
        return Dataset({k: v[index] for k, v in self.inputs.items()},
                       self.labels[index] if self.labels is not None else None, self.labels_output)


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
    """uint8 images are scaled to [0, 1], other floats become float32; integer and bool arrays (token ids, masks,
    lengths) are passed as they are."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32)
    if x.dtype in (np.int64, np.int32, np.bool_):
        return x
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.int64)
    raise UserError(f"array of dtype {x.dtype} cannot be a model input; give float32, int64, int32, bool or uint8 "
                    "(images, scaled to [0, 1])")


def load_idx_dir(directory: Path, split: str = "test") -> Dataset:
    pair = _find_idx_pair(directory, split)
    if pair is None:
        raise UserError(f"no IDX image/label pair in {directory}; expected files like "
                        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    images, labels = (read_idx(p) for p in pair)
    if images.ndim == 3:
        images = images[:, None]
    return _checked({"x": _as_input(images)}, labels, directory)


def load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"cannot read {path} as .npz: {e}; save it with numpy.savez(path, x=..., y=...) "
                        "(one array per model input, by name, and optional labels y)")
    labels, output = _labels(arrays, path)
    if not arrays:
        raise UserError(f"{path} holds no input arrays (only {sorted(f.files) or 'nothing'}); save one array per "
                        "model input, named after forward()'s parameters (x for a single input), and optional "
                        "labels y")
    return _checked({name: _as_input(x) for name, x in arrays.items()}, labels, path, output)


def _labels(arrays: dict, where) -> tuple[np.ndarray | None, str | None]:
    """Take the labels out of the arrays: `y`, or `y_<output>` for the output they describe (one of them)."""
    keys = [k for k in arrays if k == "y" or k.startswith("y_")]
    if len(keys) > 1:
        raise UserError(f"{where} holds labels {', '.join(keys)}: give one, y or y_<output name>")
    if not keys:
        return None, None
    return arrays.pop(keys[0]), keys[0][2:] or None


def _checked(inputs: dict[str, np.ndarray], y: np.ndarray | None, where: Path, output: str | None = None) -> Dataset:
    counts = {name: len(x) if x.ndim else 0 for name, x in inputs.items()}
    if len(set(counts.values())) > 1:
        raise UserError(f"arrays in {where} hold different numbers of samples ({', '.join(f'{k}: {n}' for k, n in counts.items())}); "
                        "every input array needs one row per sample")
    n = next(iter(counts.values()))
    if n == 0:
        raise UserError(f"{where} holds no samples")
    if y is not None:
        if y.ndim == 0 or y.dtype == object:
            raise UserError(f"labels in {where} must be an array with one row per sample (class ids, or masks, "
                            f"boxes ... for --metric), got shape {y.shape} of {y.dtype}")
        if len(y) != n:
            raise UserError(f"{where} has {n} inputs but {len(y)} labels; they must match one to one")
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
            y = y.astype(np.int64)
    return Dataset({name: np.ascontiguousarray(x) for name, x in inputs.items()}, y, output)


def mismatch(dataset: Dataset, names: list[str], arrays: dict, where, what: str = "data") -> None:
    """Refuse data whose arrays are not the model's inputs, one for one by name."""
    missing, extra = [n for n in names if n not in arrays], [n for n in arrays if n not in names]
    if missing or extra:
        holds = ", ".join(f"{k} {tuple(v.shape[1:])}" for k, v in dataset.inputs.items())
        raise UserError(f"{what} {where} holds arrays {holds} but the model's forward() takes "
                        f"{', '.join(names)}" + (f": missing {', '.join(missing)}" if missing else "") +
                        (f"; no input named {', '.join(extra)}" if extra else "") +
                        "; name one array per input after forward()'s parameters")


def bind(dataset: Dataset, inputs, where: Path | str, what: str = "data") -> Dataset:
    """The dataset's arrays matched to the model's inputs (TensorSpecs) by name, in forward()'s order; a single
    array feeds a single input whatever its name. Each must have the input's per-sample shape and dtype."""
    names = [spec.name for spec in inputs]
    arrays = dataset.inputs
    if len(inputs) == 1 and len(arrays) == 1:
        arrays = {names[0]: next(iter(arrays.values()))}
    mismatch(dataset, names, arrays, where, what)
    for spec in inputs:
        x = arrays[spec.name]
        if tuple(x.shape[1:]) != tuple(spec.shape[1:]):
            raise UserError(f"{what} {where} has {spec.name} of shape {tuple(x.shape[1:])} per sample but the model "
                            f"takes {tuple(spec.shape[1:])}; give data matching --input-shape (batch first)")
        if str(x.dtype) != spec.dtype and not (spec.dtype.startswith("int") and str(x.dtype).startswith("int")):
            raise UserError(f"{what} {where} has {spec.name} of dtype {x.dtype} but the model takes {spec.dtype}; "
                            f"save it as {spec.dtype}")
    return Dataset({spec.name: arrays[spec.name].astype(spec.dtype, copy=False) for spec in inputs}, dataset.labels,
                   dataset.labels_output)


def load(source, split: str = "test") -> Dataset:
    """Data from an IDX directory or an .npz file, or, from the Python API, arrays in memory: a Dataset, an array
    (one input), a dict of arrays by input name (labels under "y"), an (inputs, labels) pair, or an iterable of
    such batches."""
    if isinstance(source, Dataset):
        return source
    if not isinstance(source, (str, Path)):
        return from_arrays(source)
    path = Path(source)
    if not path.exists():
        raise UserError(f"data not found: {path}; give a directory of IDX files or an .npz with one array per "
                        "input (x for a single input) and optional labels y")
    if path.is_dir():
        return load_idx_dir(path, split)
    if path.suffix == ".npz":
        return load_npz(path)
    raise UserError(f"unsupported data {path}: give a directory of IDX files or an .npz with one array per input "
                    "and optional labels y")


def from_arrays(value, where: str = "the data passed in") -> Dataset:
    def numpy(v):
        return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    def parts(item) -> tuple[dict, np.ndarray | None, str | None]:
        if isinstance(item, dict):
            arrays = {k: numpy(v) for k, v in item.items()}
            return arrays, *_labels(arrays, where)
        if isinstance(item, (tuple, list)) and len(item) == 2:
            return parts(item[0])[0], numpy(item[1]), None
        if hasattr(item, "shape"):
            return {"x": numpy(item)}, None, None
        raise UserError(f"{where}: cannot read {type(item).__name__} as data; give arrays, a dict of arrays by input "
                        "name, an (inputs, labels) pair, or an iterable of those")

    if isinstance(value, (dict, tuple)) or hasattr(value, "shape"):
        inputs, labels, output = parts(value)
    else:
        batches = [parts(item) for item in value]
        if not batches:
            raise UserError(f"{where} holds no batches")
        inputs = {k: np.concatenate([b[0][k] for b in batches]) for k in batches[0][0]}
        labels = np.concatenate([b[1] for b in batches]) if batches[0][1] is not None else None
        output = batches[0][2]
    return _checked({k: _as_input(v) for k, v in inputs.items()}, labels, where, output)
