"""ForwardCorrectedClassifier(transition_matrix='volmin'): T learned with the network (VolMinNet)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sknoisy import (
    BackwardCorrectedClassifier,
    ForwardCorrectedClassifier,
    make_noisy_classification,
    make_transition_matrix,
    transition_matrix_error,
)
from sknoisy._loss_correction import volmin_initial_transition_matrix
from sknoisy.losses import (
    BackwardCorrectedCrossEntropy,
    ForwardCorrectedCrossEntropy,
    VolMinCrossEntropy,
    forward_corrected_cross_entropy,
)
from sknoisy.modules import MLP
from sknoisy.utils._testing import make_fast_estimator


@pytest.fixture(scope="module")
def flip_problem():
    """3 classes, 40% flip-to-one noise on the training rows."""
    X, y_noisy, y_clean, T = make_noisy_classification(
        1500, n_features=10, n_classes=3, noise="flip_to_one", rate=0.4, class_sep=1.5, random_state=0
    )
    return X[:1000], y_noisy[:1000], X[1000:], y_clean[1000:], T


def _volmin(**overrides):
    # no warm-up: these tests watch T learn from the first epoch
    return make_fast_estimator(ForwardCorrectedClassifier, transition_matrix="volmin", **{"warm_up_epochs": 0, **overrides})


# ------------------------------------------------------------------ the loss
def test_volmin_loss_is_forward_plus_weighted_log_det():
    T = make_transition_matrix("symmetric", 3, 0.3)
    criterion = VolMinCrossEntropy(T, volume_weight=0.5)
    np.testing.assert_allclose(criterion.transition_matrix.numpy(), T, rtol=1e-5)
    logits, target = torch.randn(8, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2] * 2 + [0, 1])
    expected = forward_corrected_cross_entropy(logits, target, T) + 0.5 * np.log(abs(np.linalg.det(T)))
    loss = criterion(logits, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    # T is a learnable parameter of the criterion (skorch optimises those): the gradient reaches it
    assert [name for name, _ in criterion.named_parameters()] == ["transition_logits"]
    assert criterion.transition_logits.grad.abs().sum() > 0
    assert isinstance(criterion, ForwardCorrectedCrossEntropy)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_volmin_loss_value_and_gradient_equal_the_op_by_op_construction(reduction):
    # the criterion builds T as a softmax and carries log|det T|'s gradient through a surrogate (speed);
    # both must give what the paper's construction through torch's autograd gives
    T0 = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.05, 0.15, 0.8]])
    criterion = VolMinCrossEntropy(T0, volume_weight=0.3, reduction=reduction)
    with torch.no_grad():
        criterion.transition_logits.add_(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)) * 0.5)
    W_ref = criterion.transition_logits.detach().clone().requires_grad_(True)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 3, generator=generator, requires_grad=True)
    logits_ref = logits.detach().clone().requires_grad_(True)
    target = torch.randint(0, 3, (16,), generator=generator)

    unnormalised = torch.eye(3) + torch.sigmoid(W_ref) * (1 - torch.eye(3))
    T_ref = unnormalised / unnormalised.sum(dim=1, keepdim=True)
    rows = 16 if reduction == "sum" else 1
    expected = forward_corrected_cross_entropy(logits_ref, target, T_ref, reduction=reduction) + (
        0.3 * rows * torch.linalg.slogdet(T_ref.double()).logabsdet.float()
    )
    loss = criterion(logits, target)
    torch.testing.assert_close(criterion.T, T_ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    weights = torch.linspace(0.5, 1.5, loss.numel()).reshape(loss.shape)
    (loss * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(criterion.transition_logits.grad, W_ref.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(logits.grad, logits_ref.grad, rtol=1e-5, atol=1e-7)


def test_singular_learned_T_gets_a_clear_error():
    from sknoisy.losses._transition import _volume_gradient

    with pytest.raises(ValueError, match="learned transition matrix became singular.*volmin_lambda"):
        _volume_gradient(torch.full((3, 3), 1 / 3), 0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_volume_gradient_carries_the_log_det_value_and_its_gradient(dtype):
    from sknoisy.losses._transition import _volume_gradient

    T = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.05, 0.15, 0.8]], dtype=dtype)
    G = _volume_gradient(T, 0.3)
    assert G.dtype == dtype
    T64 = T.double()
    # the value: sum(T * G) is the penalty itself
    assert float((T64 * G.double()).sum()) == pytest.approx(0.3 * float(torch.linalg.slogdet(T64).logabsdet), rel=1e-5)
    # the gradient: weight * T^-T plus one constant for the whole matrix (which the softmax over each row cancels)
    offset = G.double() - 0.3 * torch.linalg.inv(T64).mT
    torch.testing.assert_close(offset, torch.full_like(offset, float(offset[0, 0])), rtol=0, atol=1e-6)


def test_volmin_loss_sets_and_refuses_transition_matrices():
    criterion = VolMinCrossEntropy(np.eye(3) * 0.7 + 0.1)
    W = criterion.transition_logits
    T = make_transition_matrix("symmetric", 3, 0.2)
    criterion.set_transition_matrix(T)
    assert criterion.transition_logits is W  # in place: an optimizer holding it keeps working
    np.testing.assert_allclose(criterion.transition_matrix.numpy(), T, rtol=1e-5)
    with pytest.raises(ValueError, match=r"off-diagonal entry must be below its row's diagonal entry; T\[0, 1\]"):
        VolMinCrossEntropy([[0.4, 0.6], [0.1, 0.9]])
    with pytest.raises(ValueError, match="volume_weight"):
        VolMinCrossEntropy(T, volume_weight=-1.0)


def test_volmin_initial_T_has_diagonal_one_half():
    for C, diagonal in ((2, 2 / 3), (3, 0.5), (10, 0.5)):
        T = volmin_initial_transition_matrix(C)
        np.testing.assert_allclose(T.sum(axis=1), 1.0)
        np.testing.assert_allclose(np.diag(T), diagonal)


# ------------------------------------------------------------ the classifier
def test_volmin_learns_T_with_the_network(flip_problem):
    X, y_noisy, X_test, y_test, T = flip_problem
    clf = _volmin(max_epochs=30, lr=0.01, volmin_lambda=1e-2).fit(X, y_noisy)
    assert isinstance(clf.criterion_, VolMinCrossEntropy)
    assert clf.criterion_.volume_weight == 1e-2
    assert clf.transition_matrix_estimator_ is None
    learned = clf.transition_matrix_
    np.testing.assert_allclose(learned, clf.criterion_.transition_matrix.double().numpy())
    np.testing.assert_allclose(learned.sum(axis=1), 1.0, rtol=1e-6)
    start = volmin_initial_transition_matrix(3)
    # the learned T moved from its start towards the true one (measured: T error 0.50 -> 0.11)
    assert transition_matrix_error(learned, T) < 0.5 * transition_matrix_error(start, T)
    # measured: 0.85, as forward with the true T (0.84); plain CE 0.61
    assert clf.score(X_test, y_test) > 0.75


def test_volmin_T_has_its_own_learning_rate(flip_problem):
    X, y_noisy, *_ = flip_problem
    clf = _volmin(max_epochs=1, lr=0.05, volmin_lr=0.3, optimizer__weight_decay=1e-3).fit(X[:200], y_noisy[:200])
    W = clf.criterion_.transition_logits
    groups = clf.optimizer_.param_groups
    (own,) = [g for g in groups if any(p is W for p in g["params"])]
    assert own["params"] == [W] and own["lr"] == 0.3 and own["weight_decay"] == 0.0
    assert all(g["lr"] == 0.05 for g in groups if g is not own)
    # None: T shares the network's learning rate
    clf = _volmin(max_epochs=1, lr=0.05, volmin_lr=None).fit(X[:200], y_noisy[:200])
    assert len(clf.optimizer_.param_groups) == 1
    assert any(p is clf.criterion_.transition_logits for p in clf.optimizer_.param_groups[0]["params"])


def test_volmin_is_reproducible_clones_and_pickles(flip_problem):
    X, y_noisy, X_test, *_ = flip_problem
    a = _volmin(max_epochs=3, volmin_lambda=0.1).fit(X[:300], y_noisy[:300])
    b = clone(a).fit(X[:300], y_noisy[:300])
    assert b.get_params()["transition_matrix"] == "volmin" and b.volmin_lambda == 0.1
    np.testing.assert_array_equal(a.transition_matrix_, b.transition_matrix_)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(c.transition_matrix_, a.transition_matrix_)
    np.testing.assert_array_equal(c.predict_proba(X_test), a.predict_proba(X_test))
    np.testing.assert_array_equal(c.criterion_.transition_matrix.numpy(), a.criterion_.transition_matrix.numpy())


class _StartingT(Callback):
    """Records the criterion's T when training begins."""

    def initialize(self):
        self.seen = []
        return self

    def on_train_begin(self, net, **kwargs):
        self.seen.append(net.criterion_.transition_matrix.double().numpy().copy())


def test_volmin_warm_start_goes_on_from_the_learned_T(flip_problem):
    X, y_noisy, *_ = flip_problem
    spy = _StartingT()
    clf = _volmin(max_epochs=2, warm_start=True, volmin_lr=0.2, callbacks=[("spy", spy)]).fit(X[:300], y_noisy[:300])
    first = clf.transition_matrix_.copy()
    criterion = clf.criterion_
    clf.fit(X[:300], y_noisy[:300])
    assert clf.criterion_ is criterion
    np.testing.assert_allclose(spy.seen[0], volmin_initial_transition_matrix(3), rtol=1e-5)
    np.testing.assert_allclose(spy.seen[1], first, rtol=1e-6)  # not restarted from the initial T
    assert not np.allclose(first, volmin_initial_transition_matrix(3), atol=1e-3)


def test_volmin_refit_starts_again_from_the_initial_T(flip_problem):
    """Without warm_start a second fit is a new fit (it once went on from the first fit's learned T)."""
    X, y_noisy, X_test, *_ = flip_problem
    clf = _volmin(max_epochs=2, volmin_lr=0.2).fit(X[:300], y_noisy[:300])
    first, proba = clf.transition_matrix_.copy(), clf.predict_proba(X_test)
    clf.fit(X[:300], y_noisy[:300])
    np.testing.assert_array_equal(clf.transition_matrix_, first)
    np.testing.assert_array_equal(clf.predict_proba(X_test), proba)


def test_warm_start_switches_between_a_fixed_and_a_learned_T(flip_problem):
    X, y_noisy, _, _, T = flip_problem
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=T, warm_start=True, max_epochs=1)
    clf.fit(X[:200], y_noisy[:200])
    module = clf.module_
    clf.set_params(transition_matrix="volmin").fit(X[:200], y_noisy[:200])
    assert clf.module_ is module  # the network went on training
    assert isinstance(clf.criterion_, VolMinCrossEntropy)
    assert any(p is clf.criterion_.transition_logits for g in clf.optimizer_.param_groups for p in g["params"])
    clf.set_params(transition_matrix=T).fit(X[:200], y_noisy[:200])
    assert type(clf.criterion_) is ForwardCorrectedCrossEntropy
    np.testing.assert_allclose(clf.transition_matrix_, T)
    np.testing.assert_allclose(clf.criterion_.T.numpy(), T, rtol=1e-6)


def test_volmin_weights_rows_by_sample_weight(flip_problem):
    X, y_noisy, X_test, *_ = flip_problem
    weight = np.where(y_noisy[:300] == 0, 3.0, 1.0)
    plain = _volmin(max_epochs=3).fit(X[:300], y_noisy[:300])
    weighted = _volmin(max_epochs=3).fit(X[:300], y_noisy[:300], sample_weight=weight)
    assert not np.allclose(plain.predict_proba(X_test), weighted.predict_proba(X_test))
    uniform = _volmin(max_epochs=3).fit(X[:300], y_noisy[:300], sample_weight=np.ones(300))
    np.testing.assert_allclose(uniform.predict_proba(X_test), plain.predict_proba(X_test), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (
            {"volmin_lambda": -1.0},
            InvalidParameterError,
            r"The 'volmin_lambda' parameter of ForwardCorrectedClassifier must be a float in the range \[0\.0, inf\)\. "
            r"Got -1\.0 instead",
        ),
        ({"volmin_lambda": "big"}, InvalidParameterError, r"The 'volmin_lambda' parameter of .* Got 'big' instead"),
        (
            {"volmin_lr": 0.0},
            InvalidParameterError,
            r"The 'volmin_lr' parameter of ForwardCorrectedClassifier must be a float in the range \(0\.0, inf\) or "
            r"None\. Got 0\.0 instead\. \(None: the network's lr\.\)",
        ),
        ({"criterion": BackwardCorrectedCrossEntropy}, TypeError, "criterion must be the default or a subclass"),
    ],
)
def test_volmin_bad_parameters_are_refused(params, error, match, flip_problem):
    X, y_noisy, *_ = flip_problem
    with pytest.raises(error, match=match):
        _volmin(max_epochs=1, **params).fit(X[:100], y_noisy[:100])


def test_volmin_is_refused_where_T_is_needed_before_training(flip_problem):
    X, y_noisy, *_ = flip_problem
    clf = make_fast_estimator(BackwardCorrectedClassifier, transition_matrix="volmin", max_epochs=1)
    message = r"The 'transition_matrix' parameter of BackwardCorrectedClassifier .* Got 'volmin' instead\. .*need T before"
    with pytest.raises(InvalidParameterError, match=message):
        clf.fit(X[:100], y_noisy[:100])


def test_volmin_initialize_before_fit_needs_classes():
    clf = ForwardCorrectedClassifier(MLP, module__n_features=4, module__n_classes=3, transition_matrix="volmin")
    with pytest.raises(ValueError, match="estimates its transition matrix in fit"):
        clf.initialize()


@parametrize_with_checks(
    [_volmin(max_epochs=5)],
    expected_failed_checks=lambda est: {
        "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, initialized_, virtual_params_",
        "check_sample_weight_equivalence_on_dense_data": "float32 rounding of batch sums (as in test_common.py)",
    },
)
def test_volmin_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_volume_term_counts_once_per_row_with_reduction_sum():
    import torch

    from sknoisy.losses import VolMinCrossEntropy

    T = [[0.8, 0.2], [0.3, 0.7]]
    logits, target = torch.randn(5, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0, 1])
    per_row = VolMinCrossEntropy(T, volume_weight=0.1, reduction="none")(logits, target)
    total = VolMinCrossEntropy(T, volume_weight=0.1, reduction="sum")(logits, target)
    mean = VolMinCrossEntropy(T, volume_weight=0.1, reduction="mean")(logits, target)
    torch.testing.assert_close(total, per_row.sum())
    torch.testing.assert_close(mean, per_row.mean())


def test_learned_T_is_never_weight_decayed_even_by_an_optimizer_default():
    import torch
    from sklearn.datasets import make_classification

    from sknoisy import ForwardCorrectedClassifier
    from sknoisy.modules import MLP

    X, y = make_classification(60, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    clf = ForwardCorrectedClassifier(MLP, optimizer=torch.optim.AdamW, max_epochs=1, random_state=0)
    clf.fit(X.astype("float32"), y)
    W = clf.criterion_.transition_logits
    (group,) = [g for g in clf.optimizer_.param_groups if any(p is W for p in g["params"])]
    assert group["weight_decay"] == 0.0
    assert all(g["weight_decay"] == 0.01 for g in clf.optimizer_.param_groups if g is not group)
