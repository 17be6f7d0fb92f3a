"""Tests of EarlyLearningClassifier (sknoisy._elr)."""

import json

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit

from sknoisy import EarlyLearningClassifier
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.persistence import load_model, save_model

TINY = {"module__hidden_units": (16,), "batch_size": 32, "lr": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y_noisy, _, _ = make_noisy_classification(150, 5, 3, noise="symmetric", rate=0.3, random_state=0)
    return X.astype(np.float32), y_noisy


def _make(**params):
    return EarlyLearningClassifier(MLP, **{**TINY, "max_epochs": 2, **params})


def test_targets_are_running_averages_indexed_by_row_whatever_the_shuffling(data):
    X, y = data
    # A step size of 1e-12 leaves the predictions as they were: each row's
    # target after one shuffled epoch is (1 - beta) times its own prediction.
    clf = _make(lr=1e-12, max_epochs=1, beta=0.6, iterator_train__shuffle=True).fit(X, y)
    assert clf.targets_.shape == (len(X), 3) and clf.targets_.dtype == torch.float32
    np.testing.assert_allclose(clf.targets_.numpy(), 0.4 * clf.predict_proba(X), atol=1e-6)
    clf.partial_fit(X, y, epochs=1)  # same rows: continued
    np.testing.assert_allclose(clf.targets_.numpy(), (0.4 + 0.6 * 0.4) * clf.predict_proba(X), atol=1e-6)


def test_loss_is_cross_entropy_plus_lambda_log_one_minus_agreement(data):
    X, y = data
    clf = _make(regularization=2.5, beta=0.5).fit(X, y)
    clf.targets_ = torch.rand(len(X), 3, generator=torch.Generator().manual_seed(0)) / 3
    old = clf.targets_.clone()
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    table = torch.tensor([[0, 0, 7], [1, 0, 3], [2, 0, 0], [1, 0, 9]])
    loss = clf.get_loss(logits, table, training=True)
    p = torch.softmax(logits, dim=1)
    t = 0.5 * old[[7, 3, 0, 9]] + 0.5 * p
    expected = torch.nn.functional.cross_entropy(logits, table[:, 0]) + 2.5 * torch.log(1 - (p * t).sum(1)).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    torch.testing.assert_close(clf.targets_[[7, 3, 0, 9]], t)
    untouched = np.setdiff1d(np.arange(len(X)), [7, 3, 0, 9])
    torch.testing.assert_close(clf.targets_[untouched], old[untouched])
    # validation batches: the criterion alone, the targets left alone
    before = clf.targets_.clone()
    valid = clf.get_loss(logits, table, training=False)
    assert float(valid) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, table[:, 0])), rel=1e-6)
    torch.testing.assert_close(clf.targets_, before)


def test_regulariser_stays_finite_on_certain_predictions():
    X = np.repeat(np.eye(2, dtype=np.float32) * 50, 40, axis=0)
    y = np.repeat([0, 1], 40)
    clf = _make(lr=0.1, max_epochs=15, beta=0.0).fit(X, y)
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))


def test_partial_fit_restarts_the_targets_on_other_rows_and_fit_starts_afresh(data):
    X, y = data
    clf = _make(max_epochs=1, beta=0.7).partial_fit(X, y).partial_fit(X, y)
    np.testing.assert_allclose(clf.targets_.sum(dim=1).numpy(), 1 - 0.7**2, rtol=1e-5)
    clf.partial_fit(X[:100], y[:100])  # other rows: the targets start again
    assert clf.targets_.shape[0] == 100
    np.testing.assert_allclose(clf.targets_.sum(dim=1).numpy(), 0.3, rtol=1e-5)
    clf.fit(X, y)
    np.testing.assert_allclose(clf.targets_.sum(dim=1).numpy(), 0.3, rtol=1e-5)


def test_validation_rows_keep_no_target(data):
    X, y = data
    clf = _make(max_epochs=2, train_split=ValidSplit(5, stratified=False)).fit(X, y)
    untouched = (clf.targets_.sum(dim=1) == 0).sum()
    assert int(untouched) == len(X) // 5
    assert np.all(np.isfinite(clf.history[:, "valid_loss"]))


def test_uniform_sample_weight_changes_nothing_and_weights_reach_the_regulariser(data):
    X, y = data
    plain = _make().fit(X, y).predict_proba(X)
    weighted = _make().fit(X, y, sample_weight=np.full(len(y), 3.0)).predict_proba(X)
    np.testing.assert_allclose(weighted, plain, atol=1e-6)
    skewed = _make().fit(X, y, sample_weight=np.where(y == 0, 5.0, 0.1)).predict_proba(X)
    assert not np.allclose(skewed, plain, atol=1e-3)


def test_same_random_state_same_model(data):
    X, y = data
    a = _make(random_state=3).fit(X, y).predict_proba(X)
    b = _make(random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"regularization": -1.0}, r"'regularization' parameter of EarlyLearningClassifier must be a float in the "
                                   r"range \[0(\.0)?, inf\)\. Got -1\.0"),
        ({"regularization": float("nan")}, r"'regularization' parameter .* Got nan"),
        ({"regularization": "3"}, r"'regularization' parameter .* Got '3'"),
        ({"beta": 1.0}, r"'beta' parameter of EarlyLearningClassifier must be a float in the range "
                        r"\[0(\.0)?, 1(\.0)?\)\. Got 1\.0"),
        ({"beta": -0.1}, r"'beta' parameter .* Got -0\.1"),
    ],
)
def test_bad_parameters_are_refused_clearly(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        _make(**params).fit(X, y)


def test_save_and_load_predicts_the_same_and_says_targets_are_not_saved(data, tmp_path):
    X, y = data
    clf = _make().fit(X, y)
    folder = save_model(clf, tmp_path / "model")
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert "targets_" in json.loads((folder / "manifest.json").read_text())["not_saved"]
    loaded.partial_fit(X, y, epochs=1)  # training state restarts at 0
    np.testing.assert_allclose(loaded.targets_.sum(dim=1).numpy(), 1 - loaded.beta, rtol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_targets_live_on_the_device(data):
    X, y = data
    clf = _make(device="cuda").fit(X, y)
    assert clf.targets_.device.type == "cuda"
    assert clf.predict_proba(X).shape == (len(X), 3)
