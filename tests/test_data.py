"""The training-data fast path: in-memory arrays batched by whole-tensor indexing, and its fallbacks."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset as SkorchDataset
from torch.utils.data import DataLoader, Subset

import sknoisy
import sknoisy._data as data_module
from sknoisy import CrossEntropyClassifier, make_transition_matrix
from sknoisy._data import TableDataset, TensorBatches, stack_collate, tensor_batches
from sknoisy._targets import make_target_table
from sknoisy.utils._testing import NEEDS_TRUSTED, make_fast_estimator


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((203, 4)).astype(np.float32)
    y = rng.integers(0, 3, 203)
    trusted = rng.random(203) < 0.3
    return X, y, trusted


def _loader_batches(dataset, epochs, **kwargs):
    loader = DataLoader(dataset, collate_fn=stack_collate, **kwargs)
    return [[tuple(part.clone() for part in batch) for batch in loader] for _ in range(epochs)]


def _fast_batches(dataset, epochs, **kwargs):
    batches = tensor_batches(dataset, **kwargs)
    assert isinstance(batches, TensorBatches)
    return [list(batches) for _ in range(epochs)], len(batches)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("subset", [False, True])
def test_tensor_batches_are_the_dataloaders_batches(arrays, shuffle, drop_last, subset):
    X, y, trusted = arrays
    dataset = SkorchDataset(X, make_target_table(y, trusted))
    if subset:  # nested, as a train_split of a train_split
        dataset = Subset(Subset(dataset, np.arange(3, 200)), np.arange(150, 0, -1))
    kwargs = dict(batch_size=32, shuffle=shuffle, drop_last=drop_last)
    expected = _loader_batches(dataset, 2, generator=torch.Generator().manual_seed(5), **kwargs)
    generator = torch.Generator().manual_seed(5)
    got, n_batches = _fast_batches(dataset, 2, generator=generator, **kwargs)
    assert n_batches == len(expected[0])
    for epoch_expected, epoch_got in zip(expected, got):
        assert len(epoch_expected) == len(epoch_got)
        for (Xe, ye), (Xg, yg) in zip(epoch_expected, epoch_got):
            assert Xg.dtype == Xe.dtype and yg.dtype == ye.dtype
            assert torch.equal(Xg, Xe) and torch.equal(yg, ye)
    # the generator is left where the DataLoader leaves it: later draws agree too
    loader_generator = torch.Generator().manual_seed(5)
    _loader_batches(dataset, 2, generator=loader_generator, **kwargs)
    assert torch.equal(generator.get_state(), loader_generator.get_state())


def test_tensor_batches_without_targets_yield_skorchs_placeholder(arrays):
    X = arrays[0]
    dataset = SkorchDataset(X, None)
    (expected,) = _loader_batches(dataset, 1, batch_size=50)
    (got,), _ = _fast_batches(dataset, 1, batch_size=50)
    for (Xe, ye), (Xg, yg) in zip(expected, got):
        assert torch.equal(Xg, Xe) and torch.equal(yg, ye)


def test_tensor_batches_are_copies(arrays):
    X, y, trusted = arrays
    before = X.copy()
    for shuffle in (False, True):
        for Xb, yb in tensor_batches(SkorchDataset(X, y), batch_size=16, shuffle=shuffle):
            Xb.add_(1.0)
            yb.zero_()
    np.testing.assert_array_equal(X, before)


def test_tensor_batches_read_only_arrays_without_warning(arrays, recwarn):
    X, y, _ = arrays
    X.setflags(write=False)
    batches = tensor_batches(SkorchDataset(X, y), batch_size=64, shuffle=True)
    assert sum(len(Xb) for Xb, _ in batches) == len(X)
    assert not [w for w in recwarn if "writable" in str(w.message)]


def test_tensor_batches_keep_the_dataloader_where_they_cannot_serve(arrays, tmp_path):
    X, y, trusted = arrays
    table = make_target_table(y, trusted)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")

    class RowTransform(SkorchDataset):
        def transform(self, X, y):
            return X * 2, y

    refused = {
        "memmap": SkorchDataset(mapped, table),
        "view of a memmap": SkorchDataset(np.asarray(mapped), table),
        "sparse": SkorchDataset(sp.csr_matrix(X), table),
        "torch Dataset": TableDataset(X, table),
        "Subset of a torch Dataset": Subset(TableDataset(X, table), [0, 1]),
        "skorch Dataset subclass": RowTransform(X, table),
        "dict of inputs": SkorchDataset({"a": X}, table),
        "object array": SkorchDataset(X.astype(object), table),
    }
    for what, dataset in refused.items():
        assert tensor_batches(dataset, batch_size=8) is None, what
    ok = SkorchDataset(X, table)
    for option in ({"num_workers": 0}, {"pin_memory": False}, {"sampler": None}, {"collate_fn": lambda b: b}):
        assert tensor_batches(ok, batch_size=8, **option) is None, option
    assert tensor_batches(ok, batch_size=8, collate_fn=stack_collate) is not None


def _estimator(name, shuffle, fallback, T):
    cls = getattr(sknoisy, name)
    params = dict(max_epochs=3, iterator_train__shuffle=shuffle)
    if fallback:  # any DataLoader option the fast path does not take keeps the DataLoader
        params.update(iterator_train__num_workers=0, iterator_valid__num_workers=0)
    if name in ("ForwardCorrectedClassifier", "BackwardCorrectedClassifier"):
        params["transition_matrix"] = T
    return make_fast_estimator(cls, **params)


@pytest.mark.parametrize(
    "name",
    [
        "CrossEntropyClassifier",
        "ForwardCorrectedClassifier",
        "BackwardCorrectedClassifier",
        "GLCClassifier",
        "MetaLossCorrectionClassifier",
        "RobustLossClassifier",
    ],
)
def test_every_estimator_trains_the_same_model_as_through_the_dataloader(arrays, name, monkeypatch):
    X, y, trusted = arrays
    T = make_transition_matrix("symmetric", 3, 0.2)
    served = []
    original = data_module.TensorBatches.__iter__
    monkeypatch.setattr(data_module.TensorBatches, "__iter__", lambda self: served.append(1) or original(self))
    fit_kwargs = {"trusted": trusted} if name in NEEDS_TRUSTED else {}
    for shuffle in (False, True):
        del served[:]
        fast = _estimator(name, shuffle, False, T).fit(X, y, **fit_kwargs)
        assert len(served) >= 3  # at least every training epoch of the final net
        slow = _estimator(name, shuffle, True, T).fit(X, y, **fit_kwargs)
        np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))
        assert fast.history[-1, "train_loss"] == slow.history[-1, "train_loss"]


def test_fast_path_keeps_train_split_callbacks_and_the_global_rng(arrays):
    from sknoisy import TrustedValidSplit

    X, y, trusted = arrays

    class CountBatches(Callback):
        def initialize(self):
            self.rows_ = {True: 0, False: 0}
            return self

        def on_batch_begin(self, net, batch=None, training=None, **kwargs):
            self.rows_[training] += len(batch[0])

    counter = CountBatches()
    state = torch.get_rng_state()
    clf = make_fast_estimator(
        CrossEntropyClassifier,
        max_epochs=2,
        iterator_train__shuffle=True,
        train_split=TrustedValidSplit(0.5, random_state=0),
        callbacks=[("count", counter)],
    ).fit(X, y, trusted=trusted)
    assert torch.equal(torch.get_rng_state(), state)
    n_valid = sum(b["valid_batch_size"] for b in clf.history[-1, "batches"] if "valid_batch_size" in b)
    assert n_valid > 0 and counter.rows_[False] == 2 * n_valid
    assert counter.rows_[True] == 2 * (len(X) - n_valid)
    again = make_fast_estimator(
        CrossEntropyClassifier,
        max_epochs=2,
        iterator_train__shuffle=True,
        train_split=TrustedValidSplit(0.5, random_state=0),
    ).fit(X, y, trusted=trusted)
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))


def test_predict_proba_keeps_row_order(arrays):
    X, y, _ = arrays
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1, iterator_valid__batch_size=16).fit(X, y)
    proba = clf.predict_proba(X)
    rows = np.array([clf.predict_proba(X[i:i + 1])[0] for i in (0, 57, 202)])
    np.testing.assert_allclose(proba[[0, 57, 202]], rows, rtol=1e-5, atol=1e-6)


def test_memmap_and_dataset_inputs_train_through_the_dataloader(arrays, tmp_path, monkeypatch):
    from skorch.helper import SliceDataset

    X, y, _ = arrays
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    monkeypatch.setattr(
        data_module.TensorBatches, "__iter__", lambda self: pytest.fail("the fast path served data it must not")
    )
    from_file = make_fast_estimator(CrossEntropyClassifier, max_epochs=2).fit(mapped, y)
    in_memory = make_fast_estimator(
        CrossEntropyClassifier, max_epochs=2, iterator_train__num_workers=0, iterator_valid__num_workers=0
    ).fit(X, y)
    np.testing.assert_array_equal(from_file.predict_proba(mapped), in_memory.predict_proba(X))
    dataset = SliceDataset(SkorchDataset(X, None), idx=0)
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(dataset, y)
    assert clf.predict_proba(dataset).shape == (len(X), 3)
