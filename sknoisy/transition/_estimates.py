"""Estimators of ``T`` on arrays of probabilities, and the plug-in inverse.

Plain, vectorised functions: each takes an array ``proba`` of shape
``(n_samples, n_classes)`` (for example out-of-fold ``predict_proba`` of a
classifier trained on the noisy labels) and returns an estimate ``T_hat`` of
shape ``(n_classes, n_classes)``, ``T[i, j] = p(noisy = j | clean = i)``.

They never copy the ``(n_samples, n_classes)`` input except where their
docstring says so (rows that do not sum to one are renormalised into a copy),
so ``n_samples = 10**6`` and ``n_classes = 1000`` stay feasible: the extra
memory is ``O(n_samples + n_classes**2)`` plus bounded work buffers.
"""

import numbers
import warnings

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from ..utils._validation import check_rate, check_transition_matrix

__all__ = [
    "estimate_anchor",
    "estimate_gold",
    "estimate_confusion",
    "estimate_dual_t",
    "estimate_confident_joint",
    "denoise_proba",
]

# Entries below this are treated as estimation noise and set to zero (as in
# Patrini et al.'s code) before the rows are renormalised.
_CLIP = 1e-6
# Rows of ``proba`` whose sum is further than this from one are renormalised.
_SUM_TOL = 1e-4
# Tolerated negative round-off in probabilities (e.g. from ``p @ T``).
_NEG_TOL = 1e-8
# Work buffers hold at most this many elements (about 64 MB in float64).
_BLOCK_ELEMENTS = 1 << 23


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _check_proba(proba, name="proba"):
    """Return ``proba`` as a 2-D float array whose rows sum to one.

    float32 and float64 inputs are used without a copy when their rows
    already sum to one; other inputs are converted, and rows that do not sum
    to one are renormalised into a copy.
    """
    if hasattr(proba, "to_numpy"):
        proba = proba.to_numpy()
    if sparse.issparse(proba):
        raise TypeError(f"{name} must be a dense array of probabilities, got a sparse matrix.")
    try:
        proba = np.asarray(proba)
        if proba.dtype not in (np.float32, np.float64):
            proba = proba.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of probabilities.") from exc
    if proba.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_classes), got an array of shape {proba.shape}."
        )
    n_samples, n_classes = proba.shape
    if n_samples < 1:
        raise ValueError(f"{name} must have at least one sample, got shape {proba.shape}.")
    if n_classes < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got shape {proba.shape}.")
    # The float64 row sums flag NaN/inf (they propagate) without an
    # (n_samples, n_classes) temporary.
    sums = proba.sum(axis=1, dtype=np.float64)
    if not np.all(np.isfinite(sums)):
        raise ValueError(f"{name} contains NaN or infinity.")
    lowest = proba.min()
    if lowest < -_NEG_TOL:
        raise ValueError(
            f"{name} has negative entries (min {lowest:.3g}); pass probabilities such as "
            "predict_proba output, not logits or decision_function scores."
        )
    if np.any(sums <= 0):
        raise ValueError(f"{name} has a row that sums to zero; every row must be a probability vector.")
    if np.max(np.abs(sums - 1.0)) > _SUM_TOL:
        proba = np.clip(proba, 0.0, None) / sums[:, None]
    return proba


def _check_labels(y, n_samples, n_classes, name):
    """Return ``y`` as an int64 array of length ``n_samples`` in ``[0, n_classes)``."""
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(
            f"{name} must be a 1-D array of {n_samples} class indices, one per row of the probabilities; "
            f"got an array of shape {y.shape}."
        )
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class indices in [0, {n_classes}), got dtype {y.dtype}; "
            "encode labels first (e.g. with sklearn.preprocessing.LabelEncoder)."
        )
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} must hold class indices in [0, {n_classes}), got values in [{y.min()}, {y.max()}].")
    return y


def _check_quantile(quantile):
    """Return ``quantile`` as None or a float in (0, 1]."""
    if quantile is None:
        return None
    if isinstance(quantile, bool) or not isinstance(quantile, numbers.Real):
        raise TypeError(f"quantile must be None or a real number in (0, 1], got {quantile!r}.")
    quantile = float(quantile)
    if not np.isfinite(quantile) or not 0.0 < quantile <= 1.0:
        raise ValueError(
            f"quantile must be None or a fraction in (0, 1] (0.97 for the 97th percentile), got {quantile!r}."
        )
    return quantile


def _clip_normalise(T):
    """Zero the entries below ``_CLIP`` and renormalise the rows."""
    T = np.where(T < _CLIP, 0.0, T)
    return T / T.sum(axis=1, keepdims=True)


def _counts(rows, cols, n_classes):
    """Contingency table ``M[i, j] = #{k : rows[k] == i and cols[k] == j}``."""
    return np.bincount(rows * n_classes + cols, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _fill_empty_rows(T, empty, what):
    """Identity row for every class in ``empty``, with one warning naming them."""
    empty = np.flatnonzero(empty)
    if empty.size:
        warnings.warn(
            f"{what} for class(es) {empty.tolist()}; their rows of the transition matrix are set to "
            "the identity row (no noise assumed for those classes).",
            UserWarning,
            stacklevel=3,
        )
        T[empty] = 0.0
        T[empty, empty] = 1.0
    return T


# ---------------------------------------------------------------------------
# estimators of T on probability arrays
# ---------------------------------------------------------------------------


def _anchor_indices(proba, quantile):
    """Row index of the anchor sample of every column of ``proba``."""
    n_samples, n_classes = proba.shape
    if quantile is None or quantile == 1.0:
        # np.argmax(axis=0) makes a transposed copy of the whole input; row
        # blocks bound that copy. Strict ">" keeps the first maximum, as argmax.
        height = max(1, _BLOCK_ELEMENTS // n_classes)
        best = np.full(n_classes, -np.inf)
        idx = np.zeros(n_classes, dtype=np.intp)
        for start in range(0, n_samples, height):
            block = proba[start : start + height]
            arg = np.argmax(block, axis=0)
            val = block[arg, np.arange(n_classes)]
            better = val > best
            best[better] = val[better]
            idx[better] = arg[better] + start
        return idx
    # Rank (ascending) of the largest value at or below the ``quantile``
    # percentile (numpy's default linear interpolation); the epsilon guards
    # against 0.97 * 100 landing at 96.999...
    kth = int(np.floor(quantile * (n_samples - 1) + 1e-9))
    idx = np.empty(n_classes, dtype=np.intp)
    # argpartition needs a private copy of the columns; blocks keep that copy
    # bounded instead of duplicating the whole (n_samples, n_classes) input.
    width = max(1, _BLOCK_ELEMENTS // n_samples)
    for start in range(0, n_classes, width):
        block = proba[:, start : start + width]
        idx[start : start + width] = np.argpartition(block, kth, axis=0)[kth]
    return idx


def estimate_anchor(proba_noisy, *, quantile=None):
    """Anchor-point ("perfect example") estimate of the transition matrix.

    For each class ``i`` the sample with the highest ``p(noisy = i | x)`` is
    taken as an anchor of clean class ``i`` and row ``i`` of ``T`` is its
    vector of noisy-class probabilities (Patrini et al., CVPR 2017).

    Parameters
    ----------
    proba_noisy : array-like of shape (n_samples, n_classes)
        Estimated ``p(noisy | x)``, ideally out-of-fold or from a held-out
        set: a net trained to zero loss gives near one-hot probabilities and
        the estimate collapses towards the identity. Rows that do not sum to
        one are renormalised (into a copy); the input is never modified.
    quantile : float in (0, 1] or None, default=None
        ``None``: take the sample with the largest ``p(noisy = i | x)``.
        A fraction such as ``0.97``: take the largest value at or below the
        ``quantile`` percentile of column ``i`` (Patrini's ``filter_outlier``,
        which ignores over-confident outliers). ``1.0`` is the same as
        ``None``. Patrini's code drops values equal to its threshold and,
        through a NumPy view, zeroes them in the input so that later rows are
        read from corrupted columns; this function does neither.

    Returns
    -------
    T_hat : ndarray of shape (n_classes, n_classes)
        Row-stochastic estimate, ``T_hat[i, j] ~ p(noisy = j | clean = i)``;
        entries below ``1e-6`` are set to zero before the rows are
        renormalised.

    Raises
    ------
    ValueError
        If ``proba_noisy`` is not a 2-D finite non-negative array with at
        least two columns, or ``quantile`` is outside (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import estimate_anchor
    >>> T = np.array([[0.8, 0.2], [0.3, 0.7]])
    >>> p_clean = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    >>> estimate_anchor(p_clean @ T)
    array([[0.8, 0.2],
           [0.3, 0.7]])
    """
    quantile = _check_quantile(quantile)
    proba_noisy = _check_proba(proba_noisy, "proba_noisy")
    idx = _anchor_indices(proba_noisy, quantile)
    # Fancy indexing copies the C selected rows: the input stays untouched.
    T = np.asarray(proba_noisy[idx], dtype=np.float64)
    T = np.clip(T, 0.0, None)
    diag = T[np.arange(T.shape[0]), np.arange(T.shape[0])]
    T = _fill_empty_rows(T, diag <= 0, "No sample has a positive probability of the noisy class")
    return _clip_normalise(T)


def estimate_gold(proba, y_trusted):
    """Gold Loss Correction estimate of ``T`` from trusted (clean) rows.

    ``T[i] = mean of p(noisy | x)`` over the trusted samples whose clean label
    is ``i`` (Hendrycks et al., NeurIPS 2018).

    Parameters
    ----------
    proba : array-like of shape (n_trusted, n_classes)
        ``p(noisy | x)`` on the trusted rows, from a model trained on the
        *untrusted* (noisy) rows only.
    y_trusted : array-like of shape (n_trusted,)
        Clean labels of those rows, as class indices in ``[0, n_classes)``.

    Returns
    -------
    T_hat : ndarray of shape (n_classes, n_classes)
        Row-stochastic estimate. A class without trusted rows gets the
        identity row and a ``UserWarning`` naming it (the authors' code gives
        a NaN row there); the result never holds NaN.
        :class:`~sknoisy.TransitionMatrixEstimator`, which also has the
        probabilities of the untrusted rows, puts an anchor-point row there
        instead.

    Raises
    ------
    ValueError
        If ``proba`` is not a valid 2-D probability array, or ``y_trusted``
        has the wrong length or values outside ``[0, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import estimate_gold
    >>> proba = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6]])
    >>> estimate_gold(proba, [0, 0, 1])
    array([[0.8, 0.2],
           [0.4, 0.6]])
    """
    proba = _check_proba(proba)
    n_samples, n_classes = proba.shape
    y = _check_labels(y_trusted, n_samples, n_classes, "y_trusted")
    sums = np.zeros((n_classes, n_classes))
    # A sparse class-indicator product per bounded row block: vectorised, and
    # the float64 accumulation never needs a full-size float64 copy.
    height = max(1, _BLOCK_ELEMENTS // n_classes)
    for start in range(0, n_samples, height):
        stop = min(start + height, n_samples)
        rows = y[start:stop]
        indicator = sparse.csr_matrix(
            (np.ones(stop - start), (rows, np.arange(stop - start))), shape=(n_classes, stop - start)
        )
        sums += indicator @ np.asarray(proba[start:stop], dtype=np.float64)
    counts = np.bincount(y, minlength=n_classes)
    T = np.clip(sums, 0.0, None) / np.maximum(counts, 1)[:, None]
    T = _fill_empty_rows(T, counts == 0, "No trusted sample")
    return T / T.sum(axis=1, keepdims=True)


def estimate_confusion(proba_or_pred, y_trusted, *, smoothing=0.01, n_classes=None):
    """Confusion-matrix estimate of ``T`` from trusted rows (GLC's baseline).

    ``T = (1 - smoothing) * C + smoothing / n_classes``, where ``C`` is the
    row-normalised confusion matrix of the model's argmax predictions
    (columns) against the clean labels (rows) on the trusted rows.

    Parameters
    ----------
    proba_or_pred : array-like of shape (n_trusted, n_classes) or (n_trusted,)
        Probabilities ``p(noisy | x)`` on the trusted rows (their argmax is
        used), or the predicted class indices directly.
    y_trusted : array-like of shape (n_trusted,)
        Clean labels of those rows, as class indices.
    smoothing : float in [0, 1], default=0.01
        Weight of the uniform matrix mixed in (GLC uses 0.01).
    n_classes : int, default=None
        Number of classes when predictions (1-D) are given; ``None`` takes
        ``max(prediction, label) + 1``. Ignored for probabilities.

    Returns
    -------
    T_hat : ndarray of shape (n_classes, n_classes)
        Row-stochastic estimate. A class without trusted rows gets the
        identity row (before smoothing) and a ``UserWarning`` naming it.

    Raises
    ------
    ValueError
        On malformed probabilities or labels, or ``smoothing`` outside [0, 1].

    Examples
    --------
    >>> from sknoisy.transition import estimate_confusion
    >>> estimate_confusion([0, 0, 1, 1], [0, 0, 0, 1], smoothing=0.0)
    array([[0.66666667, 0.33333333],
           [0.        , 1.        ]])
    """
    smoothing = check_rate(smoothing, "smoothing")
    if hasattr(proba_or_pred, "to_numpy"):
        proba_or_pred = proba_or_pred.to_numpy()
    arr = np.asarray(proba_or_pred)
    if arr.ndim == 2:
        proba = _check_proba(arr, "proba_or_pred")
        n_classes = proba.shape[1]
        pred = np.argmax(proba, axis=1)
    elif arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("proba_or_pred must have at least one sample.")
        if n_classes is None:
            y_arr = np.asarray(y_trusted)
            if arr.dtype.kind not in "iuf" or y_arr.dtype.kind not in "iuf" or y_arr.size == 0:
                raise ValueError(
                    "proba_or_pred (1-D) and y_trusted must hold integer class indices; "
                    f"got dtypes {arr.dtype} and {y_arr.dtype}."
                )
            n_classes = int(max(np.nanmax(arr), np.nanmax(y_arr))) + 1
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}.")
        pred = _check_labels(arr, arr.shape[0], n_classes, "proba_or_pred")
    else:
        raise ValueError(
            "proba_or_pred must be a 2-D array of probabilities or a 1-D array of predicted classes, "
            f"got an array of shape {arr.shape}."
        )
    y = _check_labels(y_trusted, pred.shape[0], n_classes, "y_trusted")
    counts = _counts(y, pred, n_classes).astype(np.float64)
    totals = counts.sum(axis=1)
    conf = counts / np.maximum(totals, 1)[:, None]
    conf = _fill_empty_rows(conf, totals == 0, "No trusted sample")
    return (1.0 - smoothing) * conf + smoothing / n_classes


def estimate_dual_t(proba_noisy, y_noisy, *, quantile=None):
    """Dual-T estimate of the transition matrix (Yao et al., NeurIPS 2020).

    ``T = T_anchor @ T_count``: the transition from the clean class to the
    model's predicted class is estimated with anchor points
    (:func:`estimate_anchor`), and the transition from the predicted class to
    the noisy label by counting, ``T_count[k, j]`` = fraction of the samples
    predicted ``k`` (argmax) whose noisy label is ``j``. Counting is easier
    than reading probabilities, which lowers the estimation error.

    Parameters
    ----------
    proba_noisy : array-like of shape (n_samples, n_classes)
        Out-of-fold (or held-out) ``p(noisy | x)``.
    y_noisy : array-like of shape (n_samples,)
        The noisy labels of the same rows, as class indices.
    quantile : float in (0, 1] or None, default=None
        Passed to :func:`estimate_anchor`.

    Returns
    -------
    T_hat : ndarray of shape (n_classes, n_classes)
        Row-stochastic estimate. A class that is never predicted gets the
        identity row in ``T_count`` and a ``UserWarning`` naming it.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import estimate_dual_t
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    >>> estimate_dual_t(proba, [0, 1, 1, 1]).round(3)
    array([[0.45, 0.55],
           [0.05, 0.95]])
    """
    quantile = _check_quantile(quantile)
    proba_noisy = _check_proba(proba_noisy, "proba_noisy")
    n_samples, n_classes = proba_noisy.shape
    y = _check_labels(y_noisy, n_samples, n_classes, "y_noisy")
    t_anchor = estimate_anchor(proba_noisy, quantile=quantile)
    pred = np.argmax(proba_noisy, axis=1)
    counts = _counts(pred, y, n_classes).astype(np.float64)
    totals = counts.sum(axis=1)
    t_count = counts / np.maximum(totals, 1)[:, None]
    t_count = _fill_empty_rows(t_count, totals == 0, "No sample is predicted")
    T = t_anchor @ t_count
    return T / T.sum(axis=1, keepdims=True)


def _round_columns(counts):
    """``counts`` rounded to whole rows, each column keeping its (rounded) total.

    Largest-remainder rounding: every entry is floored, then the entries with
    the largest fractional parts get one more until the column adds up. A
    cell worth less than about half a row vanishes instead of leaving a small
    spurious noise rate.
    """
    floor = np.floor(counts)
    missing = np.rint(counts.sum(axis=0) - floor.sum(axis=0)).astype(np.int64)
    order = np.argsort(floor - counts, axis=0, kind="stable")  # largest remainder first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(counts.shape[0])[:, None], axis=0)
    return floor + (rank < missing)


def estimate_confident_joint(proba_noisy, y_noisy, *, calibrate=True):
    """Confident-joint estimate of the transition matrix (Northcutt et al., JAIR 2021).

    Every class ``j`` gets a threshold ``t_j``, the mean of
    ``p(noisy = j | x)`` over the samples whose noisy label is ``j`` (the
    model's average self-confidence on that class). A sample with noisy label
    ``i`` is counted as "clean class ``j``, noisy label ``i``" for the class
    ``j`` with the largest probability among the classes whose probability
    reaches their threshold; samples that reach no threshold are not counted.
    The resulting count matrix (the confident joint) is row-normalised over
    the noisy labels to give ``T``. Counting with per-class thresholds is
    robust to the over- or under-confidence of the model, which makes this
    estimator much less sensitive than anchor points to the few most extreme
    probabilities.

    Parameters
    ----------
    proba_noisy : array-like of shape (n_samples, n_classes)
        Out-of-fold (or held-out) ``p(noisy | x)``. Rows that do not sum to
        one are renormalised (into a copy); the input is never modified.
    y_noisy : array-like of shape (n_samples,)
        The noisy labels of the same rows, as class indices in
        ``[0, n_classes)``.
    calibrate : bool, default=True
        Rescale the counts of every noisy label ``i`` so that they add up to
        the number of samples labelled ``i`` (samples reaching no threshold
        are thus spread over the clean classes in proportion to the counted
        ones), rounded to whole rows (largest remainder, each label keeping
        its count; as cleanlab does), before the rows are normalised. A
        noisy label none of whose samples was counted keeps a zero column.

    Returns
    -------
    T_hat : ndarray of shape (n_classes, n_classes)
        Row-stochastic estimate, ``T_hat[i, j] ~ p(noisy = j | clean = i)``
        (rows are clean classes: the transpose of cleanlab's
        ``noise_matrix``). A clean class without counted samples gets the
        identity row and a ``UserWarning`` naming it.

    Raises
    ------
    ValueError
        If ``proba_noisy`` is not a valid 2-D probability array, or
        ``y_noisy`` has the wrong length or values outside
        ``[0, n_classes)``.
    TypeError
        If ``calibrate`` is not a bool.

    Notes
    -----
    Memory: ``O(n_samples + n_classes**2)`` plus bounded row blocks, so
    ``n_samples = 10**6`` and ``n_classes = 1000`` are fine. It matches cleanlab's
    ``estimate_py_and_noise_matrices_from_probabilities`` (transposed) on
    the same probabilities up to three details: a class without counted
    rows gets the identity row with a warning (cleanlab counts one row on its
    diagonal; a class with counted rows but none on its diagonal gets that
    one row here too, so no diagonal entry is zero); when several classes reach their
    threshold cleanlab takes the overall argmax of the row (which may be a
    class below its own threshold), this function the most probable class
    among those reaching their threshold, as the paper describes; and a row
    whose most probable reached classes tie exactly is shared among them
    (cleanlab gives it to the first), so a model that says nothing (uniform
    rows) gives identical rows, not a made-up identity.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import estimate_confident_joint
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.85, 0.15], [0.2, 0.8], [0.1, 0.9]])
    >>> estimate_confident_joint(proba, [0, 0, 1, 1, 1])
    array([[0.66666667, 0.33333333],
           [0.        , 1.        ]])
    """
    if not isinstance(calibrate, (bool, np.bool_)):
        raise TypeError(f"calibrate must be a bool, got {calibrate!r}.")
    proba_noisy = _check_proba(proba_noisy, "proba_noisy")
    n_samples, n_classes = proba_noisy.shape
    y = _check_labels(y_noisy, n_samples, n_classes, "y_noisy")
    label_counts = np.bincount(y, minlength=n_classes)
    self_conf = np.bincount(
        y, weights=np.asarray(proba_noisy[np.arange(n_samples), y], dtype=np.float64), minlength=n_classes
    )
    # A class nobody is labelled with has no self-confidence to average; an
    # infinite threshold means no sample is ever counted as its clean class.
    thresholds = np.full(n_classes, np.inf)
    present = label_counts > 0
    thresholds[present] = self_conf[present] / label_counts[present]
    # Float32 probabilities averaged in float64 can land a hair above the
    # very value they average (e.g. all rows equal); the slack keeps such
    # rows counted.
    thresholds -= 1e-6

    # joint[j, i]: rows labelled i counted as clean class j
    joint = np.zeros((n_classes, n_classes))
    height = max(1, _BLOCK_ELEMENTS // n_classes)
    for start in range(0, n_samples, height):
        block = proba_noisy[start : start + height]
        # -1 lies below every probability, so only reached classes compete.
        reached = np.where(block >= thresholds, block, -1.0)
        best = reached.max(axis=1, keepdims=True)
        # A row counts for its most probable reached class; exact ties (a model
        # that says nothing, e.g. uniform rows) share the row, rather than the
        # first class taking it and faking a clean diagonal.
        share = (reached == best) & (best >= 0)
        n_best = share.sum(axis=1, keepdims=True)
        share = share / np.maximum(n_best, 1)
        rows = y[start : start + height]
        indicator = sparse.csr_matrix(
            (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(n_classes, rows.size)
        )
        joint += np.asarray(indicator @ share).T

    if calibrate:
        column = joint.sum(axis=0)
        scale = np.divide(label_counts, column, out=np.zeros(n_classes), where=column > 0)
        joint = _round_columns(joint * scale)
    # A class whose rows are counted, none of them on its own label, would get a zero diagonal: forward
    # correction and MLC then cannot predict it at all (an uninformative stage-1 model gives this in about a
    # quarter of draws). Count one row there, as cleanlab does.
    counted = joint.sum(axis=1) > 0
    empty_diagonal = counted & (np.diag(joint) <= 0)
    joint[empty_diagonal, empty_diagonal] = 1.0
    totals = joint.sum(axis=1)
    T = joint / np.where(totals > 0, totals, 1.0)[:, None]
    T = _fill_empty_rows(T, totals <= 0, "No sample is confidently counted")
    return T / T.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------
# temperature scaling of probabilities (calibration of stage-1 models)
# ---------------------------------------------------------------------------

# Searched range of the temperature: far beyond what a trained model needs,
# and it keeps the scaled log-probabilities finite.
_TEMPERATURE_BOUNDS = (0.05, 20.0)
# Probabilities are floored here before their log is taken (a model may
# output exact zeros).
_LOG_FLOOR = 1e-12


def _log_proba(proba):
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), _LOG_FLOOR, None))


def fit_temperature(proba, y):
    """The temperature ``t`` that minimises the log-loss of ``softmax(log(proba) / t)`` on labels ``y``.

    Temperature scaling (Guo et al., ICML 2017) with the log-probabilities
    as logits: ``t > 1`` softens over-confident probabilities, ``t < 1``
    sharpens under-confident ones, and the ranking of the classes in every
    row is kept. The log-loss is convex in ``1 / t``, so the bounded search
    finds its unique minimum in ``[0.05, 20]``.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Probabilities of a model on rows it was **not** trained on.
    y : array-like of shape (n_samples,)
        The labels of those rows (noisy ones: the model predicts noisy
        labels), as class indices.

    Returns
    -------
    temperature : float
        In ``[0.05, 20]``; always positive.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition._estimates import fit_temperature
    >>> proba = np.array([[0.99, 0.01], [0.99, 0.01], [0.99, 0.01], [0.01, 0.99]])
    >>> y = [0, 0, 1, 1]  # a quarter of the confident rows are wrong
    >>> fit_temperature(proba, y) > 1.0
    True
    """
    proba = _check_proba(proba)
    n_samples, n_classes = proba.shape
    y = _check_labels(y, n_samples, n_classes, "y")
    logits = _log_proba(proba)
    picked = logits[np.arange(n_samples), y]

    def log_loss(beta):
        return float(np.mean(logsumexp(beta * logits, axis=1) - beta * picked))

    low, high = _TEMPERATURE_BOUNDS
    best = minimize_scalar(log_loss, bounds=(1.0 / high, 1.0 / low), method="bounded", options={"xatol": 1e-4})
    return float(1.0 / best.x)


def scale_temperature(proba, temperature):
    """``softmax(log(proba) / temperature)``: ``proba`` softened (``t > 1``) or sharpened (``t < 1``).

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Probabilities; entries are floored at ``1e-12`` before the log.
    temperature : float > 0

    Returns
    -------
    proba_scaled : ndarray of shape (n_samples, n_classes), dtype float64

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition._estimates import scale_temperature
    >>> scale_temperature(np.array([[0.8, 0.2]]), 2.0).round(3)
    array([[0.667, 0.333]])
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")
    logits = _log_proba(_check_proba(proba)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def denoise_proba(proba_noisy, transition_matrix):
    """Plug-in clean probabilities from noisy ones: solve ``p_noisy = p_clean @ T``.

    ``p_clean = p_noisy @ pinv(T)`` (least squares through the
    pseudo-inverse, so a singular ``T`` does not fail), then negative entries
    are clipped to zero and rows renormalised. This is a plug-in correction,
    not a probabilistic model: when the clipped row is all zero (possible
    only for a singular ``T``) the noisy row is returned unchanged.

    Parameters
    ----------
    proba_noisy : array-like of shape (n_samples, n_classes)
        ``p(noisy | x)``.
    transition_matrix : array-like of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``.

    Returns
    -------
    proba_clean : ndarray of shape (n_samples, n_classes), dtype float64
        Estimated ``p(clean | x)``; rows sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import denoise_proba
    >>> T = np.array([[0.8, 0.2], [0.3, 0.7]])
    >>> denoise_proba(np.array([[0.55, 0.45]]), T)
    array([[0.5, 0.5]])
    """
    proba_noisy = _check_proba(proba_noisy, "proba_noisy")
    T = check_transition_matrix(transition_matrix, proba_noisy.shape[1])
    clean = np.asarray(proba_noisy, dtype=np.float64) @ np.linalg.pinv(T)
    np.clip(clean, 0.0, None, out=clean)
    sums = clean.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 1e-12
    if np.any(empty):
        clean[empty] = proba_noisy[empty]
        sums[empty] = clean[empty].sum(axis=1, keepdims=True)
    return clean / sums

