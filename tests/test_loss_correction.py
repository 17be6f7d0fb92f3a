"""ForwardCorrectedClassifier and BackwardCorrectedClassifier."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sknoisy import (
    BackwardCorrectedClassifier,
    CrossEntropyClassifier,
    ForwardCorrectedClassifier,
    TransitionMatrixEstimator,
    make_noisy_classification,
    make_transition_matrix,
)
from sknoisy.losses import (
    BackwardCorrectedCrossEntropy,
    EstimatedTransitionBackwardWarning,
    ForwardCorrectedCrossEntropy,
    forward_corrected_cross_entropy,
)
from sknoisy._glc import GLCClassifier
from sknoisy.modules import MLP
from sknoisy.transition import TRANSITION_METHODS
from sknoisy.utils._testing import make_fast_estimator

CORRECTED = [ForwardCorrectedClassifier, BackwardCorrectedClassifier]


@pytest.fixture(scope="module")
def flip_problem():
    """A fixed 3-class problem with 40% flip-to-one noise on the training rows."""
    X, y_noisy, y_clean, T = make_noisy_classification(
        1500, n_features=10, n_classes=3, noise="flip_to_one", rate=0.4, class_sep=1.5, random_state=0
    )
    return X[:1000], y_noisy[:1000], X[1000:], y_clean[1000:], T


def test_forward_with_true_T_beats_plain_ce(flip_problem):
    X, y_noisy, X_test, y_test, T = flip_problem
    params = dict(max_epochs=30, lr=0.01, random_state=0)
    ce = CrossEntropyClassifier(MLP, **params).fit(X, y_noisy).score(X_test, y_test)
    forward = ForwardCorrectedClassifier(MLP, transition_matrix=T, **params).fit(X, y_noisy)
    acc = forward.score(X_test, y_test)
    # measured: CE 0.60, forward 0.82
    assert acc > ce + 0.1, (acc, ce)
    np.testing.assert_allclose(forward.transition_matrix_, T)
    assert isinstance(forward.criterion_, ForwardCorrectedCrossEntropy)


@pytest.mark.parametrize("cls", CORRECTED)
@pytest.mark.parametrize(
    "spec",
    ["anchor", "dual_t", None, TransitionMatrixEstimator(LogisticRegression(), cv=2)],
    ids=["anchor", "dual_t", "default", "estimator"],
)
def test_transition_matrix_specs_are_estimated(cls, spec, flip_problem):
    X, y_noisy, *_ = flip_problem
    clf = make_fast_estimator(cls, transition_matrix=spec, max_epochs=3).fit(X[:300], y_noisy[:300])
    T_hat = clf.transition_matrix_
    assert T_hat.shape == (3, 3)
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)
    assert clf.transition_matrix_estimator_ is not None
    # the user's estimator is cloned, never fitted in place
    if isinstance(spec, TransitionMatrixEstimator):
        assert not hasattr(spec, "transition_matrix_")


def test_default_estimation_uses_this_network_for_stage_one(flip_problem):
    X, y_noisy, *_ = flip_problem
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=None, max_epochs=3).fit(X[:300], y_noisy[:300])
    stage1 = clf.transition_matrix_estimator_.estimator
    assert isinstance(stage1, CrossEntropyClassifier)
    assert stage1.module is MLP and stage1.module__hidden_units == (16,)
    assert clf.transition_matrix_estimator_.oof_proba_.shape == (300, 3)


def test_gold_method_uses_the_trusted_mask(flip_problem):
    X, y_noisy, *_ = flip_problem
    mask = np.zeros(300, dtype=bool)
    mask[:90] = True
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix="gold", max_epochs=3)
    clf.fit(X[:300], y_noisy[:300], trusted=mask)
    assert clf.transition_matrix_.shape == (3, 3)
    with pytest.raises(ValueError, match="needs trusted rows"):
        make_fast_estimator(ForwardCorrectedClassifier, transition_matrix="gold").fit(X[:300], y_noisy[:300])


@pytest.mark.parametrize("cls", CORRECTED)
def test_T_of_wrong_size_is_refused(cls, flip_problem):
    X, y_noisy, *_ = flip_problem
    with pytest.raises(ValueError, match=r"has shape \(2, 2\) but there are 3 classes"):
        make_fast_estimator(cls, transition_matrix=np.eye(2)).fit(X[:100], y_noisy[:100])


@pytest.mark.parametrize("cls", CORRECTED)
def test_T_not_row_stochastic_is_refused(cls, flip_problem):
    X, y_noisy, *_ = flip_problem
    with pytest.raises(ValueError, match="not row-stochastic"):
        make_fast_estimator(cls, transition_matrix=np.full((3, 3), 0.5)).fit(X[:100], y_noisy[:100])
    with pytest.raises(ValueError, match="NaN or infinity"):
        make_fast_estimator(cls, transition_matrix=np.full((3, 3), np.nan)).fit(X[:100], y_noisy[:100])


def test_unknown_method_name_is_refused(flip_problem):
    X, y_noisy, *_ = flip_problem
    with pytest.raises(ValueError, match=r"The 'transition_matrix' parameter of ForwardCorrectedClassifier .*'anchor'"):
        make_fast_estimator(ForwardCorrectedClassifier, transition_matrix="magic").fit(X[:100], y_noisy[:100])


def test_backward_refuses_a_singular_T_before_training(flip_problem):
    X, y_noisy, *_ = flip_problem
    singular = make_transition_matrix("uniform", 3, 1.0)  # every row 1/3: rank 1
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=singular)
    with pytest.raises(ValueError, match="singular"):
        clf.fit(X[:100], y_noisy[:100])
    assert not hasattr(clf, "module_") or not clf.initialized_


def test_backward_warns_on_an_ill_conditioned_T_and_stays_finite(flip_problem):
    X, y_noisy, X_test, *_ = flip_problem
    T = make_transition_matrix("symmetric", 3, 0.665)  # condition number 400; singular at 2/3
    with pytest.warns(UserWarning, match="ill-conditioned"):
        clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=T, max_epochs=5).fit(X, y_noisy)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert np.isfinite(clf.predict_proba(X_test)).all()
    assert isinstance(clf.criterion_, BackwardCorrectedCrossEntropy)


def test_backward_warns_with_an_estimated_T_and_says_why(flip_problem):
    """Backward with T-hat fell below CE in every benchmarked setting, however well conditioned T-hat was."""
    X, y_noisy, *_ = flip_problem
    spec = TransitionMatrixEstimator(LogisticRegression(), method="anchor", cv=2)
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=spec, max_epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X[:300], y_noisy[:300])
    ours = [w for w in caught if issubclass(w.category, EstimatedTransitionBackwardWarning)]
    assert len(ours) == 1 and issubclass(ours[0].category, UserWarning)
    message = str(ours[0].message)
    assert "with an estimated (method 'anchor') transition matrix is unreliable" in message
    assert "T^-1, which amplifies the estimate's errors" in message
    assert "fell below plain cross-entropy" in message
    assert "Prefer ForwardCorrectedClassifier" in message
    # not an ill-conditioning warning (benchmarks/patrini.py counts those by the word "condition")
    assert "condition" not in message.lower()
    # the matrix's own figures are in the message
    assert f"smallest diagonal entry {np.diag(clf.transition_matrix_).min():.3g}" in message


@pytest.mark.parametrize("spec", ["anchor", None], ids=["name", "default"])
def test_backward_warns_with_every_kind_of_estimated_T(spec, flip_problem):
    X, y_noisy, *_ = flip_problem
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=spec, max_epochs=1)
    with pytest.warns(EstimatedTransitionBackwardWarning, match="use forward correction with the same estimate"):
        clf.fit(X[:300], y_noisy[:300])


def test_backward_with_a_known_T_and_forward_with_an_estimate_do_not_warn(flip_problem):
    X, y_noisy, _, _, T = flip_problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=T, max_epochs=1).fit(X[:300], y_noisy[:300])
    spec = TransitionMatrixEstimator(LogisticRegression(), method="anchor", cv=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        forward = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=spec, max_epochs=1)
        forward.fit(X[:300], y_noisy[:300])
    assert not [w for w in caught if issubclass(w.category, EstimatedTransitionBackwardWarning)]


def test_predict_proba_is_clean_not_T_applied(flip_problem):
    X, y_noisy, X_test, _, T = flip_problem
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=T, max_epochs=5).fit(X, y_noisy)
    logits = clf.forward(X_test.astype(np.float32)).numpy()
    expected = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X_test), expected, rtol=1e-5, atol=1e-6)


def test_initialize_before_fit_needs_an_array_T():
    clf = ForwardCorrectedClassifier(MLP, module__n_features=4, module__n_classes=3, transition_matrix=np.eye(3))
    clf.initialize()
    assert clf.criterion_.transition_matrix.shape == (3, 3)
    with pytest.raises(ValueError, match="estimates its transition matrix in fit"):
        ForwardCorrectedClassifier(MLP, module__n_features=4, module__n_classes=3).initialize()


# ------------------------------------------------------------- the T lifecycle
@pytest.mark.parametrize("cls", CORRECTED)
def test_warm_start_refit_trains_with_the_new_T(cls, flip_problem):
    """A criterion kept by warm_start is given each fit's T (it kept the first one before)."""
    X, y_noisy, *_ = flip_problem
    T1 = make_transition_matrix("symmetric", 3, 0.2)
    T2 = make_transition_matrix("symmetric", 3, 0.4)
    clf = make_fast_estimator(cls, transition_matrix=T1, warm_start=True, max_epochs=1).fit(X[:200], y_noisy[:200])
    criterion = clf.criterion_
    clf.set_params(transition_matrix=T2).fit(X[:200], y_noisy[:200])
    assert clf.criterion_ is criterion  # warm start: the same criterion (and network) trained on
    np.testing.assert_allclose(clf.transition_matrix_, T2)
    np.testing.assert_allclose(clf.criterion_.T.numpy(), T2, rtol=1e-6)
    if cls is BackwardCorrectedClassifier:
        np.testing.assert_allclose(clf.criterion_.T_inv.numpy(), np.linalg.inv(T2), rtol=1e-5)


class _CriterionWithoutSetter(torch.nn.Module):
    """A user's T criterion that cannot be updated in place."""

    def __init__(self, transition_matrix):
        super().__init__()
        self.T = torch.as_tensor(np.asarray(transition_matrix), dtype=torch.float32)

    def forward(self, logits, target):
        return forward_corrected_cross_entropy(logits, target, self.T)


def test_warm_start_rebuilds_a_criterion_without_set_transition_matrix(flip_problem):
    X, y_noisy, *_ = flip_problem
    T1 = make_transition_matrix("symmetric", 3, 0.2)
    T2 = make_transition_matrix("symmetric", 3, 0.4)
    clf = make_fast_estimator(
        ForwardCorrectedClassifier, transition_matrix=T1, criterion=_CriterionWithoutSetter, warm_start=True,
        max_epochs=1,
    ).fit(X[:100], y_noisy[:100])
    clf.set_params(transition_matrix=T2).fit(X[:100], y_noisy[:100])
    np.testing.assert_allclose(clf.criterion_.T.numpy(), T2, rtol=1e-6)


def test_warm_start_refit_refuses_a_singular_T_for_backward(flip_problem):
    X, y_noisy, *_ = flip_problem
    T = make_transition_matrix("symmetric", 3, 0.2)
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=T, warm_start=True, max_epochs=1)
    clf.fit(X[:100], y_noisy[:100])
    with pytest.raises(ValueError, match="singular"):
        clf.set_params(transition_matrix=make_transition_matrix("uniform", 3, 1.0)).fit(X[:100], y_noisy[:100])
    np.testing.assert_allclose(clf.criterion_.T.numpy(), T, rtol=1e-6)


def test_backward_warns_once_per_fit_and_honours_max_condition(flip_problem):
    X, y_noisy, *_ = flip_problem
    T = make_transition_matrix("symmetric", 3, 0.665)  # condition number 400
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix=T, max_epochs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X[:100], y_noisy[:100])
    assert sum("ill-conditioned" in str(w.message) for w in caught) == 1
    # the early check uses the criterion's own threshold
    with pytest.raises(ValueError, match="max_condition=100"):
        clf.set_params(criterion__max_condition=100).fit(X[:100], y_noisy[:100])
    assert clf.set_params(criterion__max_condition=None, criterion__warn_condition=None).fit(X[:100], y_noisy[:100])


@pytest.mark.parametrize("cls", CORRECTED)
def test_docstring_lists_every_transition_method(cls):
    for name in TRANSITION_METHODS:
        assert repr(name) in cls.__doc__, name


# ------------------------------------------------------------ warm-up epochs
@pytest.mark.parametrize("cls", [ForwardCorrectedClassifier, BackwardCorrectedClassifier, GLCClassifier])
def test_warm_up_epochs_train_exactly_as_plain_cross_entropy(cls, flip_problem):
    """The first warm_up_epochs epochs are plain cross-entropy: the same network as CrossEntropyClassifier's."""
    X, y_noisy, X_test, _, T = flip_problem
    X, y = X[:300], y_noisy[:300]
    trusted = np.zeros(len(y), dtype=bool)
    trusted[::5] = True
    fit_params = {"trusted": trusted} if cls is GLCClassifier else {}
    warm = make_fast_estimator(cls, transition_matrix=T, warm_up_epochs=2, max_epochs=2).fit(X, y, **fit_params)
    plain = make_fast_estimator(CrossEntropyClassifier, max_epochs=2).fit(X, y)
    np.testing.assert_allclose(warm.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(warm.history[:, "train_loss"], plain.history[:, "train_loss"], rtol=1e-5)
    corrected = make_fast_estimator(cls, transition_matrix=T, warm_up_epochs=0, max_epochs=2).fit(X, y, **fit_params)
    assert not np.allclose(corrected.predict_proba(X_test), plain.predict_proba(X_test), atol=1e-4)


def test_warm_up_hands_over_to_the_corrected_loss(flip_problem):
    X, y_noisy, X_test, _, T = flip_problem
    X, y = X[:300], y_noisy[:300]
    longer = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=T, warm_up_epochs=1, max_epochs=3).fit(X, y)
    plain = make_fast_estimator(CrossEntropyClassifier, max_epochs=3).fit(X, y)
    losses, plain_losses = longer.history[:, "train_loss"], plain.history[:, "train_loss"]
    np.testing.assert_allclose(losses[0], plain_losses[0], rtol=1e-5)
    assert not np.isclose(losses[1], plain_losses[1], rtol=1e-3)
    # a loss computed outside a training step is the corrected one, warm-up or not
    logits = torch.randn(5, 3)
    labels = torch.tensor([0, 1, 2, 0, 1])
    expected = ForwardCorrectedCrossEntropy(T)(logits, labels)
    fresh = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=T, warm_up_epochs=5, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(float(fresh.get_loss(logits, labels)), float(expected), rtol=1e-5)


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
@pytest.mark.parametrize("cls", [ForwardCorrectedClassifier, BackwardCorrectedClassifier, GLCClassifier])
def test_warm_up_epochs_is_validated(cls, value, flip_problem):
    X, y_noisy, _, _, T = flip_problem
    trusted = np.zeros(100, dtype=bool)
    trusted[::5] = True
    fit_params = {"trusted": trusted} if cls is GLCClassifier else {}
    message = rf"The 'warm_up_epochs' parameter of {cls.__name__} must be an int in the range \[0, inf\)"
    with pytest.raises(ValueError, match=message):
        make_fast_estimator(cls, transition_matrix=T, warm_up_epochs=value).fit(X[:100], y_noisy[:100], **fit_params)
