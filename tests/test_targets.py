"""The target table's row identity: per-row methods find their rows in every batch."""

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit

from sknoisy import CrossEntropyClassifier
from sknoisy._targets import make_target_table, target_labels, target_rows
from sknoisy.modules import MLP


class _RowRecorder(CrossEntropyClassifier):
    """Records the row ids of every training batch: what a per-row method would index its state with."""

    _supports_sample_weight = True  # its loss is the base's, which reads the weight column

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if training:
            self.seen_.append(target_rows(torch.as_tensor(y_true)).tolist())
            self.labels_.append(target_labels(torch.as_tensor(y_true)).tolist())
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def initialize(self):
        self.seen_, self.labels_ = [], []
        return super().initialize()


def _data(n=60):
    rng = np.random.RandomState(0)
    return rng.randn(n, 4).astype(np.float32), np.arange(n) % 3


@pytest.mark.parametrize("weighted", [False, True])
def test_every_training_row_is_seen_once_an_epoch_under_its_own_id(weighted):
    X, y = _data()
    clf = _RowRecorder(MLP, max_epochs=2, batch_size=16, iterator_train__shuffle=True, random_state=0)
    weight = np.linspace(0.5, 1.5, len(y)) if weighted else None
    clf.fit(X, y, sample_weight=weight)
    per_epoch = len(clf.seen_) // 2
    for epoch in range(2):
        rows = [r for batch in clf.seen_[epoch * per_epoch:(epoch + 1) * per_epoch] for r in batch]
        labels = [lab for batch in clf.labels_[epoch * per_epoch:(epoch + 1) * per_epoch] for lab in batch]
        assert sorted(rows) == list(range(len(y)))
        assert rows != sorted(rows)  # shuffled, yet each row keeps its id ...
        np.testing.assert_array_equal(y[rows], labels)  # ... and its label


def test_rows_held_out_by_train_split_never_reach_training():
    X, y = _data()
    clf = _RowRecorder(MLP, max_epochs=1, batch_size=8, train_split=ValidSplit(4, stratified=True), random_state=0)
    clf.fit(X, y)
    rows = sorted(r for batch in clf.seen_ for r in batch)
    assert len(rows) == len(set(rows)) == 45  # 3/4 of the 60 rows, with their ids in 0..59
    assert set(rows) <= set(range(60))


def test_row_ids_are_exact_beyond_float32():
    # weighted tables are float64: ids past 2**24 (float32's exact integers) survive
    table = make_target_table(np.zeros(3, dtype=int), np.zeros(3, dtype=bool), weight=np.ones(3))
    table[:, 2] += 2**24 + 1
    assert target_rows(torch.as_tensor(table)).tolist() == [2**24 + 1, 2**24 + 2, 2**24 + 3]
