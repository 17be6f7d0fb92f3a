"""Tests of DivideMixClassifier (sknoisy._dividemix)."""

import json
import warnings

import numpy as np
import pytest
import torch
from skorch.dataset import ValidSplit

from sknoisy import DivideMixClassifier
from sknoisy._dividemix import clean_probabilities, sharpen
from sknoisy._targets import make_target_table
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.persistence import load_model, save_model

TINY = {"module__hidden_units": (16,), "batch_size": 32, "lr": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y_noisy, y_clean, _ = make_noisy_classification(
        150, 5, 3, noise="symmetric", rate=0.3, class_sep=2.0, random_state=0)
    return X.astype(np.float32), y_noisy, y_clean


def _make(**params):
    return DivideMixClassifier(MLP, **{**TINY, "warmup_epochs": 1, "max_epochs": 2, **params})


def test_mixture_gives_the_small_losses_a_high_clean_probability():
    rng = np.random.default_rng(0)
    losses = torch.as_tensor(np.concatenate([rng.normal(0.2, 0.05, 300), rng.normal(2.5, 0.3, 100)]))
    proba = clean_probabilities(losses)
    assert proba.dtype == torch.float32 and proba.shape == (400,)
    assert proba[:300].min() > 0.9 and proba[300:].max() < 0.1
    # the scale of the losses does not matter (they are scaled to [0, 1] first)
    torch.testing.assert_close(clean_probabilities(10 * losses + 3), proba, atol=1e-4, rtol=0)
    # nothing to split: every row is clean
    torch.testing.assert_close(clean_probabilities(torch.full((5,), 0.7)), torch.ones(5))
    torch.testing.assert_close(clean_probabilities(torch.tensor([1.0])), torch.ones(1))


def test_mixture_fit_matches_scikit_learns_on_the_rows():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(1)
    losses = np.concatenate([rng.gamma(2.0, 0.2, 3000), rng.normal(2.5, 0.5, 1000)])
    scaled = ((losses - losses.min()) / np.ptp(losses))[:, None]
    mixture = GaussianMixture(2, max_iter=500, tol=1e-8, reg_covar=5e-4, random_state=0).fit(scaled)
    expected = mixture.predict_proba(scaled)[:, int(np.argmin(mixture.means_[:, 0]))]
    proba = clean_probabilities(torch.as_tensor(losses)).numpy()
    assert np.mean((proba > 0.5) == (expected > 0.5)) > 0.98
    assert np.median(np.abs(proba - expected)) < 0.01


def test_sharpen_raises_to_one_over_temperature_and_renormalises():
    p = torch.tensor([[0.6, 0.3, 0.1], [0.5, 0.5, 0.0]])
    expected = p**2 / (p**2).sum(dim=1, keepdim=True)
    torch.testing.assert_close(sharpen(p, 0.5), expected)
    assert sharpen(p, 1.0) is p


def test_warm_up_records_every_training_rows_cross_entropy_and_splits_nothing(data):
    X, y, _ = data
    # A step of 1e-12 leaves the network as it was: the recorded losses are those of the final network.
    with pytest.warns(UserWarning, match="no epoch gets past the warm-up"):
        clf = _make(lr=1e-12, warmup_epochs=3, max_epochs=2, iterator_train__shuffle=True).fit(X, y)
    assert clf.clean_proba_ is None
    proba = torch.as_tensor(clf.predict_proba(X))
    expected = torch.nn.functional.cross_entropy(proba.log(), torch.as_tensor(y), reduction="none")
    torch.testing.assert_close(clf.row_losses_, expected, atol=1e-5, rtol=1e-5)
    # the warm-up loss is the criterion's: cross-entropy
    assert clf.history[-1, "train_loss"] == pytest.approx(float(expected.mean()), rel=1e-4)


def test_split_is_the_mixture_of_the_losses_recorded_before_it(data):
    X, y, _ = data
    clf = _make(lr=1e-12, warmup_epochs=1, max_epochs=2).fit(X, y)
    torch.testing.assert_close(clf.clean_proba_, clean_probabilities(clf.row_losses_))


def test_split_finds_the_wrong_labels(data):
    X, y, y_clean = data
    clf = _make(warmup_epochs=8, max_epochs=9).fit(X, y)
    kept = clf.clean_proba_.numpy() > clf.clean_threshold
    correct = y == y_clean
    # 72% of the labels are right; the kept rows are more than 95% right and hold most of the right ones
    assert correct.mean() < 0.75
    assert correct[kept].mean() > 0.95 and kept[correct].mean() > 0.8


def test_trusted_rows_always_keep_their_label_whole(data):
    X, y, y_clean = data
    wrong = np.flatnonzero(y != y_clean)[:10]
    # the trusted rows: ten whose label the split would doubt (flipped, then relabeled by hand), ten others
    y_fixed = y.copy()
    y_fixed[wrong] = y_clean[wrong]
    trusted = np.zeros(len(y), dtype=bool)
    trusted[wrong] = True
    trusted[np.flatnonzero(y == y_clean)[:10]] = True
    clf = _make(warmup_epochs=8, max_epochs=9).fit(X, y_fixed, trusted=trusted)
    proba = clf.clean_proba_.numpy()
    assert np.all(proba[trusted] == 1.0)
    assert proba[~trusted].min() < 1.0  # the others are still split by their loss
    # without the mask the same rows get the mixture's probability, not a certain 1
    plain = _make(warmup_epochs=8, max_epochs=9).fit(X, y_fixed)
    assert not np.all(plain.clean_proba_.numpy()[trusted] == 1.0)


def test_targets_refine_the_kept_labels_and_guess_the_others(data):
    X, y, _ = data
    clf = _make(temperature=1.0).fit(X, y)
    clf.clean_proba_ = torch.tensor([0.9, 0.2, 0.6, 0.5])
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0], [1.0, 2.0, 3.0]])
    labels = torch.tensor([0, 2, 1, 0])
    targets, labeled = clf._targets(logits, labels, torch.arange(4))
    p = torch.softmax(logits, dim=1)
    onehot = torch.nn.functional.one_hot(labels, 3).float()
    w = clf.clean_proba_.unsqueeze(1)
    assert labeled.tolist() == [True, False, True, False]  # 0.5 is not above the threshold
    torch.testing.assert_close(targets[[0, 2]], (w * onehot + (1 - w) * p)[[0, 2]])
    torch.testing.assert_close(targets[[1, 3]], p[[1, 3]])


def test_split_loss_is_soft_cross_entropy_plus_weighted_squared_error_plus_prior_penalty(data):
    X, y, _ = data
    clf = _make(unlabeled_weight=3.0, prior_weight=0.5).fit(X, y)
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    labeled = torch.tensor([True, True, False, True, False, False])
    loss = clf._split_loss(logits, targets, labeled, None)
    log_p = torch.log_softmax(logits, dim=1)
    p = log_p.exp()
    prior = torch.as_tensor(np.bincount(y, minlength=3) / len(y), dtype=torch.float32)
    expected = (-(targets * log_p).sum(1))[labeled].mean() + 3.0 * ((p - targets) ** 2).mean(1)[~labeled].mean()
    expected = expected + 0.5 * (prior * (prior / p.mean(0)).log()).sum()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    # weights: weighted means of each part
    weight = torch.tensor([1.0, 3.0, 0.5, 1.0, 2.0, 1.0])
    loss = clf._split_loss(logits, targets, labeled, weight)
    sup, uns = -(targets * log_p).sum(1), ((p - targets) ** 2).mean(1)
    expected_w = (weight * sup)[labeled].sum() / weight[labeled].sum()
    expected_w = expected_w + 3.0 * (weight * uns)[~labeled].sum() / weight[~labeled].sum()
    expected_w = expected_w + 0.5 * (prior * (prior / p.mean(0)).log()).sum()
    assert float(loss) == pytest.approx(float(expected_w), rel=1e-5)


def test_a_split_step_without_mixup_trains_on_the_sharpened_targets(data):
    X, y, _ = data
    clf = _make(mixup_alpha=0.0, lr=1e-12).fit(X, y)
    clf.clean_proba_ = torch.linspace(0, 1, len(X))
    batch = (torch.as_tensor(X[:10]), torch.as_tensor(make_target_table(y[:10], np.zeros(10, bool))))
    step = clf.train_step_single(batch)
    logits = clf.module_(batch[0]).detach()
    targets, labeled = clf._targets(logits, torch.as_tensor(y[:10]), torch.arange(10))
    torch.testing.assert_close(step["y_pred"], logits)
    assert float(step["loss"].detach()) == pytest.approx(float(clf._split_loss(logits, targets, labeled, None)), rel=1e-5)


def test_mixup_weight_is_the_larger_share(data):
    X, y, _ = data
    clf = _make(mixup_alpha=4.0).fit(X, y)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        draws = [clf._mixing(8, torch.device("cpu")) for _ in range(20)]
    assert all(0.5 <= lam <= 1.0 for lam, _ in draws) and len({lam for lam, _ in draws}) == 20
    assert all(sorted(perm.tolist()) == list(range(8)) for _, perm in draws)


def test_a_split_step_with_mixup_trains_on_mixed_rows_and_mixed_targets(data):
    X, y, _ = data
    clf = _make(mixup_alpha=4.0, lr=1e-12).fit(X, y)
    clf.clean_proba_ = torch.linspace(0, 1, len(X))
    x, labels = torch.as_tensor(X[:10]), torch.as_tensor(y[:10])
    batch = (x, torch.as_tensor(make_target_table(y[:10], np.zeros(10, bool))))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        step = clf.train_step_single(batch)
        torch.manual_seed(0)
        lam, perm = clf._mixing(10, torch.device("cpu"))
    logits = clf.module_(x).detach()
    targets, labeled = clf._targets(logits, labels, torch.arange(10))
    mixed = clf.module_(lam * x + (1 - lam) * x[perm]).detach()
    expected = clf._split_loss(mixed, lam * targets + (1 - lam) * targets[perm], labeled, None)
    torch.testing.assert_close(step["y_pred"], logits)  # what callbacks see: the rows as they are
    assert float(step["loss"].detach()) == pytest.approx(float(expected), rel=1e-5)


def test_a_mixup_step_refuses_inputs_that_cannot_be_mixed(data):
    X, y, _ = data
    clf = _make(mixup_alpha=1.0).fit(X, y)
    batch = (torch.ones(4, 5, dtype=torch.int64), torch.as_tensor(make_target_table(y[:4], np.zeros(4, bool))))
    with pytest.raises(ValueError, match=r"DivideMixClassifier with mixup_alpha > 0 mixes training rows \(MixUp\), so "
                                         r"each batch of X must be one tensor of floats; got Tensor\. Set "
                                         r"mixup_alpha=0 for other inputs\."):
        clf.train_step_single(batch)


def test_validation_rows_record_no_loss_and_count_as_noisy(data):
    X, y, _ = data
    clf = _make(train_split=ValidSplit(5, stratified=False)).fit(X, y)
    unseen = torch.isnan(clf.row_losses_)
    assert int(unseen.sum()) == len(X) // 5
    assert torch.all(clf.clean_proba_[unseen] == 0)
    assert np.all(np.isfinite(clf.history[:, "valid_loss"]))


def test_partial_fit_continues_on_the_same_rows_and_restarts_on_others(data):
    X, y, _ = data
    clf = _make(warmup_epochs=1, max_epochs=1).partial_fit(X, y)
    assert clf.clean_proba_ is None
    clf.partial_fit(X, y)  # second epoch overall: past the warm-up, split on the first epoch's losses
    assert clf.clean_proba_ is not None and clf.clean_proba_.shape == (len(X),)
    clf.partial_fit(X[:100], y[:100])  # other rows: nothing recorded for them yet, so no split this epoch
    assert clf.clean_proba_ is None and clf.row_losses_.shape == (100,)


def test_uniform_sample_weight_changes_nothing_and_weights_count(data):
    X, y, _ = data
    plain = _make(max_epochs=3).fit(X, y).predict_proba(X)
    weighted = _make(max_epochs=3).fit(X, y, sample_weight=np.full(len(y), 3.0)).predict_proba(X)
    np.testing.assert_allclose(weighted, plain, atol=1e-5)
    skewed = _make(max_epochs=3).fit(X, y, sample_weight=np.where(y == 0, 5.0, 0.1)).predict_proba(X)
    assert not np.allclose(skewed, plain, atol=1e-3)


def test_same_random_state_same_model_and_global_rng_untouched(data):
    X, y, _ = data
    before = torch.random.get_rng_state()
    a = _make(random_state=3, max_epochs=3).fit(X, y).predict_proba(X)
    b = _make(random_state=3, max_epochs=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "params, match",
    [
        ({"warmup_epochs": -1}, r"'warmup_epochs' parameter of DivideMixClassifier must be an int in the range "
                                r"\[0, inf\)\. Got -1"),
        ({"clean_threshold": 1.0}, r"'clean_threshold' parameter of DivideMixClassifier must be a float in the "
                                   r"range \(0(\.0)?, 1(\.0)?\)\. Got 1\.0"),
        ({"temperature": 0.0}, r"'temperature' parameter .* range \(0(\.0)?, 1(\.0)?\]\. Got 0\.0"),
        ({"mixup_alpha": float("nan")}, r"'mixup_alpha' parameter .* Got nan"),
        ({"unlabeled_weight": "25"}, r"'unlabeled_weight' parameter .* Got '25'"),
        ({"prior_weight": -1.0}, r"'prior_weight' parameter .* Got -1\.0"),
    ],
)
def test_bad_parameters_are_refused_clearly(data, params, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        _make(**params).fit(X, y)


def test_save_and_load_predicts_the_same_and_says_the_split_is_not_saved(data, tmp_path):
    X, y, _ = data
    clf = _make().fit(X, y)
    folder = save_model(clf, tmp_path / "model")
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert {"clean_proba_", "row_losses_"} <= set(json.loads((folder / "manifest.json").read_text())["not_saved"])
    loaded.partial_fit(X, y, epochs=1)  # past its warm-up, but nothing recorded yet: one plain epoch
    assert loaded.clean_proba_ is None and torch.isfinite(loaded.row_losses_).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_split_lives_on_the_device(data):
    X, y, _ = data
    clf = _make(device="cuda", max_epochs=3).fit(X, y)
    assert clf.row_losses_.device.type == "cuda" and clf.clean_proba_.device.type == "cuda"
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_a_fit_that_never_gets_past_the_warm_up_says_it_is_plain_cross_entropy(data):
    X, y = data[0], data[1]
    message = (r"DivideMixClassifier: warmup_epochs=3 and 3 epoch\(s\) to train: no epoch gets past the warm-up, so "
               r"this fit is plain cross-entropy on every row")
    with pytest.warns(UserWarning, match=message):
        _make(warmup_epochs=3, max_epochs=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _make(warmup_epochs=3, max_epochs=4).fit(X, y)  # one epoch splits: no warning
        _make(warmup_epochs=3, max_epochs=1).partial_fit(X, y)  # partial_fit trains on: no warning either
