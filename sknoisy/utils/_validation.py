"""Validation helpers shared by every layer (the lowest layer of sknoisy).

Every public function that takes a transition matrix or a trusted mask goes
through these, so the error messages are the same everywhere.
"""

import numbers

import numpy as np

__all__ = ["check_transition_matrix", "check_trusted_mask", "check_rate", "is_lazy_dataset"]


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
    try:
        T = np.asarray(T, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array, got {type(T).__name__}.") from exc
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise ValueError(f"{name} must be a square 2-D array, got shape {T.shape}.")
    if T.shape[0] < 1:
        raise ValueError(f"{name} must have at least one class, got shape {T.shape}.")
    if n_classes is not None and T.shape[0] != n_classes:
        raise ValueError(
            f"{name} has shape {T.shape} but there are {n_classes} classes; "
            f"expected shape ({n_classes}, {n_classes})."
        )
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} contains NaN or infinity.")
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
