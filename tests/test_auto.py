"""Tests for AutoNoisyClassifier: the automatic, honest choice of a noisy-label method."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknoisy import (
    CrossEntropyClassifier,
    ForwardCorrectedClassifier,
    GLCClassifier,
    RobustLossClassifier,
    make_noisy_classification,
)
from sknoisy import CLASSIFIER_METHODS
from sknoisy._auto import (
    MIN_TRUSTED_PER_CLASS,
    NOISY_MARGIN,
    NOISY_PREFERENCE,
    AutoNoisyClassifier,
    noisy_margin,
    prefer_within_margin,
)
from sknoisy.model_selection import TrustedKFold
from sknoisy.modules import MLP
from sknoisy.transition import TransitionMatrixEstimator
from sknoisy.utils.estimator_checks import parametrize_with_sknoisy_checks

FAST = {"max_epochs": 4, "lr": 0.05, "batch_size": 64, "module__hidden_units": (16,)}


def _fast_T():
    # a linear stage 1 keeps the estimate of T fast; the network stage 1 is the classifiers' to test
    return TransitionMatrixEstimator(LogisticRegression(), cv=2)


def _auto(**params):
    return AutoNoisyClassifier(MLP, **{"cv": 2, "random_state": 0, "transition_matrix": _fast_T(), **FAST, **params})


@pytest.fixture(scope="module")
def data():
    X, y_noisy, y_clean, T = make_noisy_classification(
        240, 6, 3, noise="flip_to_one", rate=0.3, random_state=0
    )
    trusted = np.zeros(240, bool)
    trusted[::5] = True  # 48 trusted rows, about 16 per class
    y = np.where(trusted, y_clean, y_noisy)
    return X.astype(np.float32), y, y_noisy, trusted, T


# --------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------
def test_auto_docstring_lists_every_method_of_the_registry():
    doc = AutoNoisyClassifier.__doc__
    for m in CLASSIFIER_METHODS.values():
        assert f"* ``'{m.name}'``" in doc and m.summary in doc


# --------------------------------------------------------------------------
# with trusted rows
# --------------------------------------------------------------------------
def test_with_trusted_rows_scores_on_trusted_rows_and_refits_the_winner(data):
    X, y, _, trusted, _ = data
    auto = _auto(methods=["ce", "glc", "nce+rce"]).fit(X, y, trusted=trusted)
    assert auto.trusted_selection_
    assert auto.methods_ == ["ce", "glc", "nce+rce"]
    assert auto.scoring_ == "accuracy on trusted rows"
    assert isinstance(auto.search_.cv, TrustedKFold)
    assert list(auto.cv_results_["param_method"]) == ["ce", "glc", "nce+rce"]
    best = int(np.argmax(auto.cv_results_["mean_test_score"]))
    assert auto.best_method_ == auto.cv_results_["param_method"][best] == auto.best_params_["method"]
    assert auto.best_score_ == pytest.approx(auto.cv_results_["mean_test_score"][best])
    assert isinstance(auto.best_estimator_, CLASSIFIER_METHODS[auto.best_method_].estimator)
    # the winner is refitted on every row, and predicts for the meta-estimator
    assert auto.best_estimator_.history_[-1, "epoch"] == FAST["max_epochs"]
    np.testing.assert_array_equal(auto.predict(X), auto.best_estimator_.predict(X))
    np.testing.assert_allclose(auto.predict_proba(X), auto.best_estimator_.predict_proba(X))
    np.testing.assert_array_equal(auto.classes_, [0, 1, 2])
    assert auto.n_features_in_ == 6
    # every score is an accuracy on trusted (clean) rows
    scores = np.array([auto.cv_results_[f"split{k}_test_score"] for k in range(2)])
    assert np.all((scores >= 0) & (scores <= 1))
    assert auto.fit_time_ >= auto.refit_time_ > 0


def test_trusted_folds_test_only_trusted_rows_and_every_method_gets_the_mask(data, monkeypatch):
    X, y, _, trusted, _ = data
    seen = []
    original = GLCClassifier.fit

    def spy(self, X, y, trusted=None, **kwargs):
        seen.append(None if trusted is None else np.asarray(trusted).copy())
        return original(self, X, y, trusted=trusted, **kwargs)

    monkeypatch.setattr(GLCClassifier, "fit", spy)
    auto = _auto(methods=["glc"]).fit(X, y, trusted=trusted)
    assert len(seen) == 3  # two folds and the refit
    for train, test in auto.search_.cv.split(X, y, trusted=trusted):
        assert trusted[test].all()
    assert seen[-1].sum() == trusted.sum()  # the refit sees every trusted row
    assert all(0 < mask.sum() < trusted.sum() for mask in seen[:2])


def test_winner_transition_matrix_is_exposed(data):
    X, y, _, trusted, _ = data
    auto = _auto(methods=["glc"]).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(auto.transition_matrix_, auto.best_estimator_.transition_matrix_)
    # GLC estimates its own T: no shared estimate was needed
    assert auto.transition_matrix_estimator_ is None


def test_too_few_trusted_rows_falls_back_with_a_warning(data):
    X, y, _, _, _ = data
    trusted = np.zeros(len(y), bool)
    trusted[np.flatnonzero(y == 0)[:5]] = True
    trusted[np.flatnonzero(y == 1)[:1]] = True  # class 1: one trusted row, class 2: none
    message = r"6 trusted rows were given, but class\(es\) 1 \(1\), 2 \(0\) have fewer than 2"
    with pytest.warns(UserWarning, match=message):
        auto = _auto(methods="auto").fit(X, y, trusted=trusted)
    assert not auto.trusted_selection_
    skipped = {m.name for m in CLASSIFIER_METHODS.values() if m.needs_trusted or not m.in_auto}
    assert set(auto.skipped_methods_) == skipped
    assert "needs trusted rows, and class(es) 1 (1), 2 (0)" in auto.skipped_methods_["glc"]


def test_auto_leaves_instance_forward_out_above_its_class_limit():
    from sknoisy._classifier_registry import auto_method_names
    from sknoisy._instance_forward import INSTANCE_FORWARD_AUTO_MAX_CLASSES as limit

    assert CLASSIFIER_METHODS["instance_forward"].auto_max_classes == limit == 20
    assert "instance_forward" in auto_method_names(False, n_classes=limit)
    assert "instance_forward" not in auto_method_names(False, n_classes=limit + 1)
    assert "instance_forward" not in auto_method_names(True, n_classes=limit + 1)
    assert "instance_forward" in auto_method_names(False)  # the class count not known yet
    tried, skipped = _auto()._choose_methods(None, "there are no trusted rows", limit + 1)
    assert "instance_forward" not in tried and "dividemix" in tried
    assert skipped["instance_forward"] == (
        "not tried by methods='auto' above 20 classes (21 here): its cost grows with the square of the classes "
        "(name it to try it)"
    )
    # named, it is tried whatever the number of classes
    tried, skipped = _auto()._choose_methods(["ce", "instance_forward"], "there are no trusted rows", 100)
    assert tried == ["ce", "instance_forward"] and not skipped


def test_auto_fit_on_many_classes_reports_the_class_limit():
    X, y, _, _ = make_noisy_classification(21 * 8, 8, 21, noise="symmetric", rate=0.2, random_state=0)
    auto = _auto(methods="auto", max_epochs=1).fit(X.astype(np.float32), y)
    assert "instance_forward" not in auto.methods_
    assert "above 20 classes (21 here)" in auto.skipped_methods_["instance_forward"]
    assert "not tried: 'instance_forward', not tried by methods='auto' above 20 classes" in auto.summary()


def test_named_trusted_method_without_trusted_rows_is_an_error(data):
    X, _, y_noisy, _, _ = data
    message = r"Method 'glc' needs trusted rows \(at least 2 of every class\), but there are no trusted rows"
    with pytest.raises(ValueError, match=message):
        _auto(methods=["ce", "glc"]).fit(X, y_noisy)
    assert MIN_TRUSTED_PER_CLASS == 2


# --------------------------------------------------------------------------
# without trusted rows
# --------------------------------------------------------------------------
def test_without_trusted_rows_one_T_scores_every_method(data):
    X, _, y_noisy, _, _ = data
    auto = _auto().fit(X, y_noisy)
    assert not auto.trusted_selection_
    assert auto.methods_ == [m.name for m in CLASSIFIER_METHODS.values() if m.in_auto and not m.needs_trusted]
    assert "elr" in auto.methods_ and "glc" not in auto.methods_
    assert auto.skipped_methods_["glc"] == "needs trusted rows, and there are no trusted rows"
    assert auto.scoring_ == "accuracy on held-out noisy labels"
    assert isinstance(auto.search_.cv, StratifiedKFold)
    # the score is the plain accuracy of each held-out fold's noisy labels
    for k, (train, test) in enumerate(auto.search_.cv.split(X, y_noisy)):
        model = clone(auto.search_.estimator).set_params(method=auto.best_method_).fit(X[train], y_noisy[train])
        expected = np.mean(model.predict(X[test]) == y_noisy[test])
        assert auto.cv_results_[f"split{k}_test_score"][auto.best_index_] == pytest.approx(expected)
    T_hat = auto.transition_matrix_estimator_.transition_matrix_
    # the forward method and the diagnostics use the same T, estimated once before the search
    np.testing.assert_allclose(auto.search_.scorer_["clean_accuracy_estimate"].transition_matrix, T_hat)
    np.testing.assert_allclose(auto.search_.scorer_["forward_log_loss"].transition_matrix, T_hat)
    np.testing.assert_allclose(auto.search_.best_estimator_.transition_matrix, T_hat)
    assert auto.transition_matrix_estimator_.refit is False
    # the diagnostics are recorded; only the score ranks
    assert np.all(auto.cv_results_["mean_test_forward_log_loss"] < 0)
    # the noisy scores choose by the library's rule: the highest mean, exact ties to the preference order
    assert auto.best_index_ == prefer_within_margin(auto.cv_results_, n_scored=X.shape[0])
    assert auto.best_score_ == np.nanmax(auto.cv_results_["mean_test_score"])
    assert auto.choice_rule_.startswith("the best mean score (exact ties to the first of instance_forward")
    text = auto.summary()
    assert f"rule: {auto.choice_rule_}." in text.splitlines()[0]
    assert "clean_accuracy_estimate" in text and "which do not choose" in text
    # the low end: the same accuracy through the anchor T of each class's most confident out-of-fold row
    from sknoisy.transition import estimate_anchor

    T_low = estimate_anchor(auto.transition_matrix_estimator_.oof_proba_, quantile=None)
    np.testing.assert_allclose(auto.search_.scorer_["clean_accuracy_low"].transition_matrix, T_low)
    assert np.all(np.isfinite(auto.cv_results_["mean_test_clean_accuracy_low"]))
    assert "clean_accuracy_low" in text


def test_noise_corrected_accuracy_is_unbiased_for_the_clean_accuracy():
    from sknoisy.model_selection import noise_corrected_accuracy_scorer
    from sknoisy.noise import corrupt_labels, make_transition_matrix

    rng = np.random.RandomState(0)
    y_clean = rng.randint(0, 4, size=200_000)
    T = make_transition_matrix("flip_to_one", 4, 0.4, random_state=0)
    y_noisy = corrupt_labels(y_clean, T, classes=np.arange(4), random_state=1)

    class Fixed:  # right on 70% of the rows, else the class the noise flips to (the worst case for noisy accuracy)
        classes_ = np.arange(4)

        def predict(self, X):
            flip = np.argmax(T - np.diag(np.diag(T)), axis=1)
            return np.where(X[:, 0] < 0.7, y_clean, flip[y_clean])

    X = rng.rand(len(y_clean), 1)
    clean_accuracy = np.mean(Fixed().predict(X) == y_clean)
    score = noise_corrected_accuracy_scorer(T)(Fixed(), X, y_noisy)
    assert score == pytest.approx(clean_accuracy, abs=0.01)
    # the plain noisy accuracy credits the flips: it is far off
    assert abs(np.mean(Fixed().predict(X) == y_noisy) - clean_accuracy) > 0.1


def test_less_noise_in_T_gives_a_lower_accuracy_estimate():
    # why the least-noise anchor T gives the low end: the noise-corrected accuracy grows with the noise T assumes
    from sknoisy.model_selection import noise_corrected_accuracy_scorer
    from sknoisy.noise import corrupt_labels, make_transition_matrix

    rng = np.random.RandomState(0)
    y_clean = rng.randint(0, 4, size=100_000)
    y_noisy = corrupt_labels(y_clean, make_transition_matrix("symmetric", 4, 0.4), classes=np.arange(4),
                             random_state=1)

    class Fixed:  # right on 80% of the rows, else a random class
        classes_ = np.arange(4)

        def predict(self, X):
            return np.where(X[:, 0] < 0.8, y_clean, X[:, 1].astype(int))

    X = np.column_stack([rng.rand(len(y_clean)), rng.randint(0, 4, len(y_clean))])
    scores = [noise_corrected_accuracy_scorer(make_transition_matrix("symmetric", 4, rate))(Fixed(), X, y_noisy)
              for rate in (0.2, 0.4, 0.5)]
    clean_accuracy = np.mean(Fixed().predict(X) == y_clean)
    assert scores[0] < clean_accuracy - 0.05 and scores[2] > clean_accuracy + 0.05
    assert scores[1] == pytest.approx(clean_accuracy, abs=0.01)


def test_least_noise_T_needs_out_of_fold_probabilities():
    from types import SimpleNamespace

    from sknoisy._auto import _least_noise_transition_matrix

    assert _least_noise_transition_matrix(None) is None
    assert _least_noise_transition_matrix(SimpleNamespace(oof_proba_=None)) is None
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    np.testing.assert_allclose(_least_noise_transition_matrix(SimpleNamespace(oof_proba_=proba)),
                               [[0.9, 0.1], [0.2, 0.8]])
    # an ill-conditioned one says nothing
    flat = np.array([[0.55, 0.45], [0.5, 0.5]])
    assert _least_noise_transition_matrix(SimpleNamespace(oof_proba_=flat)) is None


def test_ill_conditioned_T_gives_no_clean_accuracy_estimate(data):
    X, _, y_noisy, _, _ = data
    T = np.array([[0.5, 0.5, 0.0], [0.47, 0.53, 0.0], [0.0, 0.0, 1.0]])
    assert np.linalg.cond(T) > 20  # pinv(T) would amplify the errors of T into the estimate
    auto = _auto(methods=["ce", "forward"], transition_matrix=T).fit(X, y_noisy)
    assert "mean_test_clean_accuracy_estimate" not in auto.cv_results_
    assert "mean_test_forward_log_loss" in auto.cv_results_


def test_no_T_is_estimated_when_no_method_needs_one(data):
    X, _, y_noisy, _, _ = data
    auto = _auto(methods=["ce", "nce+rce"]).fit(X, y_noisy)
    assert auto.transition_matrix_estimator_ is None and auto.transition_matrix_ is None
    assert set(auto.search_.scorer_) == {"score"}


def test_forward_trains_with_the_shared_T(data):
    X, _, y_noisy, _, _ = data
    auto = _auto(methods=["forward"]).fit(X, y_noisy)
    assert isinstance(auto.best_estimator_, ForwardCorrectedClassifier)
    T_hat = auto.transition_matrix_estimator_.transition_matrix_
    np.testing.assert_allclose(auto.best_estimator_.transition_matrix_, T_hat)
    np.testing.assert_allclose(auto.transition_matrix_, auto.best_estimator_.transition_matrix_)


def test_known_T_is_used_as_given(data):
    X, _, y_noisy, _, T = data
    auto = _auto(methods=["ce", "forward"], transition_matrix=T).fit(X, y_noisy)
    assert auto.transition_matrix_estimator_ is None
    np.testing.assert_allclose(auto.search_.scorer_["forward_log_loss"].transition_matrix, T)


def test_uninformative_known_T_is_refused(data):
    X, _, y_noisy, _, _ = data
    with pytest.raises(ValueError, match=r"\(nearly\) identical rows"):
        _auto(transition_matrix=np.full((3, 3), 1 / 3)).fit(X, y_noisy)


def test_default_T_estimate_uses_this_network_as_stage_1(data, monkeypatch):
    X, _, y_noisy, _, _ = data
    fitted = []
    original = TransitionMatrixEstimator.fit

    def spy(self, X, y, trusted=None):
        fitted.append(self)
        return original(self, X, y, trusted=trusted)

    monkeypatch.setattr(TransitionMatrixEstimator, "fit", spy)
    auto = AutoNoisyClassifier(MLP, methods=["forward"], cv=2, random_state=0, **FAST).fit(X, y_noisy)
    (estimator,) = fitted
    assert estimator.method == ForwardCorrectedClassifier._default_transition_method
    assert isinstance(estimator.estimator, CrossEntropyClassifier)
    assert estimator.estimator.max_epochs == FAST["max_epochs"]
    assert estimator.random_state == 0
    assert auto.transition_matrix_estimator_ is estimator


# --------------------------------------------------------------------------
# reporting, determinism, parallelism, routing
# --------------------------------------------------------------------------
def test_summary_says_what_was_tried_and_why(data):
    X, y, _, trusted, _ = data
    auto = _auto(methods="auto").fit(X, y, trusted=trusted)
    text = auto.summary()
    first = text.splitlines()[0]
    assert first.startswith(f"AutoNoisyClassifier chose {auto.best_method_!r}: mean accuracy on trusted rows")
    assert "over 2 folds whose test rows are trusted rows; rule: the best mean score." in first
    for name in auto.methods_:
        assert any(line.startswith(name) for line in text.splitlines())
    assert "not tried: 'backward', not tried by methods='auto' (name it to try it)." in text
    rank_one = [line for line in text.splitlines() if line.rstrip().endswith(" 1")][0]
    assert rank_one.startswith(auto.best_method_)


def test_same_seed_same_choice(data):
    X, _, y_noisy, _, _ = data
    a = _auto(methods=["ce", "nce+rce"]).fit(X, y_noisy)
    b = _auto(methods=["ce", "nce+rce"]).fit(X, y_noisy)
    np.testing.assert_allclose(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.slow  # starts two loky worker processes, each importing torch
def test_parallel_search_gives_the_same_scores(data):
    X, y, _, trusted, _ = data
    serial = _auto(methods=["ce", "glc"]).fit(X, y, trusted=trusted)
    parallel = _auto(methods=["ce", "glc"], n_jobs=2).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"])
    assert serial.best_method_ == parallel.best_method_


def test_routing_leaves_the_global_config_alone(data):
    X, y, _, trusted, _ = data
    assert not sklearn.get_config()["enable_metadata_routing"]
    _auto(methods=["ce"]).fit(X, y, trusted=trusted)
    assert not sklearn.get_config()["enable_metadata_routing"]


def test_nested_in_cross_validate_with_routed_trusted_mask(data):
    X, y, _, trusted, _ = data
    with sklearn.config_context(enable_metadata_routing=True):
        auto = _auto(methods=["ce", "glc"]).set_fit_request(trusted=True)
        result = cross_validate(auto, X, y, cv=KFold(2), params={"trusted": trusted}, return_estimator=True)
    assert len(result["test_score"]) == 2
    assert all(est.trusted_selection_ for est in result["estimator"])


def test_grid_search_over_its_parameters(data):
    X, _, y_noisy, _, _ = data
    grid = GridSearchCV(_auto(methods=["ce"]), {"max_epochs": [1, 2]}, cv=2).fit(X, y_noisy)
    assert grid.best_estimator_.best_estimator_.max_epochs in (1, 2)


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------
def test_net_params_are_parameters():
    auto = AutoNoisyClassifier(MLP, max_epochs=3, module__hidden_units=(8,))
    params = auto.get_params(deep=False)
    assert params["max_epochs"] == 3 and params["module__hidden_units"] == (8,)
    copy = clone(auto)
    assert copy.get_params(deep=False).keys() == params.keys()
    copy.set_params(lr=0.01, module__hidden_units=(4,), methods=["ce"])
    assert (copy.lr, copy.module__hidden_units, copy.methods) == (0.01, (4,), ["ce"])
    assert "lr" not in auto.get_params()
    auto = AutoNoisyClassifier(MLP, transition_matrix=TransitionMatrixEstimator())
    auto.set_params(transition_matrix__method="dual_t")
    assert auto.transition_matrix.method == "dual_t"
    assert "max_epochs=3" in repr(AutoNoisyClassifier(MLP, max_epochs=3))


def test_net_params_reach_every_method(data):
    X, y, _, trusted, _ = data
    auto = _auto(methods=["ce", "nce+rce"], max_epochs=2).fit(X, y, trusted=trusted)
    est = auto.best_estimator_
    assert est.max_epochs == 2 and est.module__hidden_units == (16,) and est.random_state == 0
    assert len(est.history_) == 2
    if isinstance(est, RobustLossClassifier):
        assert est.loss == "nce+rce"


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"criterion": object}, ValueError, r"got criterion=\.\.\.: each method sets its own criterion"),
        ({"loss": "gce"}, ValueError, r"got loss=\.\.\.: each method sets its own"),
        ({"meta_lr": 1.0}, TypeError, r"unexpected argument 'meta_lr'.*network parameters every method shares"),
        ({"foo__bar": 1}, TypeError, r"unexpected argument 'foo__bar'"),
    ],
)
def test_bad_net_params_refused_at_fit(data, params, error, message):
    auto = AutoNoisyClassifier(MLP, **params)  # scikit-learn's rule: __init__ only stores
    with pytest.raises(error, match=message):
        auto.fit(data[0], data[2])


_METHODS = r"The 'methods' parameter of AutoNoisyClassifier must be "
_CV = r"The 'cv' parameter of AutoNoisyClassifier must be an int in the range \[2, inf\) or an object implementing .*"


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"methods": "best"}, InvalidParameterError, _METHODS + r"'auto', a method name .*'ce'.* Got 'best' instead"),
        ({"methods": ["ce", "xyz"]}, InvalidParameterError, _METHODS + r".*Unknown method\(s\): \['xyz'\]"),
        ({"methods": []}, InvalidParameterError, _METHODS + r"'auto', a method name or a non-empty list of method"),
        ({"methods": [1]}, InvalidParameterError, _METHODS + r"'auto', a method name or a non-empty list of method"),
        ({"methods": ["ce", "ce"]}, InvalidParameterError, _METHODS + r".*It lists a method twice"),
        ({"cv": 1}, InvalidParameterError, _CV + r"\. Got 1 instead"),
        ({"cv": "3"}, InvalidParameterError, _CV + r"\. Got '3' instead"),
        (
            {"scoring": {"a": "accuracy"}},
            InvalidParameterError,
            r"The 'scoring' parameter of AutoNoisyClassifier must be .*chooses by one score: give one scorer name",
        ),
        (
            {"transition_matrix": TransitionMatrixEstimator},
            InvalidParameterError,
            r"The 'transition_matrix' parameter of AutoNoisyClassifier must be an instance.*TransitionMatrixEstimator",
        ),
        ({"transition_matrix": np.eye(2)}, ValueError, r"transition_matrix has shape \(2, 2\) but there are 3 classes"),
        (
            {"transition_matrix": "bogus"},
            InvalidParameterError,
            r"The 'transition_matrix' parameter of AutoNoisyClassifier must be .*a str among \{.*'anchor'",
        ),
    ],
)
def test_bad_parameters_refused_at_fit(data, params, error, message):
    """scikit-learn's message (InvalidParameterError, a ValueError and a TypeError), with a hint where it helps."""
    X, _, y_noisy, _, _ = data
    with pytest.raises(error, match=message):
        _auto(**params).fit(X, y_noisy)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.arange(240), r"240 distinct values in 240 rows.*AutoNoisyClassifier needs at least 2 rows per class"),
        (np.linspace(0, 1, 240), r"y looks continuous.*AutoNoisyClassifier needs class labels"),
        (np.array(["a", 1, 2] * 80, dtype=object), r"y mixes label types"),
        (np.array(["a", "b", None] * 80, dtype=object), r"y contains None at position 2"),
        (np.zeros(240, int), r"needs at least 2 classes; y has 1 class \(0\)"),
    ],
)
def test_labels_that_are_not_classes(data, y, message):
    X = data[0]
    with pytest.raises(ValueError, match=message):
        _auto().fit(X, y)


def test_dataset_input_refused_clearly(data):
    from torch.utils.data import TensorDataset

    import torch

    X, _, y_noisy, _, _ = data
    with pytest.raises(TypeError, match="needs X as an array or a DataFrame"):
        _auto().fit(TensorDataset(torch.as_tensor(X)), y_noisy)


def test_predict_checks_features(data):
    X, _, y_noisy, _, _ = data
    auto = _auto(methods=["ce"]).fit(X, y_noisy)
    with pytest.raises(ValueError, match="X has 4 features, but AutoNoisyClassifier is expecting 6"):
        auto.predict(X[:, :4])


# --------------------------------------------------------------------------
# scikit-learn's estimator checks
# --------------------------------------------------------------------------
# Expected failures, each with its reason:
_EXPECTED_FAILED = {
    "check_no_attributes_set_in_init": (
        "the shared network parameters are taken as **net_params and stored as attributes, as skorch does; "
        "get_params and clone see them, but the check reads only the __init__ signature"
    ),
}


def _checked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoNoisyClassifier(
            MLP, methods=["ce", "nce+rce"], cv=2, random_state=0, transition_matrix=_fast_T(),
            max_epochs=20, lr=0.05, batch_size=64, module__hidden_units=(16,),
        )


@parametrize_with_checks([_checked()], expected_failed_checks=lambda est: _EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # the tiny, random data of the checks gives uninformative estimates of T, which is worth a
        # warning to a user but not to these checks
        warnings.filterwarnings("ignore", message=".*identical rows")
        check(estimator)


@parametrize_with_sknoisy_checks([_auto(methods=["ce", "glc", "nce+rce"])])
def test_sknoisy_contracts(estimator, check):
    check(estimator)


def test_label_issues_are_the_chosen_models(data):
    X, _, y_noisy, _, _ = data
    auto = _auto(methods=["forward"]).fit(X, y_noisy)
    issues = auto.label_issues(X[:50], y_noisy[:50])
    expected = auto.best_estimator_.label_issues(X[:50], y_noisy[:50])
    np.testing.assert_allclose(issues.scores, expected.scores)
    np.testing.assert_allclose(issues.transition_matrices[0], auto.best_estimator_.transition_matrix_)
    with pytest.raises(ValueError, match="features"):
        auto.label_issues(X[:50, :3], y_noisy[:50])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _auto().label_issues(X[:5], y_noisy[:5])


def test_forward_learns_its_own_T_when_none_is_given(data):
    """With transition_matrix=None, 'forward' is ForwardCorrectedClassifier's default: T learned with the network."""
    X, _, y_noisy, _, _ = data
    from sknoisy.losses import VolMinCrossEntropy

    trusted = np.zeros(len(y_noisy), dtype=bool)
    trusted[::4] = True
    auto = _auto(methods=["forward"], transition_matrix=None).fit(X, y_noisy, trusted=trusted)
    assert isinstance(auto.best_estimator_.criterion_, VolMinCrossEntropy)
    assert auto.best_estimator_.transition_matrix == "volmin"
    # with trusted rows nothing needs the shared estimate: no stage-1 cross-validation is paid for
    assert auto.transition_matrix_estimator_ is None
    np.testing.assert_allclose(auto.transition_matrix_, auto.best_estimator_.transition_matrix_)
    np.testing.assert_allclose(auto.transition_matrix_.sum(axis=1), 1.0, rtol=1e-6)


def test_with_trusted_rows_an_estimated_T_never_sees_the_test_folds(data, monkeypatch):
    # gold reads the trusted rows' clean labels: each fold must estimate it on its own training rows
    import sknoisy._stage1 as stage1

    X, y, _, trusted, _ = data
    seen = []
    real = stage1.resolve_transition_matrix

    def spy(spec, X_fit, *args, **kwargs):
        seen.append(len(X_fit))
        return real(spec, X_fit, *args, **kwargs)

    monkeypatch.setattr("sknoisy._loss_correction.resolve_transition_matrix", spy)
    auto = _auto(methods=["backward"], transition_matrix="gold", cv=2).fit(X, y, trusted=trusted)
    n_test = int(trusted.sum())
    # one estimate per fold on its training rows (the other half of the trusted rows held out), then the refit
    assert sorted(seen)[:2] == [len(y) - n_test // 2] * 2 and max(seen) == len(y)
    assert auto.transition_matrix_estimator_ is auto.best_estimator_.transition_matrix_estimator_
    assert auto.transition_matrix_estimator_.method == "gold"


def test_unknown_transition_method_is_refused_before_any_fit(data):
    X, y, _, trusted, _ = data
    with pytest.raises(ValueError, match=r"'transition_matrix' parameter of AutoNoisyClassifier must be .*"
                                         r"a str among \{'anchor', .*\}.* Got 'nope'"):
        _auto(methods=["backward"], transition_matrix="nope").fit(X, y, trusted=trusted)


def test_trusted_accuracy_pools_every_trusted_test_row_with_an_interval_for_the_choice(data):
    X, y, _, trusted, _ = data
    auto = _auto(methods=["ce", "glc"], cv=3).fit(X, y, trusted=trusted)
    acc = auto.trusted_accuracy_
    assert acc.n_rows == trusted.sum() and acc.n_methods == 2
    # pooled over the folds: the fold scores weighted by their trusted rows
    assert acc.accuracy == pytest.approx(auto.best_score_, abs=0.02)
    assert acc.low <= acc.accuracy <= acc.high and acc.confidence == pytest.approx(0.975)
    assert 0.1 < acc.high - acc.low < 0.5  # 48 checked rows say little
    # no trusted scoring, no such number
    assert _auto(methods=["ce"], cv=2).fit(X, y).trusted_accuracy_ is None


# --------------------------------------------------------------------------
# selection: cross-validation or one held-out split
# --------------------------------------------------------------------------
def test_holdout_trains_each_method_once_and_scores_half_the_trusted_rows(data, monkeypatch):
    X, y, _, trusted, _ = data
    seen = []
    original = GLCClassifier.fit

    def spy(self, X, y, trusted=None, **kwargs):
        seen.append(np.asarray(trusted).copy())
        return original(self, X, y, trusted=trusted, **kwargs)

    monkeypatch.setattr(GLCClassifier, "fit", spy)
    auto = _auto(methods=["ce", "glc"], cv=3, selection="holdout").fit(X, y, trusted=trusted)
    assert auto.selection_ == "holdout"
    assert len(seen) == 2  # the held-out split and the refit, where cv=3 would fit 3 + 1
    assert [key for key in auto.cv_results_ if key.startswith("split")] == ["split0_test_score"]
    (train, test), = auto.search_.cv.split(X, y, trusted=trusted)
    assert trusted[test].all() and test.size == trusted.sum() // 2  # half the trusted rows, whatever cv
    assert np.setdiff1d(np.arange(len(y)), test).tolist() == sorted(train.tolist())  # every other row trains
    assert seen[0].sum() == trusted.sum() - test.size and seen[1].sum() == trusted.sum()
    acc = auto.trusted_accuracy_
    assert acc.n_rows == test.size and acc.accuracy == pytest.approx(auto.best_score_)
    assert "on one held-out split of trusted rows (selection='holdout')" in auto.summary()


def test_holdout_without_trusted_rows_holds_out_one_fold_and_estimates_no_T(data):
    X, _, y_noisy, _, _ = data
    # forward learns its own T (transition_matrix=None), so a shared T would only feed the diagnostics
    auto = _auto(methods=["ce", "forward"], cv=4, selection="holdout", transition_matrix=None).fit(X, y_noisy)
    (train, test), = auto.search_.cv.split(X, y_noisy)
    assert test.size == len(y_noisy) // 4 and train.size + test.size == len(y_noisy)
    # the diagnostics through a shared T are left out: forward learns its own and nothing else needs one
    assert auto.transition_matrix_estimator_ is None
    assert not any("clean_accuracy" in key or "forward_log_loss" in key for key in auto.cv_results_)
    cv = _auto(methods=["ce", "forward"], cv=4, selection="cv", transition_matrix=None).fit(X, y_noisy)
    assert cv.selection_ == "cv" and "mean_test_clean_accuracy_estimate" in cv.cv_results_


def test_holdout_takes_the_first_split_of_a_given_splitter(data):
    X, _, y_noisy, _, _ = data
    auto = _auto(methods=["ce"], cv=KFold(3), selection="holdout").fit(X, y_noisy)
    (train, test), = auto.search_.cv.split(X, y_noisy)
    np.testing.assert_array_equal(test, np.arange(80))


def test_selection_auto_holds_out_from_a_number_of_rows(data, monkeypatch):
    import sknoisy._auto as auto_module
    from sknoisy._auto import HOLDOUT_MIN_ROWS, resolve_selection

    assert resolve_selection("auto", HOLDOUT_MIN_ROWS - 1) == "cv"
    assert resolve_selection("auto", HOLDOUT_MIN_ROWS) == "holdout"
    assert resolve_selection("cv", 10**7) == "cv" and resolve_selection("holdout", 10) == "holdout"
    X, _, y_noisy, _, _ = data
    assert _auto(methods=["ce"]).fit(X, y_noisy).selection_ == "cv"
    monkeypatch.setattr(auto_module, "HOLDOUT_MIN_ROWS", len(y_noisy))
    assert _auto(methods=["ce"]).fit(X, y_noisy).selection_ == "holdout"


def test_bad_selection_is_refused(data):
    X, _, y_noisy, _, _ = data
    with pytest.raises(InvalidParameterError, match=r"The 'selection' parameter of AutoNoisyClassifier must be a str "
                                                    r"among \{.*'holdout'.*\}\. Got 'fast' instead"):
        _auto(selection="fast").fit(X, y_noisy)


# --------------------------------------------------------------------------
# the rule without trusted rows: a preference order within a margin of the best
# --------------------------------------------------------------------------
def _results(scores):
    return {"param_method": np.array(list(scores), dtype=object),
            "mean_test_score": np.array(list(scores.values()), dtype=float)}


def test_without_trusted_rows_the_highest_mean_chooses_and_the_order_settles_ties():
    # benchmarks/auto_criterion.py chose the highest mean (margin 0) once instance_forward and dividemix were in
    assert NOISY_MARGIN == 0.0
    assert NOISY_PREFERENCE[0] == "instance_forward" and NOISY_PREFERENCE[-1] == "ce"
    assert prefer_within_margin(_results({"ce": 0.60, "forward": 0.599, "elr": 0.55})) == 0
    assert prefer_within_margin(_results({"ce": 0.60, "dividemix": 0.60, "instance_forward": 0.60})) == 2


def test_prefer_within_margin_settles_close_calls_by_the_order():
    margin, best = 0.01, 0.60
    # ce ahead by less than the margin: the first method of the order wins
    results = _results({"ce": best, "forward": best - margin / 2, "elr": best - 0.05})
    assert prefer_within_margin(results, margin=margin) == 1
    # exactly the margin behind still counts as close, whatever the float rounding
    assert prefer_within_margin(_results({"ce": 0.504, "forward": 0.504 - margin}), margin=margin) == 1
    # ahead by more than the margin: the scores decide
    results = _results({"ce": best, "forward": best - 2 * margin, "elr": best - margin / 2})
    assert prefer_within_margin(results, margin=margin) == 2
    assert prefer_within_margin(_results({"ce": best, "forward": best - 2 * margin}), margin=margin) == 0


def test_prefer_within_margin_puts_unnamed_methods_last_and_never_picks_a_failed_fit():
    # a method outside the order (co-teaching) comes after those in it, however close
    assert prefer_within_margin(_results({"coteaching": 0.70, "nce+rce": 0.695}), margin=0.01) == 1
    # and wins when it is clearly better
    assert prefer_within_margin(_results({"coteaching": 0.70, "nce+rce": 0.60}), margin=0.01) == 0
    # NaN (a failed fit) is never chosen; if every fit failed, the first row
    assert prefer_within_margin(_results({"forward": np.nan, "ce": 0.5})) == 1
    assert prefer_within_margin(_results({"forward": np.nan, "ce": np.nan})) == 0
    # another order and margin (the function is GridSearchCV's refit callable, cv_results_ in, index out)
    assert prefer_within_margin(_results({"a": 0.5, "b": 0.49}), margin=0.02, preference=("b", "a")) == 1
    assert prefer_within_margin(_results({"a": 0.5, "b": 0.49}), margin=0.0, preference=("b", "a")) == 0


def test_the_margin_shrinks_when_many_rows_are_scored():
    # a 1-point margin (the rule before instance_forward and dividemix were candidates) stays whole at 5,000 rows
    assert noisy_margin(0.55, 5000, 0.01) == 0.01 and noisy_margin(0.55, None, 0.01) == 0.01
    # 2 standard errors of a difference of two accuracies on 40,000 rows: about 0.7 points
    assert noisy_margin(0.583, 40_000, 0.01) == pytest.approx(2 * np.sqrt(2 * 0.583 * 0.417 / 40_000))
    assert noisy_margin(1.0, 10, 0.01) == 0.0  # a perfect score leaves no room
    assert noisy_margin(0.55, 5000) == NOISY_MARGIN == 0.0
    # auto_at_scale's held-out split: NCE+RCE 0.9 points ahead of forward on 40,000 rows is significant
    results = _results({"forward": 0.5741, "nce+rce": 0.5830, "ce": 0.5379})
    assert prefer_within_margin(results, margin=0.01) == 0
    assert prefer_within_margin(results, margin=0.01, n_scored=40_000) == 1
