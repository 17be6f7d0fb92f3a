"""How training data reaches a sknoisy net: target tables, lazy inputs, batches.

Arrays go to skorch as ``(X, target table)``. A torch Dataset given as X
(data larger than memory) is never materialised: it is paired with the
target table row by row (:class:`TableDataset`) to train, or with a dummy
target (:class:`InputsDataset`) to predict. In-memory arrays are batched by
:func:`tensor_batches` (whole-tensor indexing, no per-row work);
:func:`stack_collate` builds the mini-batches of numpy rows when the
DataLoader is used instead.
"""

import math
import mmap
import numbers
import warnings

import numpy as np
import torch
from skorch.dataset import Dataset as SkorchDataset
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
    "TensorBatches",
    "tensor_batches",
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


#: DataLoader options the tensor batches honour; any other one (a sampler,
#: workers, pinned memory, a user's collate_fn...) keeps the DataLoader.
_TENSOR_BATCH_OPTIONS = {"batch_size", "shuffle", "drop_last", "generator", "collate_fn"}


class TensorBatches:
    """Mini-batches of in-memory tensors, each taken by one indexing per tensor.

    Iterated like the ``DataLoader`` it replaces (the same batches, in the
    same order: each epoch draws from ``generator`` exactly what the
    DataLoader and its ``RandomSampler`` draw, so a seed gives the same model
    as before), but with no per-row Python work: a batch is
    ``tensor[order[i:i + batch_size]]`` (or a slice, unshuffled). Batches are
    fresh tensors, as a DataLoader's are, so a callback that changes one in
    place never changes the training data.

    Parameters
    ----------
    tensors : tuple of torch.Tensor or None
        The columns of the data (inputs, targets), whole; None stands for
        skorch's placeholder target of unlabelled data (a zero per row).
    rows : torch.Tensor of int64 or None
        The rows of ``tensors`` that form the data set (a train/valid split),
        or None for all of them.
    batch_size, shuffle, drop_last, generator
        As for ``torch.utils.data.DataLoader``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy._data import TensorBatches
    >>> batches = TensorBatches((torch.arange(5.0), torch.arange(5)), None, batch_size=2)
    >>> len(batches), [yb.tolist() for _, yb in batches]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, tensors, rows, batch_size, shuffle=False, drop_last=False, generator=None):
        self.tensors = tensors
        self.rows = rows
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.n_rows = len(rows) if rows is not None else len(next(t for t in tensors if t is not None))

    def __len__(self):
        if self.drop_last:
            return self.n_rows // self.batch_size
        return math.ceil(self.n_rows / self.batch_size)

    def _order(self):
        """The rows of this epoch in batch order, or None for all rows in stored order."""
        # The draws of a DataLoader's epoch, in its order, so that a seed gives
        # the batches (and the later random numbers) it gave: its iterator's
        # base seed for workers first...
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        if not self.shuffle:
            return self.rows
        generator = self.generator
        if generator is None:  # as RandomSampler: a seed drawn from the global RNG
            generator = torch.Generator()
            generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        # ...then RandomSampler's permutation, and a second one for the
        # (empty) remainder of its sample count.
        order = torch.randperm(self.n_rows, generator=generator)
        torch.randperm(self.n_rows, generator=generator)
        return order if self.rows is None else self.rows[order]

    def __iter__(self):
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else self.n_rows
        placeholder = None
        for start in range(0, stop, self.batch_size):
            size = min(self.batch_size, stop - start)
            if order is None:
                batch = [None if t is None else t[start:start + size].clone() for t in self.tensors]
            else:
                idx = order[start:start + size]
                batch = [None if t is None else t[idx] for t in self.tensors]
            if any(part is None for part in batch):
                if placeholder is None or len(placeholder) != size:
                    placeholder = torch.zeros(size, 1)
                batch = [placeholder if part is None else part for part in batch]
            yield tuple(batch)


def _as_tensor(data):
    """An in-memory numpy array or tensor as a tensor sharing its memory; None for anything else."""
    if data is None or isinstance(data, torch.Tensor):
        return data
    # exact type: a memmap (data larger than memory), or a view of one as
    # validate_data hands it over, keeps the DataLoader, which reads only the
    # rows of each batch
    if type(data) is not np.ndarray or data.ndim == 0 or any(s < 0 for s in data.strides) or _maps_a_file(data):
        return None
    try:
        with warnings.catch_warnings():
            # batches are copies: the (read-only) array itself is never written
            warnings.filterwarnings("ignore", message=".*not writable.*", category=UserWarning)
            return torch.from_numpy(data)
    except TypeError:  # object or other dtypes torch has no tensor for
        return None


def _maps_a_file(array):
    """Whether ``array`` is (a view of) a memory-mapped file."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


def tensor_batches(dataset, **loader_kwargs):
    """:class:`TensorBatches` for a skorch Dataset of in-memory arrays, else None (use the DataLoader).

    ``dataset`` is a ``skorch.dataset.Dataset`` (its exact class: a subclass
    may transform rows) of numpy arrays or tensors, or a ``Subset`` of one,
    as ``train_split`` makes; ``loader_kwargs`` are the DataLoader's
    arguments, which must be among batch size, shuffle, drop_last, generator
    and sknoisy's own :func:`stack_collate`. Memmaps, sparse matrices, dicts,
    DataFrames and user Datasets give None.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sknoisy._data import tensor_batches
    >>> batches = tensor_batches(Dataset(np.zeros((5, 2), np.float32), np.arange(5)), batch_size=4)
    >>> [tuple(Xb.shape) for Xb, _ in batches]
    [(4, 2), (1, 2)]
    >>> tensor_batches(Dataset(np.zeros((5, 2)), np.arange(5)), batch_size=4, num_workers=2) is None
    True
    """
    if set(loader_kwargs) - _TENSOR_BATCH_OPTIONS or loader_kwargs.get("collate_fn", stack_collate) is not stack_collate:
        return None
    rows = None
    while isinstance(dataset, Subset):
        indices = torch.as_tensor(np.asarray(dataset.indices, dtype=np.int64))
        rows = indices if rows is None else indices[rows]
        dataset = dataset.dataset
    if type(dataset) is not SkorchDataset:
        return None
    tensors = (_as_tensor(dataset.X), _as_tensor(dataset.y))
    if tensors[0] is None or (tensors[1] is None and dataset.y is not None):
        return None
    if any(t is not None and len(t) != len(dataset) for t in tensors):
        return None
    return TensorBatches(
        tensors,
        rows,
        loader_kwargs["batch_size"],
        shuffle=bool(loader_kwargs.get("shuffle", False)),
        drop_last=bool(loader_kwargs.get("drop_last", False)),
        generator=loader_kwargs.get("generator"),
    )
