"""Checks of the contracts scikit-learn's own estimator checks cannot see.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator` calls
``fit(X, y)``: it never passes a trusted mask, never looks at a transition
matrix, and cannot tell clean probabilities from noisy ones. The checks here
cover what an estimator of noisy labels promises on top of that:

* :func:`check_trusted_mask_routed_through_grid_search`: under metadata
  routing, ``GridSearchCV(cv=TrustedKFold(), scoring=trusted_scorer())``
  hands each fold's ``fit`` its slice of the trusted mask, and scores each
  fold on its trusted test rows only;
* :func:`check_predict_proba_is_clean`: ``predict_proba`` returns p(clean
  class | x) (the softmax of the module's logits), never the T-applied
  noisy-label probabilities;
* :func:`check_transition_matrix_convention`: ``transition_matrix_`` is
  ``T[i, j] = p(noisy = j | clean = i)``, of shape (n_classes, n_classes),
  rows summing to 1, in the order of ``classes_``;
* :func:`check_global_random_state_untouched`: ``fit`` and prediction leave
  the global numpy, torch and Python random states as they found them
  (with a fixed ``random_state``);
* :func:`check_warm_start_refreshes_transition_matrix`: a ``warm_start``
  refit with a new given ``transition_matrix`` trains with the new T.

Each check takes an estimator (it is cloned, never fitted in place), raises
``AssertionError`` with a message that says what is wrong, and raises
:class:`unittest.SkipTest` where it does not apply. Run them all with
:func:`check_estimator`, or one test per check with
:func:`parametrize_with_sknoisy_checks`::

    from sknoisy.utils.estimator_checks import parametrize_with_sknoisy_checks

    @parametrize_with_sknoisy_checks([MyCorrectedClassifier(MyModule, max_epochs=5)])
    def test_sknoisy_contracts(estimator, check):
        check(estimator)

They fit small data (90 rows, 4 features, 3 classes named 10, 20 and 30,
every third row of each class trusted, 40% of the untrusted rows of class 30
labelled 10), so give estimators settings that train in about a second.
"""

import random
from unittest import SkipTest

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

from .._targets import make_target_table

__all__ = [
    "check_estimator",
    "check_global_random_state_untouched",
    "check_predict_proba_is_clean",
    "check_transition_matrix_convention",
    "check_trusted_mask_routed_through_grid_search",
    "check_warm_start_refreshes_transition_matrix",
    "parametrize_with_sknoisy_checks",
    "yield_sknoisy_checks",
]

#: The class labels of the checks' data; sorted, they are ``classes_``.
CLASSES = (10, 20, 30)
#: The one noisy flip of the checks' data: clean class 30 labelled 10.
FLIP = (30, 10)
_FLIP_RATE = 0.4


def _noisy_data(n_per_class=30, n_features=4):
    """``(X, y_noisy, trusted)``: separable blobs, every third row of each class trusted.

    Rows are interleaved starting with class 30, so an estimator that orders
    classes by first appearance, not as ``classes_``, shows.
    """
    rng = np.random.RandomState(0)
    order = np.array([CLASSES[2], CLASSES[0], CLASSES[1]])
    y = np.tile(order, n_per_class)
    centers = 4.0 * np.eye(len(CLASSES), n_features)
    X = centers[np.searchsorted(CLASSES, y)] + rng.randn(len(y), n_features)
    trusted = np.zeros(len(y), dtype=bool)
    for label in CLASSES:
        trusted[np.flatnonzero(y == label)[::3]] = True
    noisy = y.copy()
    flippable = np.flatnonzero((y == FLIP[0]) & ~trusted)
    noisy[flippable[: int(round(_FLIP_RATE * flippable.size))]] = FLIP[1]
    return X.astype(np.float32), noisy, trusted


def _name(estimator):
    return type(estimator).__name__


def _fit(estimator):
    X, y, trusted = _noisy_data()
    return clone(estimator).fit(X, y, trusted=trusted), (X, y, trusted)


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------
def check_trusted_mask_routed_through_grid_search(estimator):
    """Each fold's ``fit`` gets its slice of ``trusted``; each fold is scored on its trusted rows.

    Runs ``GridSearchCV(estimator, {}, cv=TrustedKFold(3),
    scoring=trusted_scorer("accuracy"))`` with
    ``sklearn.config_context(enable_metadata_routing=True)`` and
    ``set_fit_request(trusted=True)``, recording what each fit receives.
    """
    from ..model_selection import TrustedKFold, trusted_scorer

    fits = []
    cls = type(estimator)

    def fit(self, X, y, trusted=None, **fit_params):
        fits.append((self, len(X), None if trusted is None else np.asarray(trusted).copy()))
        return cls.fit(self, X, y, trusted=trusted, **fit_params)

    recording = type(cls.__name__, (cls,), {"fit": fit, "__module__": cls.__module__, "__doc__": cls.__doc__})
    X, y, trusted = _noisy_data()
    cv = TrustedKFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = recording(**clone(estimator).get_params(deep=False)).set_fit_request(trusted=True)
        grid = GridSearchCV(est, {}, cv=cv, scoring=trusted_scorer("accuracy"), error_score="raise")
        grid.fit(X, y, trusted=trusted)
        splits = list(cv.split(X, y, trusted=trusted))
    assert len(fits) == len(splits) + 1, (
        f"{_name(estimator)}: GridSearchCV fitted {len(fits)} times, expected one fit per fold "
        f"({len(splits)}) and the refit"
    )
    for k, ((train, test), (fitted, n_rows, seen)) in enumerate(zip(splits, fits)):
        assert seen is not None, (
            f"{_name(estimator)}: fold {k} was fitted without the trusted mask; is it requested "
            "with set_fit_request(trusted=True)?"
        )
        assert n_rows == len(train) and np.array_equal(seen, trusted[train]), (
            f"{_name(estimator)}: fold {k} was fitted with a trusted mask that is not its slice of the mask"
        )
        rows = test[trusted[test]]
        expected = accuracy_score(y[rows], fitted.predict(X[rows]))
        score = grid.cv_results_[f"split{k}_test_score"][0]
        assert np.isclose(score, expected), (
            f"{_name(estimator)}: fold {k} scored {score:.4f}, but its accuracy on its trusted test rows "
            f"is {expected:.4f}"
        )
    assert np.array_equal(fits[-1][2], trusted), f"{_name(estimator)}: the refit did not get the whole trusted mask"


def check_predict_proba_is_clean(estimator):
    """``predict_proba`` is p(clean class | x): rows sum to 1, never T-applied.

    For a skorch net, it must be the softmax of the module's logits; where a
    ``transition_matrix_`` is fitted, it must differ from those
    probabilities times T (the noisy-label probabilities).
    """
    est, (X, _, _) = _fit(estimator)
    proba = np.asarray(est.predict_proba(X))
    n_classes = len(est.classes_)
    assert proba.shape == (len(X), n_classes), (
        f"{_name(estimator)}: predict_proba has shape {proba.shape}, expected {(len(X), n_classes)}"
    )
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0), f"{_name(estimator)}: predict_proba is not >= 0"
    np.testing.assert_allclose(
        proba.sum(axis=1), 1.0, atol=1e-5, err_msg=f"{_name(estimator)}: predict_proba rows do not sum to 1"
    )
    if not hasattr(est, "module_"):
        return
    from skorch.utils import to_numpy

    clean = _softmax(to_numpy(est.forward(X)).astype(np.float64))
    T = getattr(est, "transition_matrix_", None)
    if T is not None and not np.allclose(T, np.eye(n_classes), atol=1e-3):
        noisy = clean @ np.asarray(T, dtype=np.float64)
        assert not np.allclose(proba, noisy, atol=1e-4), (
            f"{_name(estimator)}: predict_proba returns the T-applied (noisy-label) probabilities; "
            "it must return the clean-class ones"
        )
    np.testing.assert_allclose(
        proba, clean, atol=1e-5, err_msg=f"{_name(estimator)}: predict_proba is not the softmax of the module's logits"
    )


def check_transition_matrix_convention(estimator):
    """``transition_matrix_[i, j] = p(noisy = j | clean = i)``, rows sum to 1, in ``classes_`` order.

    The data flip 40% of the untrusted rows of class 30 to label 10 and
    nothing else, so the largest off-diagonal entry must be
    ``T[classes_ == 30, classes_ == 10]``: the transpose (cleanlab's
    ``noise_matrix`` layout) or another class order shows.
    """
    est, _ = _fit(estimator)
    T = getattr(est, "transition_matrix_", None)
    if T is None:
        raise SkipTest(f"{_name(estimator)} has no transition_matrix_")
    T = np.asarray(T)
    classes = np.asarray(est.classes_)
    assert classes.tolist() == list(CLASSES), f"{_name(estimator)}: classes_ is {classes.tolist()}, not sorted"
    assert T.shape == (len(classes),) * 2, f"{_name(estimator)}: transition_matrix_ has shape {T.shape}"
    assert np.all(np.isfinite(T)) and np.all(T >= 0), f"{_name(estimator)}: transition_matrix_ has entries < 0"
    np.testing.assert_allclose(
        T.sum(axis=1), 1.0, atol=1e-5, err_msg=f"{_name(estimator)}: transition_matrix_ rows do not sum to 1"
    )
    off_diagonal = T - np.diag(np.diag(T))
    i, j = np.unravel_index(np.argmax(off_diagonal), T.shape)
    assert (classes[i], classes[j]) == FLIP, (
        f"{_name(estimator)}: the largest off-diagonal entry of transition_matrix_ is T[{classes[i]}, "
        f"{classes[j]}] = {T[i, j]:.3f}; the data flip clean {FLIP[0]} to noisy {FLIP[1]}, so "
        f"T[{FLIP[0]}, {FLIP[1]}] (row: clean class, column: noisy label, in classes_ order) should be"
    )


def _global_random_states():
    import torch

    return np.random.get_state(), torch.random.get_rng_state(), random.getstate()


def check_global_random_state_untouched(estimator):
    """``fit`` and prediction leave numpy's, torch's and Python's global RNGs alone.

    A ``random_state`` left at None means "draw from the global RNG" by
    design, so the check fixes it to 0 first.
    """
    import torch

    est = clone(estimator)
    if est.get_params().get("random_state", 0) is None:
        est.set_params(random_state=0)
    X, y, trusted = _noisy_data()
    before = _global_random_states()
    est.fit(X, y, trusted=trusted)
    for method in ("predict_proba", "predict", "transform"):
        if hasattr(est, method):
            getattr(est, method)(X)
    (np_before, torch_before, py_before), (np_after, torch_after, py_after) = before, _global_random_states()
    same_numpy = np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    same_numpy = same_numpy and tuple(np_before[2:]) == tuple(np_after[2:])
    assert same_numpy, f"{_name(estimator)}: fit or predict drew from numpy's global RNG"
    assert torch.equal(torch_before, torch_after), f"{_name(estimator)}: fit or predict drew from torch's global RNG"
    assert py_before == py_after, f"{_name(estimator)}: fit or predict drew from Python's global random module"


_T_OLD = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
_T_NEW = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.0, 0.7]])


def check_warm_start_refreshes_transition_matrix(estimator):
    """A ``warm_start`` refit with a new ``transition_matrix`` trains with the new T.

    Fits with one given T, sets another and fits again: ``transition_matrix_``
    and the training loss (``get_loss`` on fixed logits) must be those of a
    fresh fit with the new T. Skipped where the given T is only where
    learning starts (``transition_matrix_`` is then learned).
    """
    import torch

    X, y, trusted = _noisy_data()
    est = clone(estimator).set_params(transition_matrix=_T_OLD, warm_start=True).fit(X, y, trusted=trusted)
    if not np.allclose(est.transition_matrix_, _T_OLD):
        raise SkipTest(f"{_name(estimator)} learns its transition matrix; the given one is only its start")
    est.set_params(transition_matrix=_T_NEW).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(
        est.transition_matrix_, _T_NEW, err_msg=f"{_name(estimator)}: transition_matrix_ kept the old T after a refit"
    )
    fresh = clone(estimator).set_params(transition_matrix=_T_NEW, warm_start=False).fit(X, y, trusted=trusted)
    logits = torch.randn(len(y), len(CLASSES), generator=torch.Generator().manual_seed(0))
    table = torch.as_tensor(make_target_table(np.searchsorted(CLASSES, y), trusted))
    warm_loss = float(est.get_loss(logits, table))
    fresh_loss = float(fresh.get_loss(logits, table))
    assert np.isclose(warm_loss, fresh_loss, rtol=1e-5), (
        f"{_name(estimator)}: after a warm_start refit with a new transition_matrix the loss is {warm_loss:.5f}, "
        f"but {fresh_loss:.5f} with that T: criterion_ still uses the old T"
    )


# --------------------------------------------------------------------------
# running them
# --------------------------------------------------------------------------
def yield_sknoisy_checks(estimator):
    """The checks that apply to ``estimator``, judged from its methods and parameters."""
    params = estimator.get_params()
    yield check_global_random_state_untouched
    yield check_transition_matrix_convention
    if hasattr(estimator, "predict_proba"):
        yield check_predict_proba_is_clean
    if hasattr(estimator, "predict") and hasattr(estimator, "set_fit_request"):
        yield check_trusted_mask_routed_through_grid_search
    if "transition_matrix" in params and "warm_start" in params:
        yield check_warm_start_refreshes_transition_matrix


def check_estimator(estimator, *, expected_failed_checks=None):
    """Run every applicable check on ``estimator``; raise the first unexpected failure.

    Parameters
    ----------
    estimator : estimator instance
        Cloned by each check; not modified.
    expected_failed_checks : dict, default=None
        ``{check name: reason}`` of checks known to fail; they are run and
        reported, not raised.

    Returns
    -------
    outcomes : dict
        ``{check name: "passed" | "skipped: <why>" | "failed as expected: <reason>"}``.
    """
    expected = dict(expected_failed_checks or {})
    outcomes = {}
    for check in yield_sknoisy_checks(estimator):
        name = check.__name__
        try:
            check(estimator)
        except SkipTest as exc:
            outcomes[name] = f"skipped: {exc}"
        except AssertionError:
            if name not in expected:
                raise
            outcomes[name] = f"failed as expected: {expected[name]}"
        else:
            outcomes[name] = "passed"
    return outcomes


def parametrize_with_sknoisy_checks(estimators, *, expected_failed_checks=None):
    """A ``pytest.mark.parametrize`` over ``(estimator, check)`` for every applicable check.

    Parameters
    ----------
    estimators : list of estimator instances
    expected_failed_checks : callable, default=None
        ``expected_failed_checks(estimator) -> {check name: reason}``; those
        are marked ``xfail`` with the reason.

    Returns
    -------
    decorator
        For a test function taking ``estimator`` and ``check``.
    """
    import pytest

    params = []
    for estimator in estimators:
        expected = expected_failed_checks(estimator) if expected_failed_checks else {}
        for check in yield_sknoisy_checks(estimator):
            marks = [pytest.mark.xfail(reason=expected[check.__name__])] if check.__name__ in expected else []
            params.append(pytest.param(estimator, check, marks=marks, id=f"{_name(estimator)}-{check.__name__}"))
    return pytest.mark.parametrize("estimator, check", params)
