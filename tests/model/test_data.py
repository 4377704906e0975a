"""Reading evaluation data from IDX files and .npz archives."""
import gzip

import numpy as np
import pytest

from shrink_edge.model.data import load, read_idx
from shrink_edge.errors import UserError


def write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + body)


def test_idx_directory_gives_scaled_nchw_images(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([2, 0, 1], np.uint8))
    data = load(tmp_path)
    x = data.inputs["x"]
    assert x.shape == (3, 1, 4, 5) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0] * 255, images)
    assert data.labels.tolist() == [2, 0, 1]


def test_idx_keeps_wider_types(tmp_path):
    write_idx(tmp_path / "v.idx", np.array([70000, -3], np.int32))
    assert read_idx(tmp_path / "v.idx").tolist() == [70000, -3]


def test_idx_with_bad_magic_is_refused(tmp_path):
    (tmp_path / "x.idx").write_bytes(b"\x89PNG....")
    with pytest.raises(UserError, match="not an IDX file"):
        read_idx(tmp_path / "x.idx")


def test_npz_uint8_is_scaled_and_float_kept(tmp_path):
    np.savez(tmp_path / "u.npz", x=np.full((2, 1, 2, 2), 255, np.uint8), y=np.array([1, 0]))
    np.savez(tmp_path / "f.npz", x=np.full((2, 3), -2.5, np.float64), y=np.array([1, 0]))
    assert load(tmp_path / "u.npz").inputs["x"].max() == 1.0
    assert load(tmp_path / "f.npz").inputs["x"].min() == -2.5


def test_npz_arrays_by_name_integers_kept_labels_optional(tmp_path):
    np.savez(tmp_path / "d.npz", ids=np.arange(6, dtype=np.int64).reshape(2, 3), mask=np.ones((2, 3), bool),
             pixels=np.full((2, 4), 255, np.uint8))
    data = load(tmp_path / "d.npz")
    assert list(data.inputs) == ["ids", "mask", "pixels"] and data.labels is None
    assert data.inputs["ids"].dtype == np.int64 and data.inputs["mask"].dtype == np.bool_
    assert data.inputs["pixels"].dtype == np.float32 and data.inputs["pixels"].max() == 1.0


def test_arrays_of_different_lengths_are_refused(tmp_path):
    np.savez(tmp_path / "d.npz", ids=np.zeros((3, 4), np.int64), mask=np.zeros((2, 4), bool))
    with pytest.raises(UserError, match="different numbers of samples"):
        load(tmp_path / "d.npz")


def test_arrays_in_memory_and_batches(tmp_path):
    one = load({"x": np.zeros((2, 3), np.float32), "y": np.array([0, 1])})
    batches = load([({"ids": np.zeros((2, 4), np.int64)}, np.array([1, 0])),
                    ({"ids": np.ones((3, 4), np.int64)}, np.array([0, 0, 1]))])
    assert one.labels.tolist() == [0, 1] and len(one) == 2
    assert len(batches) == 5 and batches.labels.tolist() == [1, 0, 0, 0, 1]


def test_labels_that_are_not_class_ids_are_kept_for_the_metric(tmp_path):
    masks = np.arange(2 * 4 * 4).reshape(2, 4, 4) % 3
    for y in (np.array([0.5, 1.0]), masks):
        np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), y=y)
        data = load(tmp_path / "d.npz")
        assert data.class_labels is None and np.array_equal(data.labels, y)
    assert load({"x": np.zeros((2, 2)), "y": np.array([1, 0], np.int32)}).class_labels.dtype == np.int64


def test_labels_must_have_one_row_per_sample(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 2)), y=np.zeros((3, 4)))
    with pytest.raises(UserError, match="2 inputs but 3 labels"):
        load(tmp_path / "d.npz")


def test_other_files_are_refused(tmp_path):
    (tmp_path / "d.csv").write_text("1,2\n")
    with pytest.raises(UserError, match="unsupported data"):
        load(tmp_path / "d.csv")
