"""Label-noise generators: transition matrices, label corruption, noisy datasets.

Everything here follows the package convention
``T[i, j] = p(noisy = j | clean = i)`` (rows sum to one), with classes encoded
``0 .. C-1`` in sorted order of the unique labels unless ``classes`` says
otherwise. cleanlab's ``noise_matrix`` is the transpose of this; the
converters, and the error of an estimate of ``T``, live with the estimators
in :mod:`sknoisy.transition`.

No function here touches numpy's global random state when given an integer or
a ``RandomState`` as ``random_state`` (``None`` means numpy's global
``RandomState``, as everywhere in scikit-learn).
"""

import math
import numbers
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.utils import check_array, check_random_state

from .utils._validation import check_rate, check_transition_matrix

__all__ = [
    "NOISE_KINDS",
    "INSTANCE_NOISE_KINDS",
    "MNIST_ASYMMETRIC",
    "CIFAR10_ASYMMETRIC",
    "make_transition_matrix",
    "corrupt_labels",
    "add_noisy_copies",
    "make_noisy_classification",
    "instance_dependent_noise",
    "annotator_noise",
    "empirical_transition_matrix",
    "check_transition_matrix",
]

#: Valid values of ``kind`` in :func:`make_transition_matrix`
#: (``'flip_random'`` is an alias of ``'symmetric'``).
NOISE_KINDS = (
    "uniform",
    "symmetric",
    "flip_random",
    "flip_to_one",
    "pair",
    "asymmetric",
    "structured",
)

#: Kinds of noise that depend on each row's features, not only on its class:
#: ``'instance'`` (:func:`instance_dependent_noise`) and ``'annotator'``
#: (:func:`annotator_noise`). They are kept out of :data:`NOISE_KINDS`, the
#: kinds of :func:`make_transition_matrix`: they need ``X`` and have no
#: transition matrix (each row has its own).
INSTANCE_NOISE_KINDS = ("instance", "annotator")

#: Patrini et al. (2017) MNIST flips ``{clean: noisy}``: 7->1, 2->7, 5<->6, 3->8.
MNIST_ASYMMETRIC = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}

#: Patrini et al. (2017) CIFAR-10 flips ``{clean: noisy}``: truck->automobile,
#: bird->airplane, deer->horse, cat<->dog.
CIFAR10_ASYMMETRIC = {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}

_PRESETS = {"mnist": MNIST_ASYMMETRIC, "cifar10": CIFAR10_ASYMMETRIC}
_ORDERS = ("decreasing", "increasing", "random")
_SOURCES = ("same", "white_noise")


# --------------------------------------------------------------------------
# transition matrices
# --------------------------------------------------------------------------
def _check_n_classes(n_classes):
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise TypeError(f"n_classes must be an integer >= 2, got {n_classes!r}.")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}.")
    return int(n_classes)


def _normalise_kind(kind):
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, one of {NOISE_KINDS}, got {kind!r}.")
    # ALGORITHMS.md spells some kinds with hyphens ("flip-to-one"); accept both.
    key = kind.strip().lower().replace("-", "_")
    if key in INSTANCE_NOISE_KINDS:
        function = "instance_dependent_noise" if key == "instance" else "annotator_noise"
        raise ValueError(
            f"Noise kind {kind!r} depends on the features of each row and has no transition matrix; "
            f"corrupt the labels with sknoisy.noise.{function}(X, y, rate)."
        )
    if key not in NOISE_KINDS:
        raise ValueError(f"Unknown noise kind {kind!r}; valid kinds are {NOISE_KINDS}.")
    return "symmetric" if key == "flip_random" else key


def _check_mapping(mapping, n_classes):
    if not isinstance(mapping, dict):
        raise TypeError(
            f"mapping must be a dict {{clean_class_index: noisy_class_index}}, got {type(mapping).__name__}."
        )
    checked = {}
    for src, dst in mapping.items():
        for value in (src, dst):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"mapping keys and values must be integer class indices, got {value!r}.")
            if not 0 <= value < n_classes:
                raise ValueError(
                    f"mapping refers to class {value}, outside 0..{n_classes - 1} for n_classes={n_classes}."
                )
        if src == dst:
            raise ValueError(f"mapping sends class {src} to itself; list only classes that are flipped.")
        checked[int(src)] = int(dst)
    return checked


def _structured(n_classes, delta, order, rng):
    # The fully structured row (delta = 1): the correct label and a linear ramp
    # over the false labels whose top, rank 1, ties with it; it sums to one.
    # Every other delta is its linear interpolation with uniform noise (all 1/C).
    C = n_classes
    top = 2.0 / (C + 2)
    ranks = np.arange(1, C)  # rank 1 = most confusable false label
    weights = (1.0 - delta) / C + delta * top * (C - ranks) / (C - 1)
    T = np.zeros((C, C))
    for i in range(C):
        if order == "decreasing":
            false = (i + ranks) % C
        elif order == "increasing":
            false = (i - ranks) % C
        else:
            false = rng.permutation(np.delete(np.arange(C), i))
        T[i, false] = weights
        T[i, i] = (1.0 - delta) / C + delta * top
    return T


def make_transition_matrix(
    kind, n_classes, rate, *, random_state=None, order="decreasing", mapping=None, preset=None
):
    """Build a noise transition matrix ``T[i, j] = p(noisy = j | clean = i)``.

    Parameters
    ----------
    kind : str
        One of :data:`NOISE_KINDS` (hyphens are accepted for underscores,
        case is ignored). With ``C = n_classes`` and ``r = rate``:

        - ``'uniform'`` (MLC, GLC): the label is redrawn uniformly from all
          ``C`` classes with probability ``r``, the true class included:
          ``T = (1 - r) I + r/C 11^T``. Diagonal ``1 - r + r/C`` (effective
          flip rate ``r (C - 1)/C``); singular at ``r = 1``.
        - ``'symmetric'`` (alias ``'flip_random'``): flipped with probability
          ``r`` to one of the ``C - 1`` other classes uniformly:
          ``T = (1 - r) I + r/(C - 1) (11^T - I)``. Diagonal ``1 - r``;
          singular at ``r = (C - 1)/C``.
        - ``'flip_to_one'`` (MLC): each class ``i`` sends mass ``r`` to one
          other class ``j(i)`` drawn uniformly once (with ``random_state``),
          independently for each ``i``. Diagonal ``1 - r``.
        - ``'pair'``: class ``i`` sends mass ``r`` to ``(i + 1) mod C``.
          Diagonal ``1 - r``.
        - ``'asymmetric'`` (Patrini et al. 2017): each class ``i`` in
          ``mapping`` (or ``preset``) sends mass ``r`` to ``mapping[i]``;
          other classes are untouched. Diagonal ``1 - r`` for mapped classes,
          ``1`` for the others.
        - ``'structured'`` (Rolnick et al. 2017): here ``rate`` is the
          structure parameter ``delta`` in [0, 1], *not* a flip rate. As in
          the paper, ``delta`` interpolates between uniform noise
          (``delta = 0``: every label, the correct one included, has
          probability ``1/C``, the same matrix as ``'uniform'`` at rate 1)
          and noise so structured that the most common false label is as
          likely as the correct label (``delta = 1``). At ``delta = 1`` the
          correct label has probability ``2/(C + 2)`` and the ``C - 1``
          false labels, ranked by ``order`` (rank 1 = most confusable), fall
          linearly from ``2/(C + 2)`` at rank 1 to ``2/((C + 2)(C - 1))`` at
          rank ``C - 1``: ``2/(C + 2) * (C - k)/(C - 1)`` for rank ``k``.
          In between, every entry is the linear interpolation
          ``(1 - delta)/C + delta * (its value at delta = 1)``: the correct
          label has ``(1 - delta)/C + 2 delta/(C + 2)`` and the false labels
          keep their ranking. Both ends make the most confusable false label
          exactly as likely as the correct one, so every ``delta`` does:
          ``delta`` moves probability from the least confusable false labels
          to the correct and the most confusable ones, and no false label is
          ever more likely than the correct label. With two classes every
          ``delta`` gives ``[[.5, .5], [.5, .5]]``.
    n_classes : int
        Number of classes ``C`` (at least 2).
    rate : float in [0, 1]
        The noise rate ``r`` (``delta`` for ``'structured'``).
    random_state : int, RandomState instance or None, default=None
        Used by ``'flip_to_one'`` and by ``'structured'`` with
        ``order='random'`` only.
    order : {'decreasing', 'increasing', 'random'}, default='decreasing'
        For ``'structured'``: which false labels are most confusable. For
        class ``i``, ``'decreasing'`` ranks ``i+1, i+2, ...`` (mod ``C``),
        so the probability decreases going up from ``i``; ``'increasing'``
        ranks ``i-1, i-2, ...`` (the probability increases going up);
        ``'random'`` draws a ranking per class with ``random_state``.
        Ignored by the other kinds (but still validated).
    mapping : dict of {int: int}, default=None
        For ``'asymmetric'``: ``{clean_class_index: noisy_class_index}``.
    preset : {'mnist', 'cifar10'}, default=None
        For ``'asymmetric'``: :data:`MNIST_ASYMMETRIC` or
        :data:`CIFAR10_ASYMMETRIC`; requires ``n_classes=10``.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes)
        Row-stochastic transition matrix. Singular matrices (e.g. uniform at
        ``rate=1``) are returned as they are.

    Raises
    ------
    ValueError
        Unknown ``kind``, ``order`` or ``preset``; ``n_classes < 2``;
        ``rate`` outside [0, 1]; a ``mapping`` with classes out of range; a
        preset with ``n_classes != 10``; ``mapping``/``preset`` missing for
        ``'asymmetric'`` or given for another kind.
    TypeError
        Non-integer ``n_classes``, non-numeric ``rate``, or a ``mapping``
        that is not a dict of integers.

    Examples
    --------
    >>> from sknoisy.noise import make_transition_matrix
    >>> make_transition_matrix("symmetric", 3, 0.2)
    array([[0.8, 0.1, 0.1],
           [0.1, 0.8, 0.1],
           [0.1, 0.1, 0.8]])
    >>> make_transition_matrix("pair", 3, 0.25)
    array([[0.75, 0.25, 0.  ],
           [0.  , 0.75, 0.25],
           [0.25, 0.  , 0.75]])
    >>> T = make_transition_matrix("asymmetric", 10, 0.4, preset="mnist")
    >>> float(T[7, 1]), float(T[7, 7]), float(T[0, 0])
    (0.4, 0.6, 1.0)
    >>> make_transition_matrix("structured", 4, 1.0).round(3)
    array([[0.333, 0.333, 0.222, 0.111],
           [0.111, 0.333, 0.333, 0.222],
           [0.222, 0.111, 0.333, 0.333],
           [0.333, 0.222, 0.111, 0.333]])
    >>> make_transition_matrix("structured", 4, 0.0)[0]
    array([0.25, 0.25, 0.25, 0.25])
    """
    kind = _normalise_kind(kind)
    C = _check_n_classes(n_classes)
    r = check_rate(rate, "rate")
    if not isinstance(order, str) or order not in _ORDERS:
        raise ValueError(f"Unknown order {order!r}; valid orders are {_ORDERS}.")
    if kind != "asymmetric" and (mapping is not None or preset is not None):
        raise ValueError(f"mapping and preset are only used with kind='asymmetric', not kind={kind!r}.")

    eye = np.eye(C)
    if kind == "uniform":
        return (1.0 - r) * eye + r / C * np.ones((C, C))
    if kind == "symmetric":
        return (1.0 - r) * eye + r / (C - 1) * (np.ones((C, C)) - eye)
    if kind == "pair":
        return (1.0 - r) * eye + r * np.roll(eye, 1, axis=1)
    if kind == "flip_to_one":
        rng = check_random_state(random_state)
        # Draw from the C-1 other classes by skipping over i itself.
        targets = rng.randint(0, C - 1, size=C)
        targets = targets + (targets >= np.arange(C))
        T = (1.0 - r) * eye
        T[np.arange(C), targets] += r
        return T
    if kind == "asymmetric":
        if mapping is not None and preset is not None:
            raise ValueError("Give either mapping or preset for kind='asymmetric', not both.")
        if preset is not None:
            key = preset.lower().replace("-", "") if isinstance(preset, str) else None
            if key not in _PRESETS:
                raise ValueError(f"Unknown preset {preset!r}; valid presets are {tuple(_PRESETS)}.")
            if C != 10:
                raise ValueError(f"preset {preset!r} is defined for n_classes=10, got n_classes={C}.")
            mapping = _PRESETS[key]
        elif mapping is None:
            raise ValueError(
                "kind='asymmetric' needs a mapping {clean_class_index: noisy_class_index} "
                f"or a preset in {tuple(_PRESETS)}."
            )
        mapping = _check_mapping(mapping, C)
        T = eye.copy()
        for src, dst in mapping.items():
            T[src, src] = 1.0 - r
            T[src, dst] = r
        return T
    # structured
    rng = check_random_state(random_state) if order == "random" else None
    return _structured(C, r, order, rng)


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------
def _is_pandas_series(y):
    return hasattr(y, "to_numpy") and hasattr(y, "index") and getattr(y, "ndim", None) == 1


def _as_label_array(y, name="y"):
    """Labels as a 1-D ndarray, refusing NaN / None."""
    arr = y.to_numpy() if _is_pandas_series(y) else np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got an array of shape {arr.shape}.")
    if arr.dtype.kind in "fc":
        missing = np.isnan(arr).any()
    elif arr.dtype.kind == "O":
        # NaN is the only value unequal to itself; None is refused too.
        try:
            missing = bool(np.any(np.equal(arr, None)) or np.any(arr != arr))
        except TypeError:  # pandas.NA refuses to be a bool: it is missing
            missing = True
    else:
        missing = False
    if missing:
        raise ValueError(f"{name} contains NaN or None; every sample needs a label.")
    return arr


def _check_classes(classes, y_arr, name="y"):
    """Return the classes array (default: sorted unique labels of ``y_arr``)."""
    if classes is None:
        try:
            return np.unique(y_arr)
        except TypeError as exc:
            raise ValueError(
                f"The labels in {name} cannot be sorted (mixed types?); pass `classes` explicitly."
            ) from exc
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size == 0:
        raise ValueError(f"classes must be a non-empty 1-D array, got shape {classes.shape}.")
    if len(set(classes.tolist())) != classes.size:
        raise ValueError("classes contains duplicate labels.")
    return classes


def _encode(y_arr, classes, name="y"):
    """Indices of ``y_arr`` in ``classes``; loops over distinct labels only."""
    if y_arr.size == 0:
        return np.zeros(0, dtype=np.intp)
    lookup = {c: k for k, c in enumerate(classes.tolist())}
    try:
        uniq, inverse = np.unique(y_arr, return_inverse=True)
        uniq = uniq.tolist()
    except TypeError:
        # Unsortable mixed-type object labels (only reachable with explicit
        # classes): a per-sample dictionary lookup is the one general way.
        uniq = list(dict.fromkeys(y_arr.tolist()))
        index = {label: k for k, label in enumerate(uniq)}
        inverse = np.fromiter((index[label] for label in y_arr.tolist()), dtype=np.intp, count=y_arr.size)
    codes = np.empty(len(uniq), dtype=np.intp)
    unknown = []
    for k, label in enumerate(uniq):
        code = lookup.get(label)
        if code is None:
            unknown.append(label)
        else:
            codes[k] = code
    if unknown:
        raise ValueError(
            f"{name} contains labels that are not in classes: {unknown[:5]}"
            f"{' ...' if len(unknown) > 5 else ''}; classes are {classes.tolist()[:20]}."
        )
    return codes[inverse.ravel()]


def _decode(codes, classes, like):
    """Labels for ``codes``, in the dtype of ``like`` when that loses nothing."""
    out_classes = classes
    try:
        cast = classes.astype(like.dtype)
        if np.array_equal(cast, classes):
            out_classes = cast
    except (TypeError, ValueError):
        pass
    return out_classes[codes]


def _wrap_like(values, y):
    if _is_pandas_series(y):
        return type(y)(values, index=y.index, name=y.name, dtype=y.dtype)
    return values


def _largest_remainder(n, probs, rng):
    """Integer counts summing to ``n`` closest to ``n * probs``."""
    raw = n * probs
    base = np.floor(raw)
    # Rounded so that fractions equal up to float error count as ties.
    frac = np.round(raw - base, 9)
    counts = base.astype(np.int64)
    extra = int(round(n - counts.sum()))
    if extra > 0:
        # Ties (every false label under symmetric noise) are broken at random:
        # a fixed rule would favour the same classes in every row.
        winners = np.lexsort((rng.random_sample(probs.size), -frac))[:extra]
        counts[winners] += 1
    return counts


def corrupt_labels(y, T, *, classes=None, random_state=None, exact=False):
    """Corrupt labels with a transition matrix.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Clean labels of any type (ints, non-contiguous ints, strings,
        objects). NaN / None are refused.
    T : array-like of shape (n_classes, n_classes)
        ``T[i, j] = p(noisy = classes[j] | clean = classes[i])``.
    classes : array-like of shape (n_classes,), default=None
        The class labels indexing ``T``, in that order. Default
        ``np.unique(y)`` (sorted). Pass it when some class is absent from
        ``y`` or when the labels should be ordered differently.
    random_state : int, RandomState instance or None, default=None
        Controls the draws.
    exact : bool, default=False
        ``False``: each label is drawn independently from ``T[y_i]``
        (Patrini, GLC). ``True``: among the ``n_i`` samples of clean class
        ``i`` exactly ``round(n_i * T[i, j])`` get noisy label ``j``
        (largest-remainder rounding, so counts sum to ``n_i``; ties broken
        at random), at random positions (APL, MLC).

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,) or pandas Series
        Noisy labels with the dtype of ``y`` (a Series with ``y``'s index
        when ``y`` is a Series). When ``classes`` holds labels that ``y``'s
        dtype cannot represent (longer strings, floats for integer ``y``),
        the dtype of ``classes`` is used instead.

    Raises
    ------
    ValueError
        ``y`` not 1-D or with NaN/None; labels of ``y`` missing from
        ``classes``; duplicate ``classes``; ``T`` not a valid transition
        matrix of size ``len(classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.noise import corrupt_labels, make_transition_matrix
    >>> y = np.array(["cat", "dog", "eel"] * 100)
    >>> T = make_transition_matrix("symmetric", 3, 0.2)
    >>> y_noisy = corrupt_labels(y, T, random_state=0, exact=True)
    >>> int((y_noisy != y).sum()), y_noisy.dtype
    (60, dtype('<U3'))
    >>> y_noisy = corrupt_labels([10, 20, 30] * 5, np.eye(3), random_state=0)
    >>> y_noisy[:3]
    array([10, 20, 30])
    """
    y_arr = _as_label_array(y)
    given_classes = classes
    classes = _check_classes(classes, y_arr) if (classes is not None or y_arr.size) else None
    if classes is None:  # empty y, no classes: nothing to corrupt
        check_transition_matrix(T, name="T")
        return _wrap_like(y_arr.copy(), y)
    if given_classes is None:
        T = check_transition_matrix(T, name="T")
        if T.shape[0] != classes.size:
            # the classes were read off y: say so, since that is what differs
            fmt = (lambda c: f"{c:.4g}") if classes.dtype.kind == "f" else repr
            shown = ", ".join(fmt(c) for c in classes.tolist()[:5]) + (" ..." if classes.size > 5 else "")
            continuous = y_arr.dtype.kind == "f" and np.any(y_arr != np.round(y_arr))
            raise ValueError(
                f"T has shape {T.shape} but y has {classes.size} distinct labels ({shown}), and T needs one row "
                "per class. Pass classes= (the labels indexing T, in order) when y lacks some class"
                + (", and check that y holds class labels: non-integer floats look like a continuous target."
                   if continuous else ".")
            )
    T = check_transition_matrix(T, classes.size, name="T")
    codes = _encode(y_arr, classes)
    rng = check_random_state(random_state)
    n_classes = classes.size
    noisy = np.empty_like(codes)

    if exact:
        for i in range(n_classes):
            members = np.flatnonzero(codes == i)
            if members.size == 0:
                continue
            counts = _largest_remainder(members.size, T[i], rng)
            noisy[rng.permutation(members)] = np.repeat(np.arange(n_classes), counts)
    else:
        u = rng.random_sample(codes.size)
        for i in range(n_classes):
            members = np.flatnonzero(codes == i)
            if members.size == 0:
                continue
            cdf = np.cumsum(T[i])
            # Pin the cdf to 1 from the last class with mass on, so rounding
            # can never send a draw to a zero-probability class.
            cdf[np.flatnonzero(T[i] > 0)[-1] :] = 1.0
            noisy[members] = np.searchsorted(cdf, u[members], side="right")
    return _wrap_like(_decode(noisy, classes, y_arr), y)


def empirical_transition_matrix(y_clean, y_noisy, classes=None):
    """Row-normalised counts of (clean, noisy) label pairs.

    Parameters
    ----------
    y_clean, y_noisy : array-like of shape (n_samples,)
        Clean and noisy labels, any label type.
    classes : array-like of shape (n_classes,), default=None
        Label order; default the sorted union of both label sets.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes)
        ``T[i, j]`` = fraction of samples of clean class ``i`` labelled ``j``.
        A class absent from ``y_clean`` gets an identity row (with a
        ``UserWarning``), so ``T`` is always row-stochastic.

    Raises
    ------
    ValueError
        Different lengths, NaN labels, or labels missing from ``classes``.

    Examples
    --------
    >>> from sknoisy.noise import empirical_transition_matrix
    >>> empirical_transition_matrix([0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 0])
    array([[0.75, 0.25],
           [0.5 , 0.5 ]])
    """
    clean = _as_label_array(y_clean, "y_clean")
    noisy = _as_label_array(y_noisy, "y_noisy")
    if clean.shape != noisy.shape:
        raise ValueError(
            f"y_clean and y_noisy must have the same length, got {clean.shape[0]} and {noisy.shape[0]}."
        )
    if classes is None:
        try:
            classes = np.unique(np.concatenate([clean, noisy]))
        except TypeError as exc:
            raise ValueError("The labels cannot be sorted (mixed types?); pass `classes` explicitly.") from exc
        if classes.size == 0:
            raise ValueError("y_clean is empty and no classes were given.")
    else:
        classes = _check_classes(classes, clean)
    C = classes.size
    ci = _encode(clean, classes, "y_clean")
    ni = _encode(noisy, classes, "y_noisy")
    counts = np.bincount(ci * C + ni, minlength=C * C).reshape(C, C).astype(np.float64)
    totals = counts.sum(axis=1)
    absent = np.flatnonzero(totals == 0)
    if absent.size:
        warnings.warn(
            f"Classes {classes[absent].tolist()} do not occur in y_clean; their rows are set to the identity.",
            UserWarning,
            stacklevel=2,
        )
        counts[absent, absent] = 1.0
        totals[absent] = 1.0
    return counts / totals[:, None]


# --------------------------------------------------------------------------
# noise that depends on the input
# --------------------------------------------------------------------------
def _check_flip_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate must be a real number in [0, 1), got {rate!r}.")
    rate = float(rate)
    if not 0.0 <= rate < 1.0:  # NaN fails too
        raise ValueError(f"rate must be in [0, 1), got {rate!r}.")
    return rate


def _instance_inputs(X, y, classes, who):
    """Checked ``(X as float64, y as an array, classes, class codes of y)``."""
    y_arr = _as_label_array(y)
    X = check_array(X, dtype="numeric", ensure_all_finite=False, input_name="X").astype(np.float64, copy=False)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise ValueError(
            f"X contains NaN or infinite values (first in row {int(np.flatnonzero(bad)[0])}); {who} reads every "
            "feature of every row, so impute or drop them first."
        )
    if X.shape[0] != y_arr.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y_arr.shape[0]} labels.")
    classes = _check_classes(classes, y_arr)
    if classes.size < 2:
        raise ValueError(
            f"{who} needs at least 2 classes, got a single one ({classes[0].tolist()!r}); "
            "pass classes= to name the others."
        )
    return X, y_arr, classes, _encode(y_arr, classes)


def _sample_rows(P, rng):
    """One class index per row of the row-stochastic ``P``."""
    cdf = np.cumsum(P, axis=1)
    # Pin each cdf to 1 from its last class with mass on, so that rounding
    # can never send a draw to a zero-probability class.
    last = P.shape[1] - 1 - np.argmax(P[:, ::-1] > 0, axis=1)
    cdf[np.arange(P.shape[1]) >= last[:, None]] = 1.0
    u = rng.random_sample(P.shape[0])
    return (cdf <= u[:, None]).sum(axis=1)


def _truncated_normal_rates(rate, std, n, rng):
    """``n`` flip rates from a normal truncated to [0, 1] whose *mean* is ``rate``."""
    from scipy.optimize import brentq
    from scipy.stats import truncnorm

    if rate == 0.0:
        return np.zeros(n)

    def law(loc):
        return truncnorm((0.0 - loc) / std, (1.0 - loc) / std, loc=loc, scale=std)

    # Xia et al. centre the normal on the rate; truncation then moves the mean
    # off it (0.206 for 0.2 with std 0.1): the centre is solved for instead, so
    # that every row flips with probability exactly `rate`. The mean of the
    # truncated normal grows with its centre and, far outside [0, 1], behaves
    # like std**2 / distance, which brackets the root.
    low, high = -(std**2) / rate - 1.0, 2.0 + std**2 / (1.0 - rate)
    loc = brentq(lambda c: law(c).mean() - rate, low, high, xtol=1e-12)
    return law(loc).rvs(size=n, random_state=rng)


def _normalized(X, normalize):
    if normalize == "l2":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)
    if normalize == "minmax":
        low, span = X.min(axis=0), np.ptp(X, axis=0)
        return (X - low) / np.where(span > 0, span, 1.0)
    return X


def _noise_report(codes, noisy, label_distribution, **extra):
    from sklearn.utils import Bunch

    flip_probability = 1.0 - label_distribution[np.arange(codes.size), codes]
    return Bunch(
        flip_probability=flip_probability, flipped=noisy != codes, label_distribution=label_distribution, **extra
    )


def instance_dependent_noise(
    X, y, rate, *, classes=None, normalize="minmax", std=0.1, random_state=None, return_noise=False
):
    """Corrupt labels with the instance-dependent noise of Xia et al. (2020).

    Each row gets its own flip rate and its own distribution over the wrong
    classes, both drawn at random but the latter a function of the row's
    features, so two rows of the same class are mislabelled differently:

    1. ``q_i`` ~ a normal of standard deviation ``std`` truncated to
       [0, 1], with the centre chosen so that the mean of ``q`` is ``rate``;
    2. ``W`` ~ N(0, 1) of shape ``(C, d, C)``, one random projection per
       clean class;
    3. the scores ``x_i @ W[y_i]``, the clean class's set to ``-inf``, and
       their softmax ``s_i`` (zero on the clean class);
    4. the noisy label is drawn from ``q_i s_i + (1 - q_i) e_{y_i}``.

    So row ``i`` is flipped with probability exactly ``q_i``, and every row,
    independently, with probability ``rate`` over the draw of ``q``: the
    number of flips is binomial, and the realised flip rate lies within
    ``4 sqrt(rate (1 - rate) / n)`` of ``rate`` but in about one draw in
    16,000.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features, finite (dense). They are rescaled as ``normalize``
        says before the projection.
    y : array-like of shape (n_samples,)
        Clean labels of any type (as in :func:`corrupt_labels`).
    rate : float in [0, 1)
        Mean flip rate.
    classes : array-like of shape (n_classes,), default=None
        The classes a label may be flipped to; default ``np.unique(y)``.
    normalize : {'minmax', 'l2', None}, default='minmax'
        How ``X`` is scaled before the projection. The scores grow with the
        norm of the row, so this sets how peaked the flip targets are:

        - ``'minmax'``: each feature scaled to [0, 1] by its range over
          ``X`` (a constant feature becomes 0), the scale of Xia et al.'s
          pixels. The scores grow like the square root of the number of
          features: on images the flip target is mostly the one class of
          the largest score (on the 64 pixels of 8x8 digits it holds 77% of
          the row's flip mass on average), as in the paper; on a table of a
          few features the targets are spread wider.
        - ``'l2'``: each row scaled to unit Euclidean norm, so that the
          scores of every row are N(0, 1) over ``W`` whatever the units and
          the number of features: the same, wider spread of flip targets
          on any data (35% of the flip mass on the top class, 10 classes).
        - ``None``: ``X`` as given, for data already scaled as you want.
    std : float > 0, default=0.1
        Standard deviation of the per-row flip rates (0.1 in the paper).
    random_state : int, RandomState instance or None, default=None
        Controls the flip rates, ``W`` and the draws.
    return_noise : bool, default=False
        Also return the per-row noise.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,) or pandas Series
        Noisy labels, typed as :func:`corrupt_labels` returns them.
    noise : :class:`~sklearn.utils.Bunch`
        Only with ``return_noise=True``:

        - ``flip_probability``, shape (n_samples,): ``q_i``, the probability
          that row ``i``'s label was changed;
        - ``flipped``, shape (n_samples,), bool: whether it was;
        - ``label_distribution``, shape (n_samples, n_classes): the row's
          ``p(noisy label = classes[j] | x_i, y_i)``, the row of a
          transition matrix for this input alone. Its mean over the rows of
          class ``i`` is the class-level matrix that class-conditional
          methods can at best estimate.

    Raises
    ------
    ValueError
        ``rate`` outside [0, 1); NaN or infinite values in ``X``; ``X`` and
        ``y`` of different lengths; fewer than 2 classes; labels of ``y``
        missing from ``classes``; an unknown ``normalize``; ``std <= 0``.
    TypeError
        Non-numeric ``rate`` or ``std``.

    See Also
    --------
    annotator_noise : flips decided by a weak model's confusions.
    corrupt_labels : class-conditional noise, from a transition matrix.

    References
    ----------
    Xia, X., Liu, T., Han, B., Wang, N., Gong, M., Liu, H., Niu, G., Tao, D.
    and Sugiyama, M. (2020). Part-dependent label noise: towards
    instance-dependent label noise. NeurIPS 2020 (their Algorithm 2, the
    instance-dependent noise generator).

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.noise import instance_dependent_noise
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(2000, 5)), np.arange(2000) % 4
    >>> y_noisy, noise = instance_dependent_noise(X, y, 0.3, random_state=0, return_noise=True)
    >>> round(float(np.mean(y_noisy != y)), 2), round(float(noise.flip_probability.mean()), 2)
    (0.3, 0.3)
    >>> noise.label_distribution.shape
    (2000, 4)
    """
    rate = _check_flip_rate(rate)
    if normalize not in ("minmax", "l2", None):
        raise ValueError(f"Unknown normalize {normalize!r}; use 'minmax', 'l2' or None.")
    if isinstance(std, bool) or not isinstance(std, numbers.Real):
        raise TypeError(f"std must be a positive number, got {std!r}.")
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be a finite number > 0, got {std!r}.")
    X, y_arr, classes, codes = _instance_inputs(X, y, classes, "instance_dependent_noise")
    rng = check_random_state(random_state)
    n, C = codes.size, classes.size
    rows = np.arange(n)
    q = _truncated_normal_rates(rate, float(std), n, rng)
    W = rng.standard_normal((C, X.shape[1], C))
    Xn = _normalized(X, normalize)
    scores = np.empty((n, C))
    for c in range(C):
        members = codes == c
        scores[members] = Xn[members] @ W[c]
    scores[rows, codes] = -np.inf
    scores -= scores.max(axis=1, keepdims=True)
    targets = np.exp(scores)
    targets /= targets.sum(axis=1, keepdims=True)
    distribution = q[:, None] * targets
    distribution[rows, codes] = 1.0 - q
    noisy = _sample_rows(distribution, rng)
    y_noisy = _wrap_like(_decode(noisy, classes, y_arr), y)
    if return_noise:
        return y_noisy, _noise_report(codes, noisy, distribution)
    return y_noisy


def _scaled_to_mean(a, rate):
    """``min(1, c a)`` with the ``c`` that makes its mean ``rate`` (``a > 0``, ``rate < 1``)."""
    n = a.size
    s = np.sort(a)[::-1]
    tail = np.cumsum(s[::-1])[::-1]  # tail[m] = sum of s[m:]
    # With the m largest capped at 1 the rest scale by c = (rate n - m) / tail[m];
    # the fewest caps whose scaled next entry stays <= 1 is the solution.
    m = np.arange(n)
    scale = (rate * n - m) / tail
    first = int(np.argmax((scale * s <= 1.0) & (scale >= 0)))
    return np.minimum(1.0, scale[first] * a)


def _prefit_proba(estimator, X, classes):
    """A fitted weak model's probabilities on ``X`` as columns of ``classes`` (0 for a class it lacks), and its columns."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ValueError(
            f"cv='prefit' needs estimator= fitted already (on other rows than X); {type(estimator).__name__} is "
            "not fitted."
        ) from None
    known = np.asarray(getattr(estimator, "classes_", []))
    positions = {label: i for i, label in enumerate(classes.tolist())}
    missing = [label for label in known.tolist() if label not in positions]
    if known.size == 0 or missing:
        raise ValueError(
            f"the prefit estimator's classes_ {known.tolist()!r} must be labels of classes {classes.tolist()!r}"
            + (f"; {missing[0]!r} is not" if missing else "")
            + "."
        )
    given = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if given.shape != (X.shape[0], known.size) or not np.isfinite(given).all():
        raise ValueError(
            f"the prefit estimator's predict_proba returned shape {given.shape} (or non-finite values); expected "
            f"finite probabilities of shape {(X.shape[0], known.size)}."
        )
    columns = [positions[label] for label in known.tolist()]
    proba = np.zeros((X.shape[0], classes.size))
    proba[:, columns] = given
    return proba, columns


def annotator_noise(
    X, y, rate, *, randomness=0.0, estimator=None, cv=5, classes=None, random_state=None, return_noise=False
):
    """Corrupt labels as an annotator would: the ambiguous rows, to a plausible class.

    A weak model stands in for the annotator: its out-of-fold class
    probabilities ``p_i`` (``cv`` stratified folds, so no row is judged by a
    model that saw its label) say how ambiguous each row is, by the margin
    ``p_i[y_i] - max_{j != y_i} p_i[j]``, and which wrong class is plausible.
    Two annotators are mixed, ``randomness`` being the weight of the second:

    - deterministic: the ``round(rate * n)`` rows of lowest margin (ties
      broken at random) are given their most probable wrong class;
    - random: row ``i`` is flipped with probability ``min(1, c (1 - p_i[y_i]))``,
      ``c`` set so that these average ``rate``, to a wrong class drawn in
      proportion to ``p_i``.

    At ``randomness=0`` the noisy labels are a function of the features (and
    the folds): no method can tell them from a consistent other labelling
    without some trusted rows. Larger values spread the flips over more rows
    and more classes, still favouring the ambiguous rows and plausible classes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features, finite (dense).
    y : array-like of shape (n_samples,)
        Clean labels of any type (as in :func:`corrupt_labels`).
    rate : float in [0, 1)
        Flip rate: exactly ``round(rate * n) / n`` at ``randomness=0``;
        otherwise the rows flip independently with probabilities of mean
        ``rate``, and the realised rate lies within ``4 sqrt(rate (1 - rate)
        / n)`` of it but in about one draw in 16,000.
    randomness : float in [0, 1], default=0.0
        Weight of the random annotator (see above).
    estimator : classifier with ``predict_proba``, default=None
        The weak model, cloned before use (with ``cv='prefit'``, the fitted
        model itself, not refitted; required then). Default: a standardising
        logistic regression (``make_pipeline(StandardScaler(),
        LogisticRegression(max_iter=1000))``), whose mistakes are the
        confusions a linear reading of the features makes.
    cv : int >= 2 or 'prefit', default=5
        Stratified folds of the out-of-fold probabilities; every class of
        ``y`` needs at least ``cv`` rows. ``'prefit'``: ``estimator`` is
        already fitted (on other rows than ``X``, for the reason in the
        Notes) and its ``predict_proba`` on ``X`` is used as it is; its
        ``classes_`` must be labels of ``classes``.
    classes : array-like of shape (n_classes,), default=None
        Label order; default ``np.unique(y)``. A class absent from ``y``
        gets probability 0 from the weak model and is never a flip target.
    random_state : int, RandomState instance or None, default=None
        Controls the folds, the tie-breaks and the draws (not the
        estimator's own randomness: set its ``random_state`` for that).
    return_noise : bool, default=False
        Also return the per-row noise.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,) or pandas Series
        Noisy labels, typed as :func:`corrupt_labels` returns them.
    noise : :class:`~sklearn.utils.Bunch`
        Only with ``return_noise=True``:

        - ``flip_probability``, shape (n_samples,): the probability that row
          ``i``'s label was changed (0 or 1 at ``randomness=0``);
        - ``flipped``, shape (n_samples,), bool: whether it was;
        - ``label_distribution``, shape (n_samples, n_classes): the row's
          ``p(noisy label = classes[j] | x_i, y_i)``;
        - ``margin``, shape (n_samples,): the weak model's margin, in
          [-1, 1] (low = ambiguous);
        - ``weak_proba``, shape (n_samples, n_classes): its out-of-fold
          probabilities.

    Raises
    ------
    ValueError
        ``rate`` outside [0, 1) or ``randomness`` outside [0, 1]; NaN or
        infinite values in ``X``; ``X`` and ``y`` of different lengths; fewer
        than 2 classes in ``y``; a class with fewer than ``cv`` rows;
        ``cv < 2``.
    TypeError
        Non-numeric ``rate`` or ``randomness``, non-integer ``cv``, an
        ``estimator`` without ``predict_proba``.

    See Also
    --------
    instance_dependent_noise : Xia et al.'s random instance-dependent noise.

    Notes
    -----
    Flipping the examples a model finds hardest toward its most likely wrong
    class follows the "annotator-like" noise of the label-noise literature,
    e.g. the pseudo-label noise of Algan and Ulusoy (2020), "Label noise
    types and their effects on deep learning", and the finding of Wei et
    al. (ICLR 2022, CIFAR-10N/100N) that human labelling errors concentrate
    on ambiguous images and go to similar classes.

    The weak model learns from the true labels of the rows it corrupts, so
    the noise depends on which rows are in ``X``: each row raises the weak
    model's confidence around itself, and the flips settle in the gaps
    between rows. A row that was part of ``X`` but is held out of a
    network's training is then easier for that network than a new row. On
    the MNIST subset at ``rate=0.4`` (plain cross-entropy, MLP(128)), held-out
    rows of ``X`` scored 89% and new rows 81%; the same 1,000 test rows
    scored 87.6% when they had been part of ``X`` and 79.1% when not.
    Benchmarks that corrupt the training split only, as they should, measure
    the harder case; scores on held-out rows of ``X`` (trusted rows in a
    cross-validation, for instance) are optimistic for the methods that learn
    from the noisy rows. A weak model fitted on other rows of the same
    population and passed with ``cv='prefit'`` removes this: the noise of a
    row then depends on that row alone, as an annotator's would. On the
    MNIST subset at ``rate=0.4`` (weak model fitted on 1,000 other training
    rows; plain cross-entropy, MLP(128)), held-out rows of ``X`` and new rows
    scored within a point of each other (``benchmarks/annotator_prefit.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.noise import annotator_noise
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> y_noisy, noise = annotator_noise(X, y, 0.2, random_state=0, return_noise=True)
    >>> int((y_noisy != y).sum())  # round(0.2 * 150)
    30
    >>> bool(noise.margin[noise.flipped].max() <= noise.margin[~noise.flipped].min())
    True
    >>> changed = y_noisy != y  # mostly versicolor <-> virginica, the classes that overlap
    >>> int(np.sum(changed & (y > 0) & (y_noisy > 0)))
    29
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rate = _check_flip_rate(rate)
    randomness = check_rate(randomness, "randomness")
    prefit = isinstance(cv, str) and cv == "prefit"
    if not prefit and (isinstance(cv, bool) or not isinstance(cv, numbers.Integral)):
        raise TypeError(f"cv must be an integer >= 2 or 'prefit', got {cv!r}.")
    if not prefit and cv < 2:
        raise ValueError(f"cv must be >= 2 (out-of-fold probabilities need 2 folds at least), got {cv}.")
    if prefit and estimator is None:
        raise ValueError("cv='prefit' needs the fitted weak model as estimator=; got estimator=None.")
    if estimator is not None and not hasattr(estimator, "predict_proba"):
        raise TypeError(f"estimator must be a classifier with predict_proba, got {type(estimator).__name__}.")
    X, y_arr, classes, codes = _instance_inputs(X, y, classes, "annotator_noise")
    present, counts = np.unique(codes, return_counts=True)
    if present.size < 2:
        raise ValueError(
            "annotator_noise needs at least 2 classes in y to fit its weak model, "
            f"got only {classes[present[0]].tolist()!r}."
        )
    # classes a flip may go to: those of y, and with a prefit model those it knows
    targets = present
    if prefit:
        proba, known = _prefit_proba(estimator, X, classes)
        targets = np.union1d(present, known)
    elif counts.min() < cv:
        raise ValueError(
            f"class {classes[present[counts.argmin()]].tolist()!r} has {counts.min()} rows but the weak model's "
            f"out-of-fold probabilities use cv={cv} stratified folds: every class of y needs at least cv rows; "
            "lower cv."
        )
    rng = check_random_state(random_state)
    n, C = codes.size, classes.size
    rows = np.arange(n)
    if not prefit:
        if estimator is None:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        else:
            model = clone(estimator)
        folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max))
        proba = np.zeros((n, C))
        proba[:, present] = cross_val_predict(model, X, codes, cv=folds, method="predict_proba")

    others = proba.copy()
    others[rows, codes] = -np.inf
    best = others.max(axis=1)
    margin = proba[rows, codes] - best
    # The most plausible wrong class, a random one among equals (e.g. all 0).
    tied = (others == best[:, None]) & np.isin(np.arange(C), targets)[None, :]
    plausible = np.argmax(np.where(tied, rng.random_sample((n, C)), -1.0), axis=1)

    hardest = np.lexsort((rng.random_sample(n), margin))[: int(round(rate * n))]
    deterministic = np.zeros((n, C))
    deterministic[rows, codes] = 1.0
    deterministic[hardest, codes[hardest]] = 0.0
    deterministic[hardest, plausible[hardest]] = 1.0

    # A row the model is sure of keeps a sliver of a chance, so that the
    # random annotator can reach any rate below 1.
    wrong_mass = np.maximum(1.0 - proba[rows, codes], 1e-12)
    flip = _scaled_to_mean(wrong_mass, rate)
    wrong = np.where(np.isfinite(others), np.maximum(others, 0.0), 0.0)
    total = wrong.sum(axis=1, keepdims=True)
    fallback = np.isin(np.arange(C), targets)[None, :] & (np.arange(C)[None, :] != codes[:, None])
    wrong = np.where(total > 0, wrong / np.where(total > 0, total, 1.0), fallback / fallback.sum(1, keepdims=True))
    random_part = flip[:, None] * wrong
    random_part[rows, codes] = 1.0 - flip

    distribution = (1.0 - randomness) * deterministic + randomness * random_part
    if randomness == 0.0:
        noisy = np.argmax(deterministic, axis=1)  # no draw: exactly the hardest rows
    else:
        noisy = _sample_rows(distribution, rng)
    y_noisy = _wrap_like(_decode(noisy, classes, y_arr), y)
    if return_noise:
        return y_noisy, _noise_report(codes, noisy, distribution, margin=margin, weak_proba=proba)
    return y_noisy


# --------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------
def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a non-negative number, got {alpha!r}.")
    if not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}.")
    return alpha


def add_noisy_copies(X, y, alpha, *, source="same", transition_matrix=None, classes=None, random_state=None):
    """Dilute a clean dataset with ``alpha`` noisy examples per clean one.

    The setting of Rolnick et al. (2017), "Deep learning is robust to massive
    label noise": the clean examples are kept and noisy examples are added.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
        Clean features (returned as an ndarray / sparse matrix).
    y : array-like of shape (n_samples,)
        Clean labels, any label type.
    alpha : int or float >= 0
        Noisy examples per clean example: ``round(alpha * n_samples)`` are
        added. For ``source='same'`` every row is copied ``floor(alpha)``
        times and the fractional part picks distinct rows at random, so the
        noisy rows keep the class balance.
    source : {'same', 'white_noise'} or array-like, default='same'
        Where noisy features come from: ``'same'`` copies rows of ``X``
        (mislabelled copies); ``'white_noise'`` draws Gaussian features with
        the per-feature mean and standard deviation of ``X``; an array of
        shape (m, n_features) samples rows of another dataset (with
        replacement), e.g. out-of-distribution images.
    transition_matrix : array-like of shape (n_classes, n_classes), default=None
        ``None``: noisy labels are drawn uniformly from ``classes`` (the true
        class included, as in Rolnick et al.). Given (``source='same'``
        only): the copy of a row of class ``i`` gets a label drawn from
        ``transition_matrix[i]``, e.g. ``make_transition_matrix('structured',
        C, delta)``.
    classes : array-like of shape (n_classes,), default=None
        Labels to draw from; default ``np.unique(y)``.
    random_state : int, RandomState instance or None, default=None
        Controls the copies, labels, features and the final shuffle.

    Returns
    -------
    X_aug : ndarray or sparse matrix of shape (n_samples + n_noisy, n_features)
    y_aug : ndarray of shape (n_samples + n_noisy,)
        Labels with the dtype of ``y`` where possible.
    is_clean : ndarray of shape (n_samples + n_noisy,), dtype bool
        True for the original rows. Rows are shuffled.

    Raises
    ------
    ValueError
        Negative or non-finite ``alpha``, unknown ``source``, a
        ``transition_matrix`` with ``source`` other than ``'same'`` or of the
        wrong size, sparse ``X`` with ``'white_noise'``, a source array with
        the wrong number of features, ``X``/``y`` length mismatch.
    TypeError
        Non-numeric ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.noise import add_noisy_copies
    >>> X = np.arange(8.0).reshape(4, 2)
    >>> y = np.array([0, 0, 1, 1])
    >>> X_aug, y_aug, is_clean = add_noisy_copies(X, y, 2, random_state=0)
    >>> X_aug.shape, int(is_clean.sum())
    ((12, 2), 4)
    >>> sorted(y_aug[is_clean].tolist())
    [0, 0, 1, 1]
    """
    alpha = _check_alpha(alpha)
    y_arr = _as_label_array(y)
    if isinstance(source, str):
        if source not in _SOURCES:
            raise ValueError(f"Unknown source {source!r}; use one of {_SOURCES} or an array of features.")
        src_array = None
    else:
        src_array = check_array(source, accept_sparse=("csr", "csc"), dtype=None, input_name="source")
        source = "array"
    X = check_array(
        X,
        accept_sparse=("csr", "csc"),
        dtype=None if source == "same" else "numeric",
        ensure_all_finite="allow-nan" if source == "same" else True,
    )
    n = X.shape[0]
    if y_arr.shape[0] != n:
        raise ValueError(f"X has {n} samples but y has {y_arr.shape[0]} labels.")
    classes = _check_classes(classes, y_arr)
    codes = _encode(y_arr, classes)
    C = classes.size
    if transition_matrix is not None:
        if source != "same":
            raise ValueError(
                "transition_matrix needs the clean label of each noisy row, so it only works with source='same'."
            )
        transition_matrix = check_transition_matrix(transition_matrix, C, name="transition_matrix")
    if src_array is not None and src_array.shape[1] != X.shape[1]:
        raise ValueError(f"source has {src_array.shape[1]} features but X has {X.shape[1]}.")
    if source == "white_noise" and hasattr(X, "toarray"):
        raise ValueError("source='white_noise' needs a dense X.")

    rng = check_random_state(random_state)
    m = int(round(alpha * n))
    if source == "same":
        whole = int(math.floor(alpha))
        rows = np.concatenate(
            [np.tile(np.arange(n), whole), rng.choice(n, size=m - whole * n, replace=False)]
        ).astype(np.intp)
        X_noisy = X[rows]
        if transition_matrix is None:
            noisy_codes = rng.randint(0, C, size=m)
        else:
            noisy_codes = _encode(
                corrupt_labels(codes[rows], transition_matrix, classes=np.arange(C), random_state=rng),
                np.arange(C),
            )
    else:
        if source == "white_noise":
            Xf = np.asarray(X, dtype=np.float64)
            mean, std = Xf.mean(axis=0), Xf.std(axis=0)
            X_noisy = rng.normal(size=(m, X.shape[1])) * std + mean
        else:
            X_noisy = src_array[rng.randint(0, src_array.shape[0], size=m)]
        noisy_codes = rng.randint(0, C, size=m)

    if hasattr(X, "toarray") or hasattr(X_noisy, "toarray"):
        import scipy.sparse as sp

        X_aug = sp.vstack([X, X_noisy], format="csr")
    else:
        X_aug = np.concatenate([X, X_noisy], axis=0)
    codes_aug = np.concatenate([codes, noisy_codes]).astype(np.intp)
    is_clean = np.concatenate([np.ones(n, dtype=bool), np.zeros(m, dtype=bool)])
    perm = rng.permutation(n + m)
    return X_aug[perm], _decode(codes_aug[perm], classes, y_arr), is_clean[perm]


def make_noisy_classification(
    n_samples=1000,
    n_features=20,
    n_classes=3,
    *,
    noise="symmetric",
    rate=0.2,
    exact=False,
    random_state=None,
    **make_classification_kwargs,
):
    """A synthetic classification problem with known clean labels and noise.

    Wraps :func:`sklearn.datasets.make_classification` (with ``flip_y=0`` by
    default, so ``y_clean`` really is clean) and corrupts its labels with
    :func:`corrupt_labels`.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        As in :func:`sklearn.datasets.make_classification`.
    noise : str or array-like of shape (n_classes, n_classes), default='symmetric'
        A kind of :func:`make_transition_matrix` or a transition matrix.
    rate : float in [0, 1], default=0.2
        Noise rate (``delta`` for ``'structured'``); ignored when ``noise`` is
        a matrix.
    exact : bool, default=False
        Exact per-class flip counts instead of independent draws.
    random_state : int, RandomState instance or None, default=None
        Controls the data, the transition matrix and the corruption.
    **make_classification_kwargs
        Passed on. Unless given, ``n_informative`` is
        ``ceil(log2(n_classes * n_clusters_per_class)) + 1`` (the least
        sklearn allows, plus one), capped by ``n_features``, and
        ``n_redundant`` is at most 2 and fits in the remaining features.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y_noisy : ndarray of shape (n_samples,)
    y_clean : ndarray of shape (n_samples,)
    T : ndarray of shape (n_classes, n_classes)
        The transition matrix used.

    Examples
    --------
    >>> from sknoisy.noise import make_noisy_classification
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, 5, 3, rate=0.3, exact=True, random_state=0)
    >>> X.shape, T.shape
    ((300, 5), (3, 3))
    >>> round(float((y_noisy != y_clean).mean()), 2)
    0.3
    """
    if make_classification_kwargs.get("return_X_y", True) is not True:
        raise ValueError("make_noisy_classification always returns arrays; do not pass return_X_y=False.")
    make_classification_kwargs.pop("return_X_y", None)
    C = _check_n_classes(n_classes)
    kw = dict(make_classification_kwargs)
    kw.setdefault("flip_y", 0.0)
    clusters = kw.get("n_clusters_per_class", 2)
    n_repeated = kw.get("n_repeated", 0)
    if "n_informative" not in kw:
        needed = max(1, math.ceil(math.log2(C * clusters)))
        kw["n_informative"] = max(needed, min(needed + 1, n_features - n_repeated))
    if "n_redundant" not in kw:
        kw["n_redundant"] = max(0, min(2, n_features - kw["n_informative"] - n_repeated))

    informative_needed = max(1, math.ceil(math.log2(C * clusters)))
    if kw["n_informative"] < informative_needed or kw["n_informative"] + kw["n_redundant"] + n_repeated > n_features:
        raise ValueError(
            f"n_features={n_features} is too few for n_classes={C} with n_clusters_per_class={clusters}: "
            f"make_classification needs n_classes * n_clusters_per_class <= 2 ** n_informative, so at least "
            f"{informative_needed} informative features (n_informative + n_redundant + n_repeated = "
            f"{kw['n_informative']} + {kw['n_redundant']} + {n_repeated} must also fit in n_features). "
            "Raise n_features, or lower n_classes or n_clusters_per_class."
        )
    rng = check_random_state(random_state)
    X, y_clean = make_classification(
        n_samples=n_samples, n_features=n_features, n_classes=C, random_state=rng, **kw
    )
    if isinstance(noise, str):
        T = make_transition_matrix(noise, C, rate, random_state=rng)
    else:
        T = check_transition_matrix(noise, C, name="noise")
    y_noisy = corrupt_labels(y_clean, T, classes=np.arange(C), random_state=rng, exact=exact)
    return X, y_noisy, y_clean, T
