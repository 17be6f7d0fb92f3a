"""The target table: encoded labels, the trusted flag, the row's identity and optional weights, batched together.

skorch batches ``y`` but not fit parameters, so every sknoisy net trains on a
*target table*, one row per training row:

* column :data:`LABEL`: the encoded (possibly noisy) label;
* column :data:`TRUSTED`: the trusted flag (1 = the label is known to be clean);
* column :data:`ROW`: the row's position in the data ``fit`` was given
  (0 to n_samples - 1). A batch's rows say which training rows they are, so
  a method that keeps state per training row (running targets, per-row
  weights or losses) indexes a tensor of length n_samples with it, whatever
  the shuffling and whatever rows skorch's ``train_split`` held out;
* column :data:`WEIGHT`, only when ``fit`` got non-uniform
  ``sample_weight``: the row's weight.

Without weights the table is ``int64`` with three columns; with them it is
``float64`` with four (integers up to 2**53, far beyond any row count, are
exact in float64). This module is the only place that knows the layout: make
a table with :func:`make_target_table`, read one (numpy or torch, a whole
table or a batch of it) with :func:`split_target_table`,
:func:`target_labels`, :func:`target_rows` and :func:`target_weights`.
"""

import zlib

import numpy as np

__all__ = [
    "LABEL",
    "TRUSTED",
    "ROW",
    "WEIGHT",
    "make_target_table",
    "split_target_table",
    "target_labels",
    "target_rows",
    "target_weights",
    "rows_fingerprint",
]

#: Column of the target table holding the encoded (possibly noisy) label.
LABEL = 0
#: Column of the target table holding the trusted flag (1 = clean row).
TRUSTED = 1
#: Column of the target table holding the row's position in the training data.
ROW = 2
#: Column of the target table holding the row's weight (only in weighted tables).
WEIGHT = 3


def make_target_table(y_enc, mask, weight=None):
    """The target table of encoded labels, trusted flags, row positions and, optionally, row weights.

    Parameters
    ----------
    y_enc : array-like of int of shape (n_samples,)
    mask : array-like of bool of shape (n_samples,)
    weight : array-like of float of shape (n_samples,) or None, default=None

    Returns
    -------
    table : ndarray of shape (n_samples, 3), int64, or (n_samples, 4), float64 with ``weight``

    Examples
    --------
    >>> from sknoisy._targets import make_target_table, split_target_table, target_rows, target_weights
    >>> make_target_table([2, 0], [True, False])
    array([[2, 1, 0],
           [0, 0, 1]])
    >>> table = make_target_table([2, 0], [True, False], weight=[0.5, 1.5])
    >>> labels, trusted = split_target_table(table)
    >>> labels, trusted, target_rows(table), target_weights(table)
    (array([2, 0]), array([ True, False]), array([0, 1]), array([0.5, 1.5], dtype=float32))
    """
    y_enc = np.asarray(y_enc, dtype=np.int64)
    rows = np.arange(y_enc.shape[0], dtype=np.int64)
    if weight is None:
        return np.column_stack([y_enc, np.asarray(mask, dtype=np.int64), rows])
    return np.column_stack([y_enc, np.asarray(mask), rows, np.asarray(weight, dtype=np.float64)]).astype(np.float64)


def _as_int64(column):
    """A column read from a float (weighted) table, as int64; others as they are."""
    if hasattr(column, "is_floating_point"):  # torch
        return column.long() if column.is_floating_point() else column
    return column.astype(np.int64) if column.dtype.kind == "f" else column


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


def target_rows(table):
    """The rows' positions in the training data (int64), or None for labels alone (a 1-d input).

    Index per-row state of length n_samples with them: they are the same
    for a row in every epoch and every batch it lands in.
    """
    return None if table.ndim == 1 else _as_int64(table[:, ROW])


def target_weights(table):
    """The weight column (float32) of a weighted table, or None (no weights: every row counts alike).

    The weights have mean 1 over the rows ``fit`` was given, so a weighted
    mean of per-row losses is ``(weight * losses).mean()`` on any batch.
    """
    if table.ndim == 1 or table.shape[1] <= WEIGHT:
        return None
    column = table[:, WEIGHT]
    return column.float() if hasattr(column, "is_floating_point") else column.astype(np.float32)


def rows_fingerprint(y_enc):
    """A cheap identity of a call's training rows (their count and labels' checksum).

    Per-row training state (running targets, recorded losses) is indexed by
    the rows' positions in the data of one call: a later ``partial_fit``
    continues it only when its rows have the same fingerprint, i.e. are
    (as far as the labels tell) the same rows.
    """
    return len(y_enc), zlib.crc32(np.ascontiguousarray(y_enc, dtype=np.int64).tobytes())
