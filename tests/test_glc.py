"""Gold Loss Correction (sknoisy/_glc.py)."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknoisy._glc import GLCClassifier, GoldCorrectedCrossEntropy
from sknoisy.base import CrossEntropyClassifier
from sknoisy.losses import forward_corrected_cross_entropy
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.transition import (
    TransitionMatrixEstimator,
    estimate_anchor,
    estimate_confusion,
    estimate_gold,
    transition_matrix_error,
)
from sknoisy.utils._testing import CHECKS_THAT_FIT_WITHOUT_TRUSTED, FAST_NET_PARAMS, with_default_trusted
import sknoisy._stage1
from sknoisy._stage1 import stage1_net


def _glc(**overrides):
    return GLCClassifier(MLP, **{**FAST_NET_PARAMS, **overrides})


@pytest.fixture(scope="module")
def flip_data():
    """3 classes, flip-to-one noise at 40%, 30% of the rows trusted (with clean labels)."""
    X, y_noisy, y_clean, T = make_noisy_classification(
        600, n_features=10, n_classes=3, noise="flip_to_one", rate=0.4, random_state=0, class_sep=2.0, n_informative=6
    )
    trusted = np.random.RandomState(0).rand(600) < 0.3
    y = np.where(trusted, y_clean, y_noisy)
    return X.astype(np.float32), y, y_clean, trusted, T


@pytest.fixture(scope="module")
def fitted(flip_data):
    X, y, _, trusted, _ = flip_data
    return _glc().fit(X, y, trusted=trusted)


# --------------------------------------------------------------------------- T-hat
def test_recovers_transition_matrix_from_trusted_rows(fitted, flip_data):
    X, _, y_clean, _, T = flip_data
    # Measured 0.16 here (0.10 to 0.16 over data seeds 0-4); the identity is at 0.80.
    assert transition_matrix_error(fitted.transition_matrix_, T) < 0.25
    assert transition_matrix_error(np.eye(3), T) == pytest.approx(0.8)
    # Measured 0.96 against the clean labels.
    assert np.mean(fitted.predict(X) == y_clean) > 0.85


def test_fitted_attributes(fitted):
    T_hat = fitted.transition_matrix_
    assert T_hat.shape == (3, 3)
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)
    assert np.all(T_hat >= 0)
    assert isinstance(fitted.criterion_, GoldCorrectedCrossEntropy)
    np.testing.assert_allclose(fitted.criterion_.T.numpy(), T_hat, atol=1e-6)
    tme = fitted.transition_matrix_estimator_
    assert isinstance(tme, TransitionMatrixEstimator) and tme.method == "gold"
    np.testing.assert_allclose(tme.transition_matrix_, T_hat, atol=1e-12)
    # The stage-1 network is not kept: it would double the memory of the fitted model.
    assert not hasattr(tme, "estimator_")
    assert not any(isinstance(v, CrossEntropyClassifier) for v in vars(fitted).values())


class _RecordingNet(CrossEntropyClassifier):
    """A stage-1 net that records the rows it is trained on (in a list its clones share)."""

    fitted_on = []

    def fit(self, X, y, **kwargs):
        self.fitted_on.append(np.array(X, copy=True))
        return super().fit(X, y, **kwargs)


def _recording_stage1_net(net, **kwargs):
    return _RecordingNet(**stage1_net(net, **kwargs).get_params(deep=False))


def test_stage1_sees_only_untrusted_rows(flip_data, monkeypatch):
    X, y, _, trusted, _ = flip_data
    _RecordingNet.fitted_on.clear()
    monkeypatch.setattr(sknoisy._stage1, "stage1_net", _recording_stage1_net)
    GLCClassifier(MLP, **{**FAST_NET_PARAMS, "max_epochs": 2}).fit(X, y, trusted=trusted)
    (seen,) = _RecordingNet.fitted_on
    np.testing.assert_array_equal(seen, X[~trusted])


def test_T_is_the_gold_estimate_of_the_stage1_net(fitted, flip_data):
    # One gold path: GLC's T is TransitionMatrixEstimator(method='gold') on its plain CE net.
    X, y, _, trusted, _ = flip_data
    stage1 = stage1_net(fitted, random_state=0)
    tme = TransitionMatrixEstimator(stage1, method="gold", refit=False, random_state=0).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(fitted.transition_matrix_, tme.transition_matrix_, atol=1e-12)
    # ... which is estimate_gold of that net, trained on the untrusted rows, on the trusted rows.
    stage1 = clone(stage1).fit(X[~trusted], y[~trusted])
    np.testing.assert_allclose(
        fitted.transition_matrix_, estimate_gold(stage1.predict_proba(X[trusted]), y[trusted]), atol=1e-6
    )


def test_transition_matrix_given_as_array_is_used_as_given(flip_data):
    X, y, _, trusted, T = flip_data
    clf = _glc(max_epochs=2, transition_matrix=T).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(clf.transition_matrix_, T)
    assert clf.transition_matrix_estimator_ is None
    np.testing.assert_allclose(clf.criterion_.T.numpy(), T, atol=1e-6)


def test_transition_matrix_method_name_and_nested_params(flip_data):
    X, y, _, trusted = (a[:300] for a in flip_data[:4])
    by_name = _glc(max_epochs=2, transition_matrix="confusion").fit(X, y, trusted=trusted)
    assert by_name.transition_matrix_estimator_.method == "confusion"
    # a grid reaches GLC's T estimation as clf__transition_matrix__method, as Forward's
    clf = _glc(max_epochs=2, transition_matrix=TransitionMatrixEstimator(method="gold"))
    assert clf.get_params()["transition_matrix__method"] == "gold"
    clf.set_params(transition_matrix__method="confusion").fit(X, y, trusted=trusted)
    np.testing.assert_array_equal(clf.transition_matrix_, by_name.transition_matrix_)
    stage1 = clone(stage1_net(clf, random_state=0)).fit(X[~trusted], y[~trusted])
    expected = estimate_confusion(stage1.predict_proba(X[trusted]), y[trusted])
    np.testing.assert_allclose(clf.transition_matrix_, expected, atol=1e-6)


class _Inputs(torch.utils.data.Dataset):
    """A Dataset of inputs only (data larger than memory is passed like this)."""

    def __init__(self, X):
        self.X = torch.as_tensor(X)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i]


def test_dataset_and_memmap_inputs_give_the_same_model(flip_data, tmp_path):
    X, y, _, trusted = (a[:200] for a in flip_data[:4])
    params = {"max_epochs": 3}
    ref = _glc(**params).fit(X, y, trusted=trusted)
    lazy = _glc(**params).fit(_Inputs(X), y, trusted=trusted)
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mapped = _glc(**params).fit(mm, y, trusted=trusted)
    for other in (lazy, mapped):
        np.testing.assert_allclose(other.transition_matrix_, ref.transition_matrix_, atol=1e-6)
        np.testing.assert_allclose(other.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_missing_trusted_class_warns_and_trains_without_nan(flip_data):
    X, y, _, trusted, _ = flip_data
    labels = np.array(["ant", "bee", "cat"])[y]
    partial = trusted & (y != 2)  # no trusted "cat"
    with pytest.warns(UserWarning, match=r"no trusted row of class\(es\) \['cat'\].*anchor"):
        clf = _glc(max_epochs=5).fit(X, labels, trusted=partial)
    T_hat = clf.transition_matrix_
    assert np.all(np.isfinite(T_hat))
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))
    assert np.all(np.isfinite(clf.predict_proba(X)))
    # the row of "cat" is the anchor row of the stage-1 probabilities of the untrusted rows
    stage1 = clone(stage1_net(clf, random_state=0)).fit(X[~partial], y[~partial])
    anchor = estimate_anchor(stage1.predict_proba(X[~partial]), quantile=0.97)
    np.testing.assert_allclose(T_hat[2], anchor[2], atol=1e-6)
    gold = estimate_gold(stage1.predict_proba(X[partial]), y[partial])
    np.testing.assert_allclose(T_hat[:2], gold[:2], atol=1e-6)


def test_no_missing_class_no_warning(flip_data):
    X, y, _, trusted = (a[:200] for a in flip_data[:4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _glc(max_epochs=2).fit(X, y, trusted=trusted)


def test_all_rows_trusted_warns_and_trains_plain_ce(flip_data):
    X, y, _, _, _ = flip_data
    with pytest.warns(UserWarning, match="every row is trusted"):
        clf = _glc(max_epochs=3).fit(X, y, trusted=np.ones(len(y), dtype=bool))
    np.testing.assert_array_equal(clf.transition_matrix_, np.eye(3))
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))


def test_same_seed_same_model_and_global_rng_untouched(flip_data):
    X, y, _, trusted = (a[:200] for a in flip_data[:4])
    state = torch.random.get_rng_state()
    a = _glc(max_epochs=3).fit(X, y, trusted=trusted)
    b = clone(a).fit(X, y, trusted=trusted)
    np.testing.assert_array_equal(a.transition_matrix_, b.transition_matrix_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert torch.equal(state, torch.random.get_rng_state())


def test_warm_start_refreshes_the_criterion_matrix(flip_data):
    X, y, _, trusted = (a[:200] for a in flip_data[:4])
    clf = _glc(max_epochs=2, warm_start=True).fit(X, y, trusted=trusted)
    half = trusted & (np.arange(len(y)) % 2 == 0)
    clf.fit(X, y, trusted=half)
    np.testing.assert_allclose(clf.criterion_.T.numpy(), clf.transition_matrix_, atol=1e-6)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("trusted", [None, np.zeros(40, dtype=bool)], ids=["none", "all-false"])
def test_no_trusted_rows_is_refused(trusted):
    X = np.random.RandomState(0).randn(40, 3)
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match=r"GLCClassifier needs trusted rows: pass fit\(X, y, trusted=mask\)"):
        _glc().fit(X, y, trusted=trusted)


def test_trusted_mask_of_wrong_length_is_refused():
    X = np.random.RandomState(0).randn(40, 3)
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="trusted has length 39 but X has 40 samples"):
        _glc().fit(X, y, trusted=np.ones(39, dtype=bool))


def test_trusted_mask_not_boolean_is_refused():
    X = np.random.RandomState(0).randn(40, 3)
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="trusted must be a boolean mask"):
        _glc().fit(X, y, trusted=np.arange(40))


def test_trusted_rows_of_a_single_class_are_refused():
    X = np.random.RandomState(0).randn(40, 3)
    y = np.array(["no", "yes"])[np.arange(40) % 2]
    trusted = np.zeros(40, dtype=bool)
    trusted[[0, 2, 4]] = True
    with pytest.raises(ValueError, match=r"trusted rows of at least 2 classes.*all 3 trusted rows have the label 'no'"):
        _glc().fit(X, y, trusted=trusted)


def test_initialize_before_fit_is_refused():
    with pytest.raises(ValueError, match=r"estimates its transition matrix in fit; call fit before initialize"):
        _glc(module__n_features=3).initialize()


# --------------------------------------------------------------------------- the loss
def test_joint_loss_matches_its_definition():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 3, generator=gen, requires_grad=True)
    target = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    trusted = torch.tensor([True, False, True, False, False, True, False, False])
    T = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.0, 0.7]])
    loss = GoldCorrectedCrossEntropy(T)(logits, target, trusted)
    ce = F.cross_entropy(logits[trusted], target[trusted], reduction="sum")
    fc = forward_corrected_cross_entropy(logits[~trusted], target[~trusted], T, reduction="sum")
    torch.testing.assert_close(loss, (ce + fc) / 8)
    loss.backward()
    assert torch.all(torch.isfinite(logits.grad))


def test_joint_loss_checks_its_matrix():
    with pytest.raises(ValueError, match="not row-stochastic"):
        GoldCorrectedCrossEntropy([[0.5, 0.4], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\)"):
        GoldCorrectedCrossEntropy(np.eye(2), eps=0.0)
    loss = GoldCorrectedCrossEntropy(np.eye(2))
    loss.set_transition_matrix([[0.9, 0.1], [0.2, 0.8]])
    np.testing.assert_allclose(loss.T.numpy(), [[0.9, 0.1], [0.2, 0.8]], atol=1e-7)
    with pytest.raises(ValueError, match=r"expected shape \(2, 2\)"):
        loss.set_transition_matrix(np.eye(3))
    assert "n_classes=2" in repr(loss)


def test_skorch_params_reach_the_criterion(flip_data):
    X, y, _, trusted, _ = flip_data
    clf = _glc(max_epochs=1, criterion__eps=1e-4).fit(X, y, trusted=trusted)
    assert clf.criterion_.eps == 1e-4


# --------------------------------------------------------------------------- sklearn checks
# sklearn's checks call fit(X, y) without a trusted mask. GLC has no sound way
# to estimate T without trusted rows, so it refuses with its clear ValueError;
# every check below fits the estimator and so fails *for that reason only*,
# which the test asserts (stricter than an xfail).
NEEDS_TRUSTED_CHECKS = CHECKS_THAT_FIT_WITHOUT_TRUSTED
_SKORCH_INIT = "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (skorch design, not ours)"


def _check_name(check):
    func = getattr(check, "func", check)
    return getattr(func, "__name__", str(func))


def _error_chain_text(exc):
    texts = []
    while exc is not None:
        texts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return " | ".join(texts)


def _is_sample_weight_check(check):
    return "sample_weight" in _check_name(check)


@parametrize_with_checks(
    [GLCClassifier(MLP, **FAST_NET_PARAMS)],
    expected_failed_checks=lambda est: {"check_no_attributes_set_in_init": _SKORCH_INIT},
)
def test_sklearn_compatible_estimator(estimator, check):
    if _check_name(check) == "check_sample_weight_equivalence_on_dense_data":
        pytest.xfail(
            "a weight of 2 is not a repeated row for a network trained by mini-batch SGD (the batches differ), "
            "and the default trusted rows (every third row of each class) move when rows are repeated"
        )
    if _is_sample_weight_check(check):
        # GLC weights its rows, so these checks run on its real training code
        # with trusted rows (every third row of each class)
        check(with_default_trusted(GLCClassifier)(MLP, **FAST_NET_PARAMS))
    elif _check_name(check) in NEEDS_TRUSTED_CHECKS:
        with pytest.raises(Exception) as info:
            check(estimator)
        assert "GLCClassifier needs trusted rows" in _error_chain_text(info.value)
    else:
        check(estimator)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(flip_data):
    X, y, _, trusted, _ = flip_data
    clf = _glc(max_epochs=2, device="cuda").fit(X, y, trusted=trusted)
    assert clf.criterion_.T.device.type == "cuda"
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_sample_weight_weights_each_row_of_the_joint_loss(flip_data):
    import torch

    from sknoisy._targets import make_target_table

    X, y, _, trusted, _ = flip_data
    weight = np.where(np.arange(len(y)) % 2 == 0, 2.0, 0.5)
    clf = _glc(max_epochs=1).fit(X, y, trusted=trusted, sample_weight=weight)
    logits = torch.randn(6, clf.transition_matrix_.shape[0], generator=torch.Generator().manual_seed(0))
    labels = torch.as_tensor(np.searchsorted(clf.classes_, y[:6]))
    flags = torch.as_tensor(trusted[:6])
    w = torch.tensor([2.0, 0.5, 2.0, 0.5, 2.0, 0.5])
    table = torch.as_tensor(make_target_table(labels.numpy(), flags.numpy(), weight=w.numpy()))
    criterion = type(clf.criterion_)(transition_matrix=clf.transition_matrix_, reduction="none")
    per_row = criterion(logits, labels, flags)
    np.testing.assert_allclose(float(clf.get_loss(logits, table)), float((w * per_row).mean()), rtol=1e-5)
    # no weight column: the plain mean, as before
    unweighted = torch.as_tensor(make_target_table(labels.numpy(), flags.numpy()))
    np.testing.assert_allclose(float(clf.get_loss(logits, unweighted)), float(per_row.mean()), rtol=1e-5)
