"""Selecting rows of any X sknoisy accepts, without copying data larger than memory."""

import numpy as np

from ._validation import is_lazy_dataset

__all__ = ["n_rows", "take_rows"]


def n_rows(X):
    """Number of rows of an array, memmap, DataFrame or torch Dataset."""
    if is_lazy_dataset(X):
        return len(X)
    shape = getattr(X, "shape", None)
    return shape[0] if shape is not None else len(X)


def take_rows(X, idx):
    """Rows ``idx`` (integer indices or a boolean mask) of ``X``.

    * a torch Dataset gives a ``Subset`` view and a skorch ``SliceDataset``
      its own sliced view: items are read only when a batch needs them;
    * a ``numpy.memmap`` gives a Subset view too, so a fold of data larger
      than memory is never copied (fancy indexing a memmap reads every row);
    * a DataFrame is indexed by position; anything else by numpy indexing.
    """
    idx = np.asarray(idx)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    if is_lazy_dataset(X):
        from skorch.helper import SliceDataset
        from torch.utils.data import Subset

        return X[idx] if isinstance(X, SliceDataset) else Subset(X, idx)
    if isinstance(X, np.memmap):
        from torch.utils.data import Subset

        return Subset(X, idx)
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    return X[idx]
