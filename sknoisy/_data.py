"""How training data reaches a sknoisy net: target tables, lazy inputs, batches.

Arrays go to skorch as ``(X, target table)``. A torch Dataset given as X
(data larger than memory) is never materialised: it is paired with the
target table row by row (:class:`TableDataset`) to train, or with a dummy
target (:class:`InputsDataset`) to predict. :func:`stack_collate` builds the
mini-batches of numpy rows.
"""

import numbers

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, default_collate

from ._targets import make_target_table
from .utils._validation import is_lazy_dataset

__all__ = [
    "TableDataset",
    "InputsDataset",
    "as_training_data",
    "as_prediction_data",
    "inputs_and_table",
    "sample_shape",
    "stack_collate",
]


class TableDataset(Dataset):
    """Pairs a user's Dataset of inputs with the rows of the target table."""

    def __init__(self, inputs, table):
        self.inputs = inputs
        self.table = table

    def __len__(self):
        return len(self.table)

    def __getitem__(self, i):
        return self.inputs[i], self.table[i]


class InputsDataset(Dataset):
    """A Dataset of inputs only, given the dummy target skorch's batches expect."""

    def __init__(self, inputs):
        self.inputs = inputs

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return self.inputs[i], 0


def as_training_data(X, y_enc, mask, weight=None):
    """``(X, y)`` to hand skorch: the target table travels as ``y``, or inside X when X is lazy.

    ``weight`` (per-row weights, or None) becomes the table's weight column.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy._data import as_training_data
    >>> X, table = as_training_data(np.zeros((2, 3)), [1, 0], [True, False])
    >>> table
    array([[1, 1, 0],
           [0, 0, 1]])
    """
    table = make_target_table(y_enc, mask, weight)
    if is_lazy_dataset(X):
        return TableDataset(X, table), None
    return X, table


def as_prediction_data(X):
    """A lazy X as the (input, dummy target) pairs skorch's predict loop reads; others as they are."""
    if is_lazy_dataset(X) and not _yields_pairs(X):
        return InputsDataset(X)
    return X


def inputs_and_table(X, y):
    """The inputs and the target table of what skorch was given, lazy or not."""
    if isinstance(X, TableDataset):
        return X.inputs, X.table
    return X, y


def _yields_pairs(dataset):
    """Whether ``dataset`` is (a Subset of) one of our (input, target) wrappers."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, (TableDataset, InputsDataset))


def sample_shape(dataset):
    """Shape of one input of a lazy X, read from its first item only."""
    item = dataset[0]
    if isinstance(item, (tuple, list)):
        raise ValueError(
            "A Dataset passed as X must yield inputs only, not (input, target) pairs; pass the labels "
            "as y (e.g. X = skorch.helper.SliceDataset(dataset, idx=0), y = labels)."
        )
    return tuple(np.shape(item))


def stack_collate(batch):
    """Collate (input, target) rows of numpy arrays with one ``np.stack`` each.

    torch's default collate converts every row to a tensor first, which made
    small networks about 25% slower per epoch than plain skorch once the
    target table doubled the number of arrays per row. Anything that is not
    a pair of numpy arrays or numbers goes to the default collate.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy._data import stack_collate
    >>> Xb, yb = stack_collate([(np.zeros(3, np.float32), np.array([1, 0])),
    ...                         (np.ones(3, np.float32), np.array([2, 1]))])
    >>> tuple(Xb.shape), yb.tolist()
    ((2, 3), [[1, 0], [2, 1]])
    """
    first = batch[0]
    if isinstance(first, (tuple, list)) and len(first) == 2 and isinstance(first[0], np.ndarray):
        Xb = torch.from_numpy(np.stack([row[0] for row in batch]))
        targets = [row[1] for row in batch]
        if isinstance(first[1], (np.ndarray, np.generic, numbers.Number)):
            return Xb, torch.from_numpy(np.asarray(np.stack(targets)))
        return Xb, default_collate(targets)
    return default_collate(batch)
