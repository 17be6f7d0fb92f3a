"""Figures for label-noise experiments: transition matrices and accuracy curves.

matplotlib is optional (``pip install 'sknoisy[plot]'``) and imported only when
a function here is called. Every function draws on the ``ax``/``axes`` it is
given, or on a new pyplot figure, and returns what it drew on.

Convention: ``T[i, j] = p(noisy = j | clean = i)``, so in the heat maps the
rows are the clean classes and the columns the noisy ones.
"""

import numbers

import numpy as np

from .transition import transition_matrix_error
from .utils._validation import check_transition_matrix

__all__ = [
    "plot_transition_matrix",
    "plot_transition_matrices",
    "plot_accuracy_vs_noise",
    "plot_accuracy_bars",
]

_MAX_ANNOTATED = 20
_MAX_TICKED = 30


def _pyplot(caller):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs the optional package matplotlib: pip install 'sknoisy[plot]'"
        ) from exc
    return plt


def _figure_side(n_classes, largest):
    # Inches per side of a square heat map: room for every class, capped.
    return min(3.0 + 0.45 * n_classes, largest)


def _set_xticklabels(ax, labels, *, rotate, angle):
    # Long labels are slanted and anchored at their end so that they meet their tick.
    ax.set_xticklabels(
        labels, rotation=angle if rotate else 0, ha="right" if rotate else "center", rotation_mode="anchor"
    )


def _check_classes(classes, n_classes):
    if classes is None:
        return [str(i) for i in range(n_classes)]
    if isinstance(classes, str) or not hasattr(classes, "__len__"):
        raise TypeError(f"classes must be a sequence of {n_classes} labels, got {classes!r}.")
    if len(classes) != n_classes:
        raise ValueError(
            f"classes has {len(classes)} labels but the transition matrix has {n_classes} classes."
        )
    return [str(c) for c in classes]


# --------------------------------------------------------------------------
# transition matrices
# --------------------------------------------------------------------------
def plot_transition_matrix(
    T,
    *,
    classes=None,
    ax=None,
    title=None,
    annotate=True,
    cmap="Blues",
    vmin=0,
    vmax=1,
    colorbar=True,
):
    """Draw a transition matrix as a heat map.

    Rows are the clean classes and columns the noisy classes, so row ``i``
    shows where the labels of clean class ``i`` go.

    Parameters
    ----------
    T : array-like of shape (n_classes, n_classes)
        Row-stochastic matrix, ``T[i, j] = p(noisy = j | clean = i)``.
    classes : sequence of length n_classes, default=None
        Tick labels; ``0 .. n_classes - 1`` when None.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        The axes title.
    annotate : bool, default=True
        Write each probability in its cell (only for at most 20 classes,
        beyond which the numbers cannot be read).
    cmap : str or Colormap, default="Blues"
        The colour map.
    vmin, vmax : float, default=0, 1
        The range of the colour map; the default keeps colours comparable
        between matrices.
    colorbar : bool, default=True
        Add a colour bar next to the axes.

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ValueError
        If ``T`` is not a square row-stochastic matrix or ``classes`` has the
        wrong length.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sknoisy.plotting import plot_transition_matrix
    >>> ax = plot_transition_matrix([[0.8, 0.2], [0.1, 0.9]], classes=["cat", "dog"])
    >>> ax.get_ylabel(), ax.get_xlabel()
    ('clean class', 'noisy class')
    >>> [t.get_text() for t in ax.texts]
    ['0.80', '0.20', '0.10', '0.90']
    >>> plt.close("all")
    """
    plt = _pyplot("plot_transition_matrix")
    T = check_transition_matrix(T, name="T")
    n_classes = T.shape[0]
    labels = _check_classes(classes, n_classes)
    if ax is None:
        side = _figure_side(n_classes, 12.0)
        _, ax = plt.subplots(figsize=(side + (1.0 if colorbar else 0.0), side), layout="constrained")

    image = ax.imshow(T, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xlabel("noisy class")
    ax.set_ylabel("clean class")
    if title is not None:
        ax.set_title(title)
    if n_classes <= _MAX_TICKED:
        ticks = np.arange(n_classes)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        _set_xticklabels(ax, labels, rotate=max(map(len, labels)) > 3, angle=45)
        ax.set_yticklabels(labels)
    if annotate and n_classes <= _MAX_ANNOTATED:
        fontsize = 10 if n_classes <= 10 else 7
        # White text on the dark half of the colour map keeps every number readable.
        midpoint = image.norm.vmin + 0.5 * (image.norm.vmax - image.norm.vmin)
        for i in range(n_classes):
            for j in range(n_classes):
                ax.text(
                    j,
                    i,
                    f"{T[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color="white" if T[i, j] > midpoint else "black",
                )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_transition_matrices(
    T_true, T_est, *, classes=None, titles=("true T", "estimated T"), axes=None
):
    """Draw a true and an estimated transition matrix side by side.

    The second title reports the estimation error,
    ``mean_i sum_j |T_est[i, j] - T_true[i, j]|``
    (:func:`sknoisy.transition.transition_matrix_error`).

    Parameters
    ----------
    T_true, T_est : array-like of shape (n_classes, n_classes)
        Row-stochastic matrices, ``T[i, j] = p(noisy = j | clean = i)``.
    classes : sequence of length n_classes, default=None
        Tick labels; ``0 .. n_classes - 1`` when None.
    titles : pair of str, default=("true T", "estimated T")
        The two titles; the error is appended to the second.
    axes : sequence of two matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    fig : matplotlib Figure

    Raises
    ------
    ValueError
        If a matrix is not square and row-stochastic, the two differ in size,
        or ``titles``/``axes`` do not have two entries.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sknoisy.plotting import plot_transition_matrices
    >>> fig = plot_transition_matrices([[0.8, 0.2], [0.1, 0.9]], [[0.7, 0.3], [0.1, 0.9]])
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['true T', 'estimated T\\n(mean row L1 error 0.100)']
    >>> plt.close("all")
    """
    plt = _pyplot("plot_transition_matrices")
    T_true = check_transition_matrix(T_true, name="T_true")
    n_classes = T_true.shape[0]
    T_est = check_transition_matrix(T_est, n_classes=n_classes, name="T_est")
    if isinstance(titles, str) or len(titles) != 2:
        raise ValueError(f"titles must be a pair of strings, got {titles!r}.")
    if axes is None:
        side = _figure_side(n_classes, 10.0)
        fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side), layout="constrained")
    else:
        axes = list(np.ravel(axes))
        if len(axes) != 2:
            raise ValueError(f"axes must hold exactly two Axes, got {len(axes)}.")
        fig = axes[0].figure
    error = transition_matrix_error(T_est, T_true)
    plot_transition_matrix(T_true, classes=classes, ax=axes[0], title=titles[0], colorbar=False)
    plot_transition_matrix(
        T_est,
        classes=classes,
        ax=axes[1],
        title=f"{titles[1]}\n(mean row L1 error {error:.3f})",
        colorbar=False,
    )
    fig.colorbar(axes[1].images[-1], ax=list(axes), fraction=0.046, pad=0.04)
    return fig


# --------------------------------------------------------------------------
# accuracy summaries
# --------------------------------------------------------------------------
def _records(results, keys):
    """Turn a DataFrame or a sequence of dicts into a list of dicts holding ``keys``."""
    if hasattr(results, "to_dict") and hasattr(results, "columns"):
        records = results.to_dict("records")
    elif isinstance(results, (list, tuple)):
        records = list(results)
        bad = next((r for r in records if not isinstance(r, dict)), None)
        if bad is not None:
            raise TypeError(f"results must be a pandas DataFrame or a list of dicts; found a {type(bad).__name__}.")
    else:
        raise TypeError(f"results must be a pandas DataFrame or a list of dicts, got {type(results).__name__}.")
    if not records:
        raise ValueError("results is empty; there is nothing to plot.")
    for key in keys:
        if key is not None and any(key not in r for r in records):
            available = sorted({k for r in records for k in r}, key=str)
            raise ValueError(f"results has no column {key!r}; available columns: {available}.")
    return records


def _numeric(records, key):
    values = [r[key] for r in records]
    if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) for v in values):
        raise ValueError(f"column {key!r} must hold numbers.")
    return np.asarray(values, dtype=np.float64)


def _mean_std(values):
    # Sample std over seeds; one run has no spread, so its bar is 0, not NaN.
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), (values.std(ddof=1) if values.size > 1 else 0.0)


def _unique_in_order(values):
    seen = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def _object_array(values):
    # An object array compares element-wise with ==, whatever the labels are
    # (strings, numbers, tuples), where np.asarray could build a 2-D array.
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _mean_std_by(keys, values, order):
    """Mean and std of ``values`` for each key of ``order``: an array of shape (len(order), 2)."""
    return np.array([_mean_std(values[keys == key]) for key in order])


def plot_accuracy_vs_noise(results, *, x="rate", y="accuracy", hue="method", ax=None, errorbars=True):
    """Plot accuracy against noise level, one line per method.

    Several rows with the same ``(hue, x)`` (e.g. one per seed) are averaged;
    the error bars show their standard deviation.

    Parameters
    ----------
    results : pandas DataFrame or list of dict
        One row per run, with columns ``x``, ``y`` and ``hue``.
    x : str, default="rate"
        The column on the horizontal axis (numbers).
    y : str, default="accuracy"
        The column on the vertical axis (numbers).
    hue : str or None, default="method"
        The column that splits runs into lines, in order of first appearance;
        None draws a single line.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    errorbars : bool, default=True
        Draw +/- one standard deviation (sample std, ``ddof=1``; 0 for a
        single run).

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ValueError
        If ``results`` is empty, a column is missing, or ``x``/``y`` hold
        anything but numbers.
    TypeError
        If ``results`` is neither a DataFrame nor a list of dicts.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sknoisy.plotting import plot_accuracy_vs_noise
    >>> results = [
    ...     {"method": "ce", "rate": 0.0, "accuracy": 0.95},
    ...     {"method": "ce", "rate": 0.4, "accuracy": 0.70},
    ...     {"method": "forward", "rate": 0.0, "accuracy": 0.95},
    ...     {"method": "forward", "rate": 0.4, "accuracy": 0.85},
    ... ]
    >>> ax = plot_accuracy_vs_noise(results)
    >>> ax.get_xlabel(), ax.get_ylabel(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('rate', 'accuracy', ['ce', 'forward'])
    >>> plt.close("all")
    """
    plt = _pyplot("plot_accuracy_vs_noise")
    records = _records(results, (x, y, hue))
    xs, ys = _numeric(records, x), _numeric(records, y)
    groups = ["all"] * len(records) if hue is None else [r[hue] for r in records]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")

    groups = _object_array(groups)
    for group in _unique_in_order(groups):
        in_group = groups == group
        levels = np.unique(xs[in_group])
        stats = _mean_std_by(xs[in_group], ys[in_group], levels)
        label = None if hue is None else str(group)
        if errorbars:
            ax.errorbar(levels, stats[:, 0], yerr=stats[:, 1], marker="o", capsize=3, label=label)
        else:
            ax.plot(levels, stats[:, 0], marker="o", label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, alpha=0.3)
    if hue is not None:
        ax.legend(title=hue)
    return ax


def plot_accuracy_bars(results, *, method="method", y="accuracy", ax=None):
    """Bar chart of the mean accuracy of each method, with standard deviations.

    Parameters
    ----------
    results : pandas DataFrame or list of dict
        One row per run, with columns ``method`` and ``y``.
    method : str, default="method"
        The column naming the method; bars follow its order of first appearance.
    y : str, default="accuracy"
        The column to average (numbers).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    ValueError
        If ``results`` is empty, a column is missing, or ``y`` holds anything
        but numbers.
    TypeError
        If ``results`` is neither a DataFrame nor a list of dicts.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sknoisy.plotting import plot_accuracy_bars
    >>> results = [
    ...     {"method": "ce", "accuracy": 0.70},
    ...     {"method": "ce", "accuracy": 0.72},
    ...     {"method": "forward", "accuracy": 0.85},
    ... ]
    >>> ax = plot_accuracy_bars(results)
    >>> [t.get_text() for t in ax.get_xticklabels()], ax.get_ylabel()
    (['ce', 'forward'], 'accuracy')
    >>> plt.close("all")
    """
    plt = _pyplot("plot_accuracy_bars")
    records = _records(results, (method, y))
    ys = _numeric(records, y)
    names = _object_array([r[method] for r in records])
    order = _unique_in_order(names)
    stats = _mean_std_by(names, ys, order)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 1.0 + 0.9 * len(order)), 4), layout="constrained")
    positions = np.arange(len(order))
    bars = ax.bar(positions, stats[:, 0], yerr=stats[:, 1], capsize=4, color="C0", alpha=0.8)
    ax.bar_label(bars, labels=[f"{m:.3f}" for m in stats[:, 0]], label_type="center", color="white", fontsize=8)
    ax.set_xticks(positions)
    labels = [str(name) for name in order]
    _set_xticklabels(ax, labels, rotate=sum(map(len, labels)) > 40, angle=30)
    ax.set_xlabel(method)
    ax.set_ylabel(y)
    ax.margins(y=0.15)
    ax.grid(True, axis="y", alpha=0.3)
    return ax
