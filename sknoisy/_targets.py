"""The target table: encoded labels, the trusted flag and optional row weights, batched together.

skorch batches ``y`` but not fit parameters, so every sknoisy net trains on a
*target table*: column :data:`LABEL` holds the encoded (possibly noisy)
label, column :data:`TRUSTED` the trusted flag (1 = the label is known to be
clean) and, only when ``fit`` got non-uniform ``sample_weight``, column
:data:`WEIGHT` the row's weight. Without weights the table is ``int64`` with
two columns; with them it is ``float32`` with three (labels up to 2**24 are
exact in float32). This module is the only place that knows the layout: make
a table with :func:`make_target_table`, read one (numpy or torch, a whole
table or a batch of it) with :func:`split_target_table`,
:func:`target_labels` and :func:`target_weights`.
"""

import numpy as np

__all__ = [
    "LABEL",
    "TRUSTED",
    "WEIGHT",
    "make_target_table",
    "split_target_table",
    "target_labels",
    "target_weights",
]

#: Column of the target table holding the encoded (possibly noisy) label.
LABEL = 0
#: Column of the target table holding the trusted flag (1 = clean row).
TRUSTED = 1
#: Column of the target table holding the row's weight (only in weighted tables).
WEIGHT = 2

# float32 represents every integer up to 2**24 exactly.
_MAX_WEIGHTED_LABEL = 2**24


def make_target_table(y_enc, mask, weight=None):
    """The target table of encoded labels, trusted flags and, optionally, row weights.

    Parameters
    ----------
    y_enc : array-like of int of shape (n_samples,)
    mask : array-like of bool of shape (n_samples,)
    weight : array-like of float of shape (n_samples,) or None, default=None

    Returns
    -------
    table : ndarray of shape (n_samples, 2), int64, or (n_samples, 3), float32 with ``weight``

    Examples
    --------
    >>> from sknoisy._targets import make_target_table, split_target_table, target_weights
    >>> make_target_table([2, 0], [True, False])
    array([[2, 1],
           [0, 0]])
    >>> table = make_target_table([2, 0], [True, False], weight=[0.5, 1.5])
    >>> labels, trusted = split_target_table(table)
    >>> labels, trusted, target_weights(table)
    (array([2, 0]), array([ True, False]), array([0.5, 1.5], dtype=float32))
    """
    y_enc = np.asarray(y_enc, dtype=np.int64)
    if weight is None:
        return np.column_stack([y_enc, np.asarray(mask, dtype=np.int64)])
    if y_enc.size and y_enc.max() >= _MAX_WEIGHTED_LABEL:
        raise ValueError(f"sample_weight supports at most {_MAX_WEIGHTED_LABEL} classes.")
    return np.column_stack([y_enc, np.asarray(mask), np.asarray(weight, dtype=np.float64)]).astype(np.float32)


def _as_int64(labels):
    """Labels read from a float (weighted) table, as int64; others as they are."""
    if hasattr(labels, "is_floating_point"):  # torch
        return labels.long() if labels.is_floating_point() else labels
    return labels.astype(np.int64) if labels.dtype.kind == "f" else labels


def split_target_table(table):
    """``(labels, trusted)`` of a table or batch: labels as int64 (or as given), trusted as bool.

    Works on numpy arrays and torch tensors alike; a 1-d input is taken as
    labels alone (nothing trusted), which is what a user-built skorch split or
    scorer may hand back.
    """
    if table.ndim == 1:
        return table, table != table
    return _as_int64(table[:, LABEL]), table[:, TRUSTED] == 1


def target_labels(table):
    """The label column of a table (or the labels themselves when 1-d)."""
    return table if table.ndim == 1 else _as_int64(table[:, LABEL])


def target_weights(table):
    """The weight column of a weighted table, or None (no weights: every row counts alike).

    The weights have mean 1 over the rows ``fit`` was given, so a weighted
    mean of per-row losses is ``(weight * losses).mean()`` on any batch.
    """
    if table.ndim == 1 or table.shape[1] <= WEIGHT:
        return None
    return table[:, WEIGHT]
