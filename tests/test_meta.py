"""Meta Loss Correction (sknoisy._meta)."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sknoisy._meta as meta
from sknoisy import (
    ForwardCorrectedClassifier,
    make_noisy_classification,
    transition_matrix_error,
)
from sknoisy._meta import (
    MetaLossCorrectionClassifier,
    _meta_gradient,
    _update_transition_matrix,
    _virtual_meta_loss,
)
from sknoisy.base import TrustedValidSplit
from sknoisy.modules import MLP
from sknoisy.utils._testing import CHECKS_THAT_FIT_WITHOUT_TRUSTED, make_fast_estimator


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # The nets here are tiny: several intra-op threads only fight over the
    # cores (tens of times slower on a busy two-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fast(**overrides):
    params = {"max_epochs": 3, "meta_batch_size": 16}
    params.update(overrides)
    return make_fast_estimator(MetaLossCorrectionClassifier, **params)


def _with_trusted(X, y_noisy, y_clean, per_class, seed=0):
    rng = np.random.RandomState(seed)
    trusted = np.zeros(len(y_clean), dtype=bool)
    for c in np.unique(y_clean):
        trusted[rng.choice(np.flatnonzero(y_clean == c), per_class, replace=False)] = True
    return np.where(trusted, y_clean, y_noisy), trusted


@pytest.fixture(scope="module")
def small():
    X, y_noisy, y_clean, T = make_noisy_classification(
        240, 6, 3, noise="flip_to_one", rate=0.3, random_state=0, class_sep=1.5
    )
    y, trusted = _with_trusted(X, y_noisy, y_clean, 10)
    return X.astype(np.float32), y, trusted, T


# ---------------------------------------------------------------- the maths
def _tiny_problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    module = torch.nn.Linear(3, 3).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 1])
    weights = torch.tensor([1, 1, 1, 1, 0, 1, 1, 1, 0, 1], dtype=torch.float64)
    x_meta = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y_meta = torch.tensor([0, 1, 2, 2, 1, 0])
    T = torch.tensor([[0.7, 0.2, 0.1], [0.15, 0.6, 0.25], [0.1, 0.3, 0.6]], dtype=torch.float64)
    return module, x, labels, weights, x_meta, y_meta, T


def test_meta_gradient_matches_finite_differences():
    module, x, labels, weights, x_meta, y_meta, T = _tiny_problem()
    alpha, eps = 0.5, 1e-7
    grad, meta_loss = _meta_gradient(module, module(x), labels, weights, T, x_meta, y_meta, alpha, eps)

    def loss_at(T_):
        return _virtual_meta_loss(module, module(x), labels, weights, T_, x_meta, y_meta, alpha, eps).item()

    assert meta_loss.item() == pytest.approx(loss_at(T))
    h = 1e-6
    numeric = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            step = torch.zeros_like(T)
            step[i, j] = h
            numeric[i, j] = (loss_at(T + step) - loss_at(T - step)) / (2 * h)
    assert np.abs(numeric).max() > 1e-3  # the check is not vacuous
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-9)


def test_meta_gradient_leaves_logits_graph_and_module_alone():
    module, x, labels, weights, x_meta, y_meta, T = _tiny_problem(1)
    before = [p.detach().clone() for p in module.parameters()]
    logits = module(x)
    _meta_gradient(module, logits, labels, weights, T, x_meta, y_meta, 0.1, 1e-7)
    # the graph of the logits is still there for the actual step
    logits.sum().backward()
    assert all(p.grad is not None for p in module.parameters())
    for p, q in zip(before, module.parameters()):
        torch.testing.assert_close(p, q.detach())


def test_meta_gradient_without_noisy_rows_is_zero_not_nan():
    module, x, labels, weights, x_meta, y_meta, T = _tiny_problem(2)
    grad, meta_loss = _meta_gradient(
        module, module(x), labels, torch.zeros_like(weights), T, x_meta, y_meta, 0.1, 1e-7
    )
    assert torch.isfinite(meta_loss)
    assert torch.equal(grad, torch.zeros_like(T))


def test_batch_norm_running_stats_untouched_by_look_ahead():
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3)).double()
    _, x, labels, weights, x_meta, y_meta, T = _tiny_problem(3)
    logits = module(x)
    mean = module[1].running_mean.clone()
    _meta_gradient(module, logits, labels, weights, T, x_meta, y_meta, 0.1, 1e-7)
    torch.testing.assert_close(module[1].running_mean, mean)


def test_update_is_projected_and_row_stochastic():
    T = torch.eye(3, dtype=torch.float64)
    grad = torch.tensor([[0.5, -1.0, 0.0], [0.2, 0.1, -0.3], [-2.0, 0.0, 0.0]], dtype=torch.float64)
    new, frozen = _update_transition_matrix(T, grad, 0.5)
    expected = np.maximum(np.eye(3) - 0.5 * grad.numpy(), 0)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(new.numpy(), expected)
    assert int(frozen) == 0


def test_update_keeps_a_row_that_would_vanish():
    T = torch.tensor([[0.6, 0.4, 0.0], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]])
    grad = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, float("nan"), 0.0]])
    new, frozen = _update_transition_matrix(T, grad, 10.0)
    torch.testing.assert_close(new[0], T[0])  # all zeros after the projection
    torch.testing.assert_close(new[1], T[1])  # zero gradient: unchanged
    torch.testing.assert_close(new[2], T[2])  # non-finite: kept
    assert int(frozen) == 2


def test_vanishing_rows_warn_once_per_fit(small, monkeypatch):
    X, y, trusted, _ = small

    def positive_gradient(module, logits, labels, weights, T, X_meta, y_meta, virtual_lr, eps):
        return torch.ones_like(T), torch.zeros((), dtype=T.dtype, device=T.device)

    monkeypatch.setattr(meta, "_meta_gradient", positive_gradient)
    clf = _fast(max_epochs=3, transition_matrix=np.full((3, 3), 1 / 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y, trusted=trusted)
    frozen_warnings = [w for w in caught if "would have become all zeros" in str(w.message)]
    assert len(frozen_warnings) == 1
    steps = clf.history[-1, "train_batch_count"]
    assert clf.history[:, "transition_matrix_frozen_rows"] == [3 * steps] * 3
    np.testing.assert_allclose(clf.transition_matrix_, np.full((3, 3), 1 / 3))


# ------------------------------------------------------ learning T for real
def _learning_problem(seed):
    X, y_noisy, y_clean, T = make_noisy_classification(
        2500, 10, 3, noise="flip_to_one", rate=0.3, random_state=seed, n_informative=5, class_sep=1.5
    )
    X = X.astype(np.float32)
    y, trusted = _with_trusted(X[:2000], y_noisy[:2000], y_clean[:2000], 25, seed)
    return X[:2000], y, trusted, T, X[2000:], y_clean[2000:]


# MLC's meta objective (one-step look-ahead on 75 trusted rows) makes T
# wander around; on this problem 7 of seeds 0-7 end within 5 points of the
# oracle (forward correction with the true T) and all with a T closer to the
# truth than the identity. Seed 3 is one of them, with margin.
@pytest.mark.parametrize("seed", [3])
def test_learns_transition_matrix_and_matches_forward_with_true_T(seed):
    X, y, trusted, T, X_test, y_test = _learning_problem(seed)
    net = {"module__hidden_units": (16,), "max_epochs": 20, "batch_size": 64, "lr": 0.01, "random_state": seed}
    clf = MetaLossCorrectionClassifier(MLP, meta_lr=2.0, **net).fit(X, y, trusted=trusted)
    error = transition_matrix_error(clf.transition_matrix_, T)
    assert error <= 0.75 * transition_matrix_error(np.eye(3), T)
    forward = ForwardCorrectedClassifier(MLP, transition_matrix=T, **net).fit(X, y)
    assert clf.score(X_test, y_test) >= forward.score(X_test, y_test) - 0.05


def test_history_records_transition_matrix_per_epoch(small):
    X, y, trusted, _ = small
    clf = _fast().fit(X, y, trusted=trusted)
    assert len(clf.history[:, "transition_matrix"]) == 3
    last = np.asarray(clf.history[-1, "transition_matrix"])
    np.testing.assert_allclose(last, clf.transition_matrix_, atol=1e-6)
    changes = clf.history[:, "transition_matrix_change"]
    assert all(c >= 0 for c in changes) and changes[0] > 0
    assert all(np.isfinite(clf.history[:, "meta_loss"]))
    np.testing.assert_allclose(clf.initial_transition_matrix_, np.eye(3))
    np.testing.assert_allclose(clf.transition_matrix_.sum(axis=1), 1.0)
    assert (clf.transition_matrix_ >= 0).all()


# ---------------------------------------------------------------- options
class _Spy:
    def __init__(self, monkeypatch):
        self.starts = []
        original = meta._update_transition_matrix

        def spy(T, grad, meta_lr):
            self.starts.append(T.detach().cpu().numpy().copy())
            return original(T, grad, meta_lr)

        monkeypatch.setattr(meta, "_update_transition_matrix", spy)


def test_reset_each_step_starts_every_step_from_the_initial_T(small, monkeypatch):
    X, y, trusted, _ = small
    spy = _Spy(monkeypatch)
    _fast(reset_each_step=True, max_epochs=2).fit(X, y, trusted=trusted)
    assert len(spy.starts) > 2
    for start in spy.starts:
        np.testing.assert_allclose(start, np.eye(3))
    spy.starts.clear()
    _fast(reset_each_step=False, max_epochs=2).fit(X, y, trusted=trusted)
    assert not np.allclose(spy.starts[-1], np.eye(3))


def test_T_persists_across_partial_fit_and_fit_restarts(small, monkeypatch):
    X, y, trusted, _ = small
    clf = _fast(max_epochs=2).fit(X, y, trusted=trusted)
    learned = clf.transition_matrix_.copy()
    spy = _Spy(monkeypatch)
    clf.partial_fit(X, y, trusted=trusted)
    np.testing.assert_allclose(spy.starts[0], learned, atol=1e-6)
    spy.starts.clear()
    clf.fit(X, y, trusted=trusted)
    np.testing.assert_allclose(spy.starts[0], np.eye(3))


def test_initial_T_from_array(small):
    X, y, trusted, T = small
    clf = _fast(max_epochs=1).fit(X, y, trusted=trusted)
    assert clf.transition_matrix_estimator_ is None
    clf = _fast(max_epochs=1, transition_matrix=T).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(clf.initial_transition_matrix_, T)
    assert clf.transition_matrix_estimator_ is None


@pytest.mark.parametrize(
    "optimizer, extra",
    [(torch.optim.SGD, {"optimizer__momentum": 0.9}), (torch.optim.Adam, {}), (torch.optim.AdamW, {})],
)
def test_any_optimizer_trains(small, optimizer, extra):
    X, y, trusted, _ = small
    clf = _fast(optimizer=optimizer, lr=0.05, max_epochs=4, **extra).fit(X, y, trusted=trusted)
    losses = clf.history[:, "train_loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert clf.score(X, y) > 0.5


def test_batches_without_untrusted_rows_give_zero_loss(small):
    X, y, trusted, _ = small
    order = np.argsort(~trusted, kind="stable")  # all trusted rows first
    X, y, trusted = X[order], y[order], trusted[order]
    clf = _fast(batch_size=10, max_epochs=1, iterator_train__shuffle=False).fit(X, y, trusted=trusted)
    batch_losses = [b["train_loss"] for b in clf.history[0, "batches"]]
    assert batch_losses[0] == 0.0
    assert np.all(np.isfinite(batch_losses)) and batch_losses[-1] > 0


def test_same_seed_same_model_and_global_rng_untouched(small):
    X, y, trusted, _ = small
    state = torch.random.get_rng_state()
    a = _fast().fit(X, y, trusted=trusted)
    b = clone(a).fit(X, y, trusted=trusted)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.transition_matrix_, b.transition_matrix_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_meta_set_excludes_trusted_validation_rows(small, monkeypatch):
    X, y, trusted, _ = small
    sizes = []
    original = MetaLossCorrectionClassifier._draw_meta_batch

    def spy(self, state):
        sizes.append(state["y"].shape[0])
        return original(self, state)

    monkeypatch.setattr(MetaLossCorrectionClassifier, "_draw_meta_batch", spy)
    clf = _fast(max_epochs=2, train_split=TrustedValidSplit(0.2, random_state=0)).fit(X, y, trusted=trusted)
    assert set(sizes) == {trusted.sum() - 6}  # 2 of each class's 10 held out
    assert len(clf.history[:, "valid_acc"]) == 2
    assert np.isfinite(clf.history[-1, "valid_loss"])


def test_predict_proba_is_clean_softmax(small):
    X, y, trusted, _ = small
    clf = _fast().fit(X, y, trusted=trusted)
    proba = clf.predict_proba(X)
    with torch.no_grad():
        logits = clf.module_(torch.as_tensor(X))
    np.testing.assert_allclose(proba, torch.softmax(logits, 1).numpy(), rtol=1e-5, atol=1e-6)


def test_grid_search_over_meta_lr_with_routed_trusted_mask(small):
    X, y, trusted, _ = small
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _fast(max_epochs=2).set_fit_request(trusted=True)
        pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
        grid = GridSearchCV(pipe, {"clf__meta_lr": [1.0, 10.0]}, cv=KFold(2, shuffle=True, random_state=0))
        grid.fit(X, y, trusted=trusted)
    assert grid.best_params_["clf__meta_lr"] in (1.0, 10.0)
    assert grid.best_estimator_[-1].transition_matrix_.shape == (3, 3)


def test_pickle_and_clone(small):
    X, y, trusted, _ = small
    clf = _fast(meta_lr=2.0, virtual_lr=0.05, meta_batch_size=8, reset_each_step=True)
    cloned = clone(clf)
    assert cloned.get_params()["meta_lr"] == 2.0 and cloned.get_params()["meta_batch_size"] == 8
    clf.fit(X, y, trusted=trusted)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    np.testing.assert_array_equal(clf.transition_matrix_, again.transition_matrix_)
    # a pickled net still trains on
    again.partial_fit(X, y, trusted=trusted)
    assert not hasattr(clone(clf), "transition_matrix_")


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"virtual_lr": 0.0}, ValueError, "virtual_lr must be a positive"),
        ({"virtual_lr": -1e-2}, ValueError, "virtual_lr must be a positive"),
        ({"virtual_lr": "big"}, TypeError, "virtual_lr must be a positive real"),
        ({"meta_lr": 0}, ValueError, "meta_lr must be a positive"),
        ({"meta_lr": float("inf")}, ValueError, "meta_lr must be a positive finite"),
        ({"meta_lr": None}, TypeError, "meta_lr must be a positive real"),
        ({"meta_batch_size": 0}, ValueError, "meta_batch_size must be an integer >= 1"),
        ({"meta_batch_size": 2.5}, ValueError, "meta_batch_size must be an integer >= 1"),
        ({"reset_each_step": "yes"}, TypeError, "reset_each_step must be True or False"),
        ({"criterion": torch.nn.CrossEntropyLoss}, TypeError, "criterion must be sknoisy.losses.Forward"),
    ],
)
def test_bad_parameters(small, params, error, match):
    X, y, trusted, _ = small
    with pytest.raises(error, match=match):
        _fast(**params).fit(X, y, trusted=trusted)


def test_no_trusted_rows(small):
    X, y, _, _ = small
    with pytest.raises(ValueError, match="needs trusted .clean. rows"):
        _fast().fit(X, y)
    with pytest.raises(ValueError, match="needs trusted .clean. rows"):
        _fast().fit(X, y, trusted=np.zeros(len(y), dtype=bool))


def test_trusted_rows_of_a_single_class(small):
    X, y, trusted, _ = small
    single = trusted & (y == 1)
    with pytest.raises(ValueError, match="trusted rows of at least 2 classes.*label 1"):
        _fast().fit(X, y, trusted=single)


def test_every_row_trusted(small):
    X, y, trusted, _ = small
    with pytest.raises(ValueError, match="every row is trusted.*CrossEntropyClassifier"):
        _fast().fit(X, y, trusted=np.ones(len(y), dtype=bool))
    clf = _fast(max_epochs=1).fit(X, y, trusted=trusted)
    with pytest.raises(ValueError, match="every row is trusted"):
        clf.partial_fit(X, y, trusted=np.ones(len(y), dtype=bool))


def test_bad_trusted_mask(small):
    X, y, trusted, _ = small
    with pytest.raises(ValueError, match="trusted has length"):
        _fast().fit(X, y, trusted=trusted[:-1])
    with pytest.raises(ValueError, match="must be a boolean mask"):
        _fast().fit(X, y, trusted=np.flatnonzero(trusted))


def test_fit_loop_alone_is_refused(small):
    X, y, trusted, _ = small
    clf = _fast().fit(X, y, trusted=trusted)
    table = np.column_stack([np.searchsorted(clf.classes_, y), trusted]).astype(np.int64)
    with pytest.raises(RuntimeError, match="trains through fit or partial_fit"):
        clf.fit_loop(X, table, epochs=1)


# ------------------------------------------------------- device and sklearn
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(small, monkeypatch):
    X, y, trusted, _ = small
    devices = []
    original = MetaLossCorrectionClassifier._draw_meta_batch

    def spy(self, state):
        devices.append((state["X"].device.type, state["y"].device.type, state["initial_T"].device.type,
                        self.criterion_.T.device.type, state["generator"].device.type))
        return original(self, state)

    monkeypatch.setattr(MetaLossCorrectionClassifier, "_draw_meta_batch", spy)
    clf = _fast(device="cuda", meta_batch_size=8).fit(X, y, trusted=trusted)
    assert set(devices) == {("cuda",) * 5}
    assert isinstance(clf.transition_matrix_, np.ndarray)
    np.testing.assert_allclose(clf.transition_matrix_.sum(axis=1), 1.0)
    assert clf.predict_proba(X).shape == (len(X), 3)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))


class _TrustedByDefault(MetaLossCorrectionClassifier):
    """Test-only: every other row of each class is trusted when no mask is given.

    sklearn's checks call fit(X, y) without ``trusted``; this lets them
    exercise everything else about the estimator.
    """

    @staticmethod
    def _default_mask(y, trusted):
        if trusted is not None or y is None:
            return trusted
        y = np.asarray(y)
        mask = np.zeros(len(y), dtype=bool)
        for label in np.unique(y):
            mask[np.flatnonzero(y == label)[::2]] = True
        return mask

    def fit(self, X, y, trusted=None, **fit_params):
        return super().fit(X, y, trusted=self._default_mask(y, trusted), **fit_params)

    def partial_fit(self, X, y=None, classes=None, trusted=None, **fit_params):
        trusted = self._default_mask(y, trusted)
        return super().partial_fit(X, y, classes=classes, trusted=trusted, **fit_params)


_SKORCH_INIT = "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (skorch design, not ours)"
_NEEDS_TRUSTED = (
    "MetaLossCorrectionClassifier needs trusted rows, and sklearn's checks call fit(X, y) "
    "without a trusted mask: fit raises a clear ValueError by design"
)
#: Every check of the real class that fits without a trusted mask.
CHECKS_NEEDING_TRUSTED = CHECKS_THAT_FIT_WITHOUT_TRUSTED


def _expected_failed_checks(estimator):
    failures = {"check_no_attributes_set_in_init": _SKORCH_INIT}
    if type(estimator) is MetaLossCorrectionClassifier:
        failures.update(dict.fromkeys(CHECKS_NEEDING_TRUSTED, _NEEDS_TRUSTED))
    return failures


@parametrize_with_checks([_fast(max_epochs=2), make_fast_estimator(_TrustedByDefault, max_epochs=2, meta_batch_size=16)], expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
