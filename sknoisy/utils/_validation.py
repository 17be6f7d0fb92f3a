"""Validation helpers shared by every layer (the lowest layer of sknoisy).

Every public function that takes a transition matrix or a trusted mask goes
through these, so the error messages are the same everywhere.
"""

import numbers

import numpy as np

__all__ = [
    "check_device",
    "check_label_values",
    "check_rate",
    "check_sample_weight",
    "check_square_matrix",
    "check_transition_matrix",
    "check_trusted_mask",
    "is_lazy_dataset",
]


def is_lazy_dataset(X):
    """Whether X is read item by item (a torch Dataset or skorch SliceDataset), never materialised."""
    from skorch.helper import SliceDataset
    from torch.utils.data import Dataset

    return isinstance(X, (Dataset, SliceDataset))


def check_rate(rate, name="rate"):
    """Return ``rate`` as a float, raising a clear error outside [0, 1]."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1], got {rate!r}.")
    rate = float(rate)
    if not np.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {rate!r}.")
    return rate


def check_square_matrix(A, *, name="matrix"):
    """Return ``A`` as a finite, square float64 array, raising a clear error otherwise.

    Examples
    --------
    >>> from sknoisy.utils._validation import check_square_matrix
    >>> check_square_matrix([[1, 2], [3, 4]])
    array([[1., 2.],
           [3., 4.]])
    >>> check_square_matrix([[1, 2, 3]], name="confusion")
    Traceback (most recent call last):
    ...
    ValueError: confusion must be a square 2-D array, got shape (1, 3).
    """
    try:
        A = np.asarray(A, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(A).__name__}.") from exc
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array, got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return A


def check_transition_matrix(T, n_classes=None, *, atol=1e-6, name="transition_matrix"):
    """Validate a noise transition matrix and return it as a float64 array.

    ``T[i, j] = p(noisy = j | clean = i)``: a square, finite, non-negative
    matrix whose rows sum to one.

    Parameters
    ----------
    T : array-like of shape (n_classes, n_classes)
        The matrix to check.
    n_classes : int, default=None
        The expected number of classes; ``None`` accepts any size.
    atol : float, default=1e-6
        Tolerance on the row sums.
    name : str, default="transition_matrix"
        The name used in error messages.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes), dtype float64
        The validated matrix, rows renormalised to sum exactly to one.

    Raises
    ------
    ValueError
        If ``T`` is not square, has the wrong size, is not finite, has
        negative entries or rows that do not sum to one.

    Examples
    --------
    >>> from sknoisy import check_transition_matrix
    >>> check_transition_matrix([[0.9, 0.1], [0.2, 0.8]])
    array([[0.9, 0.1],
           [0.2, 0.8]])
    """
    T = check_square_matrix(T, name=name)
    if T.shape[0] < 1:
        raise ValueError(f"{name} must have at least one class, got shape {T.shape}.")
    if n_classes is not None and T.shape[0] != n_classes:
        raise ValueError(
            f"{name} has shape {T.shape} but there are {n_classes} classes; "
            f"expected shape ({n_classes}, {n_classes})."
        )
    if np.any(T < -atol):
        raise ValueError(f"{name} has negative entries (min {T.min():.3g}); it must be non-negative.")
    sums = T.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        raise ValueError(
            f"{name} is not row-stochastic: row {bad[0]} sums to {sums[bad[0]]:.6g} "
            "(T[i, j] = p(noisy=j | clean=i), so every row must sum to 1)."
        )
    T = np.clip(T, 0.0, None)
    return T / T.sum(axis=1, keepdims=True)


def check_trusted_mask(trusted, n_samples, *, name="trusted"):
    """Validate a boolean mask of trusted (clean) rows.

    Parameters
    ----------
    trusted : array-like of shape (n_samples,) or None
        Boolean mask; ``None`` means no trusted rows.
    n_samples : int
        The number of rows of ``X``.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype bool
        All False when ``trusted`` is None.

    Raises
    ------
    ValueError
        If the mask has the wrong length or shape, or is not boolean (0/1
        integers are accepted; any other value is refused so that an index
        array is never mistaken for a mask).
    """
    if trusted is None:
        return np.zeros(n_samples, dtype=bool)
    masked = _masked_values(trusted, name, "mark each row True or False.")
    if masked is not None:
        trusted = masked
    if hasattr(trusted, "to_numpy"):
        trusted = trusted.to_numpy()
    mask = np.asarray(trusted)
    if mask.ndim != 1:
        raise ValueError(f"{name} must be a 1-D boolean mask, got an array of shape {mask.shape}.")
    if mask.shape[0] != n_samples:
        raise ValueError(
            f"{name} has length {mask.shape[0]} but X has {n_samples} samples; "
            f"{name} must be a boolean mask with one entry per sample."
        )
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all():
        return mask.astype(bool)
    raise ValueError(
        f"{name} must be a boolean mask (dtype bool), got dtype {mask.dtype}; "
        "to mark rows by index use `mask = np.zeros(n, bool); mask[idx] = True`."
    )


def _masked_values(values, name, advice):
    """The numpy values of a pandas nullable column (Int64, Float64, boolean), or None for anything else.

    Their missing entries (``pd.NA``) are refused by position: converted
    as is they become NaN floats or an object array, which the later checks
    would report without saying where or why.
    """
    dtype = getattr(values, "dtype", None)
    if not (hasattr(values, "isna") and hasattr(dtype, "numpy_dtype") and getattr(values, "ndim", None) == 1):
        return None
    missing = np.asarray(values.isna(), dtype=bool)
    if missing.any():
        raise ValueError(f"{name} contains <NA> at position {int(np.argmax(missing))}; {advice}")
    return values.to_numpy(dtype=dtype.numpy_dtype)


def check_column_names(X, name="X"):
    """Refuse a DataFrame with two columns of one name, which pandas and scikit-learn report obscurely."""
    columns = getattr(X, "columns", None)
    if columns is None or getattr(columns, "is_unique", True):
        return
    duplicates = list(dict.fromkeys(c for c in columns if list(columns).count(c) > 1))
    raise ValueError(
        f"{name} has duplicate column names: {', '.join(map(repr, duplicates[:10]))}; give every column its own name."
    )


def check_label_values(y, *, name="y"):
    """Refuse labels that are missing (None, NaN) or of mixed types, naming the problem.

    scikit-learn reports such labels as "Unknown label type: unknown" or with
    a numpy ``TypeError`` about ``'<'``; this says what is wrong. Only lists,
    tuples and object arrays (or Series) are scanned, with one C-speed pass
    over the types; numeric and string arrays cannot mix types, and a NaN in
    a float array is reported by scikit-learn's own validation.

    Parameters
    ----------
    y : array-like
        The labels, as given by the user.
    name : str, default="y"
        The name used in error messages.

    Returns
    -------
    y : array-like
        ``y`` itself, except that an object array holding numbers only
        (e.g. a pandas column of dtype object) becomes a numeric array,
        which scikit-learn would otherwise call "unknown".

    Raises
    ------
    ValueError
        If a label is None or NaN, or strings are mixed with numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.utils._validation import check_label_values
    >>> check_label_values(["cat", "dog", 3])
    Traceback (most recent call last):
    ...
    ValueError: y mixes label types: 'cat' (str) and 3 (int); every label must be of one type...
    >>> check_label_values(["cat", None])
    Traceback (most recent call last):
    ...
    ValueError: y contains None at position 1; every sample needs a label ...
    >>> check_label_values(np.array([0, 1, 1], dtype=object))
    array([0, 1, 1])
    """
    masked = _masked_values(y, name, "every sample needs a label (drop the unlabelled rows, or give them a label "
                            "of their own).")
    if masked is not None:
        return masked  # pandas' Int64/boolean: their own integers, not the floats scikit-learn would make of them
    values = y.to_numpy() if hasattr(y, "to_numpy") and getattr(y, "ndim", None) == 1 else y
    if isinstance(values, np.ndarray):
        if values.dtype != object:
            return y
        items = values.ravel().tolist()
    elif isinstance(values, (list, tuple)):
        items = list(values)
    else:
        return y
    types = list(dict.fromkeys(map(type, items)))  # in order of first appearance
    missing = [t for t in types if t is type(None) or t.__name__ in ("NAType", "NaTType")]
    if float in types or any(issubclass(t, np.floating) for t in types):
        nan_at = next((i for i, v in enumerate(items) if isinstance(v, (float, np.floating)) and v != v), None)
    else:
        nan_at = None
    if missing or nan_at is not None:
        at = next((i for i, v in enumerate(items) if type(v) in missing), None) if missing else nan_at
        what = "NaN" if at == nan_at else repr(items[at])
        raise ValueError(
            f"{name} contains {what} at position {at}; every sample needs a label (drop the unlabelled rows, "
            "or give them a label of their own)."
        )
    kinds = {}
    for t in types:
        if issubclass(t, (str, bytes)):
            kinds.setdefault("string", t)
        elif issubclass(t, (numbers.Number, np.bool_)):
            kinds.setdefault("number", t)
        elif t in (list, tuple, np.ndarray):
            return y  # nested sequences: a 2-D target, which scikit-learn's validation reports
        else:
            kinds.setdefault(t.__name__, t)
    if len(kinds) > 1:
        first, second = list(kinds.values())[:2]
        a = next(v for v in items if type(v) is first)
        b = next(v for v in items if type(v) is second)
        raise ValueError(
            f"{name} mixes label types: {a!r} ({first.__name__}) and {b!r} ({second.__name__}); every label must "
            "be of one type, e.g. all strings or all integers (convert them, e.g. y.astype(str))."
        )
    if isinstance(values, np.ndarray) and list(kinds) == ["number"]:
        return np.array(items).reshape(values.shape)
    return y


def check_sample_weight(sample_weight, n_samples):
    """Validated per-row weights, rescaled to mean 1, or None when they are uniform.

    scikit-learn's rules (``_check_sample_weight``): a scalar or a 1-D array
    of length ``n_samples``, finite, non-negative, not all zero. Only the
    weights' ratios matter (the loss is a weighted mean), so uniform weights,
    which change nothing, give None and the unweighted code path.

    Parameters
    ----------
    sample_weight : float, array-like of shape (n_samples,) or None
    n_samples : int

    Returns
    -------
    weight : ndarray of shape (n_samples,), float64, with mean 1, or None

    Examples
    --------
    >>> from sknoisy.utils._validation import check_sample_weight
    >>> check_sample_weight([1, 3], 2)
    array([0.5, 1.5])
    >>> check_sample_weight([2, 2, 2], 3) is None
    True
    >>> check_sample_weight([1, -1], 2)
    Traceback (most recent call last):
    ...
    ValueError: Negative values in data passed to `sample_weight`.
    """
    if sample_weight is None:
        return None
    from sklearn.utils.validation import _check_sample_weight

    weight = _check_sample_weight(
        sample_weight, np.empty((n_samples, 0)), dtype=np.float64, ensure_non_negative=True, copy=True
    )
    if np.ptp(weight) == 0:
        return None
    return weight / weight.mean()


def check_device(device, *, label=None, cpu_hint="device='cpu'"):
    """Return ``device`` if PyTorch can use it on this machine; a clear ValueError otherwise.

    torch itself answers ``device='cuda'`` without a GPU with an
    ``AssertionError`` deep in the first ``.to()``, and ``device='bogus'``
    with a RuntimeError listing device types.

    Parameters
    ----------
    device : str, torch.device or None
        None is accepted (skorch then leaves the module where it is).
    label : str, default=None
        How the messages name the setting; ``"device='cuda'"`` by default (a
        command line passes ``"--device cuda"``).
    cpu_hint : str, default="device='cpu'"
        The fallback the messages suggest.

    Raises
    ------
    ValueError
        If ``device`` is not a PyTorch device, or its backend or index is
        not available here.

    Examples
    --------
    >>> from sknoisy.utils._validation import check_device
    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device='gpu' is not a PyTorch device; use 'cpu', 'cuda' or 'cuda:N' ...
    """
    if device is None:
        return None
    import torch

    label = label or f"device={device!r}"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(
            f"{label} is not a PyTorch device; use 'cpu', 'cuda' or 'cuda:N' (a GPU), or 'mps' (Apple silicon)."
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{label}: PyTorch sees no CUDA GPU on this machine (torch {torch.__version__}, "
                f"torch.cuda.is_available() is False); use {cpu_hint}."
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"{label}: there are only {torch.cuda.device_count()} CUDA device(s) here.")
    elif parsed.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{label}: PyTorch's MPS backend is not available on this machine; use {cpu_hint}.")
    elif parsed.type != "cpu":
        # Other accelerators (xpu, ...) that torch knows: refuse one it says is absent.
        available = getattr(getattr(torch, parsed.type, None), "is_available", None)
        if callable(available) and not available():
            raise ValueError(
                f"{label}: PyTorch's {parsed.type} backend is not available on this machine; use {cpu_hint}."
            )
    return device
