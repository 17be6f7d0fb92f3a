"""sknoisy.utils.estimator_checks: each check passes a correct estimator and catches its bug.

The estimator under test is a fast stand-in (a logistic regression on the
trusted rows as its "module", T from its confusions on the untrusted rows)
with switches that plant one bug each.
"""

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from sknoisy.utils import estimator_checks
from sknoisy.utils.estimator_checks import (
    check_estimator,
    check_global_random_state_untouched,
    check_predict_proba_is_clean,
    check_transition_matrix_convention,
    check_trusted_mask_routed_through_grid_search,
    check_warm_start_refreshes_transition_matrix,
    parametrize_with_sknoisy_checks,
    yield_sknoisy_checks,
)


def _softmax(z):
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class StandIn(ClassifierMixin, BaseEstimator):
    def __init__(self, transition_matrix=None, warm_start=False, random_state=None, bug=None):
        self.transition_matrix = transition_matrix
        self.warm_start = warm_start
        self.random_state = random_state
        self.bug = bug

    def fit(self, X, y, trusted=None):
        if self.bug == "draws_global_rng":
            np.random.rand()
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        mask = np.ones(len(y), dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
        self.module_ = LogisticRegression().fit(X[mask], y_enc[mask])
        n = len(self.classes_)
        if self.transition_matrix is not None:
            T = np.asarray(self.transition_matrix, dtype=float)
        else:
            counts = np.full((n, n), 1e-3) + np.eye(n)
            if not mask.all():
                np.add.at(counts, (self.module_.predict(X[~mask]), y_enc[~mask]), 1.0)
            T = counts / counts.sum(axis=1, keepdims=True)
        if self.bug == "transposed":
            T = T.T
        elif self.bug == "first_seen_order":  # 30, 10, 20 as the data list them, not classes_ order
            T = T[np.ix_([2, 0, 1], [2, 0, 1])]
        self.transition_matrix_ = T
        if not (self.bug == "stale_criterion" and self.warm_start and hasattr(self, "criterion_T_")):
            self.criterion_T_ = self.transition_matrix_
        return self

    def forward(self, X):
        return torch.as_tensor(self.module_.decision_function(X))

    def predict_proba(self, X):
        proba = _softmax(self.module_.decision_function(X))
        return proba @ self.transition_matrix_ if self.bug == "noisy_proba" else proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        noisy = torch.softmax(y_pred.double(), dim=1) @ torch.as_tensor(self.criterion_T_)
        return -torch.log(noisy[torch.arange(len(y_true)), y_true[:, 0]]).mean()


def test_a_correct_estimator_passes_every_check():
    outcomes = check_estimator(StandIn())
    assert outcomes == {check.__name__: "passed" for check in yield_sknoisy_checks(StandIn())}
    assert len(outcomes) == 5


@pytest.mark.parametrize(
    "bug, check, message",
    [
        ("noisy_proba", check_predict_proba_is_clean, "T-applied"),
        ("transposed", check_transition_matrix_convention, "rows do not sum to 1"),
        ("first_seen_order", check_transition_matrix_convention, r"largest off-diagonal entry .* is T\[10, 20\]"),
        ("draws_global_rng", check_global_random_state_untouched, "numpy's global RNG"),
        ("stale_criterion", check_warm_start_refreshes_transition_matrix, "criterion_ still uses the old T"),
    ],
)
def test_each_check_catches_its_bug(bug, check, message):
    with pytest.raises(AssertionError, match=message):
        check(StandIn(bug=bug))
    check(StandIn())  # and the same estimator without the bug passes


def test_routing_check_records_every_fold_and_the_refit(monkeypatch):
    fits = []
    original = StandIn.fit

    def counting_fit(self, X, y, trusted=None):
        fits.append(int(np.sum(trusted)))
        return original(self, X, y, trusted=trusted)

    monkeypatch.setattr(StandIn, "fit", counting_fit)
    check_trusted_mask_routed_through_grid_search(StandIn())
    assert len(fits) == 4 and fits[-1] == 30  # three folds, then the refit on all 30 trusted rows


def test_routing_check_catches_an_estimator_that_does_not_request_the_mask():
    class Unrequested(StandIn):
        def set_fit_request(self, **requests):
            return super().set_fit_request(trusted=False)  # a request that drops the mask

    with pytest.raises(AssertionError, match="fold 0 was fitted without the trusted mask"):
        check_trusted_mask_routed_through_grid_search(Unrequested())


def test_checks_that_do_not_apply_are_skipped_or_not_yielded():
    class NoT(StandIn):
        def __init__(self, random_state=None):
            super().__init__(random_state=random_state)

        def fit(self, X, y, trusted=None):
            super().fit(X, y, trusted=trusted)
            del self.transition_matrix_
            return self

    outcomes = check_estimator(NoT())
    assert outcomes["check_transition_matrix_convention"].startswith("skipped: NoT has no transition_matrix_")

    class Transformer(BaseEstimator):
        def fit(self, X, y, trusted=None):
            return self

    names = [check.__name__ for check in yield_sknoisy_checks(Transformer())]
    assert names == ["check_global_random_state_untouched", "check_transition_matrix_convention"]


def test_check_estimator_raises_unexpected_failures_and_reports_expected_ones():
    with pytest.raises(AssertionError, match="T-applied"):
        check_estimator(StandIn(bug="noisy_proba"))
    outcomes = check_estimator(
        StandIn(bug="noisy_proba"), expected_failed_checks={"check_predict_proba_is_clean": "planted bug"}
    )
    assert outcomes["check_predict_proba_is_clean"] == "failed as expected: planted bug"


def test_parametrize_marks_expected_failures():
    marker = parametrize_with_sknoisy_checks(
        [StandIn()], expected_failed_checks=lambda est: {"check_transition_matrix_convention": "known"}
    )
    params = marker.args[1]
    assert [p.id for p in params] == [f"StandIn-{check.__name__}" for check in yield_sknoisy_checks(StandIn())]
    marked = {p.id: [m.kwargs.get("reason") for m in p.marks] for p in params}
    assert marked["StandIn-check_transition_matrix_convention"] == ["known"]
    assert all(reasons == [] for name, reasons in marked.items() if "convention" not in name)


def test_the_checks_data_flip_30_to_10_only_on_untrusted_rows():
    X, y, trusted = estimator_checks._noisy_data()
    assert X.dtype == np.float32 and X.shape == (90, 4) and trusted.sum() == 30
    clean = np.tile([30, 10, 20], 30)
    changed = y != clean
    assert not changed[trusted].any()
    assert set(clean[changed]) == {30} and set(y[changed]) == {10}
    assert changed.sum() == 8  # 40% of the 20 untrusted rows of class 30
