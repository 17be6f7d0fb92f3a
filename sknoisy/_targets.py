"""The target table: encoded labels and the trusted flag, batched together.

skorch batches ``y`` but not fit parameters, so every sknoisy net trains on a
two-column integer *target table*: column :data:`LABEL` holds the encoded
(possibly noisy) label, column :data:`TRUSTED` the trusted flag (1 = the label
is known to be clean). This module is the only place that knows the layout:
make a table with :func:`make_target_table`, read one (numpy or torch, a whole
table or a batch of it) with :func:`split_target_table`.
"""

import numpy as np

__all__ = ["LABEL", "TRUSTED", "make_target_table", "split_target_table", "target_labels"]

#: Column of the target table holding the encoded (possibly noisy) label.
LABEL = 0
#: Column of the target table holding the trusted flag (1 = clean row).
TRUSTED = 1


def make_target_table(y_enc, mask):
    """The ``(n_samples, 2)`` int64 table of encoded labels and trusted flags."""
    return np.column_stack([np.asarray(y_enc, dtype=np.int64), np.asarray(mask, dtype=np.int64)])


def split_target_table(table):
    """``(labels, trusted)`` of a table or batch: labels as given, trusted as bool.

    Works on numpy arrays and torch tensors alike; a 1-d input is taken as
    labels alone (nothing trusted), which is what a user-built skorch split or
    scorer may hand back.
    """
    if table.ndim == 1:
        return table, table != table
    return table[:, LABEL], table[:, TRUSTED] == 1


def target_labels(table):
    """The label column of a table (or the labels themselves when 1-d)."""
    return table if table.ndim == 1 else table[:, LABEL]
