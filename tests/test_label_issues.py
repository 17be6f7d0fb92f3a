"""Tests for sknoisy.label_issues: posterior label-issue scores, out of fold."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sknoisy import CrossEntropyClassifier, ForwardCorrectedClassifier, TransitionMatrixEstimator
from sknoisy.label_issues import (
    find_label_issues,
    label_issue_scores,
    label_issue_scores_from_noisy,
    out_of_fold_label_issues,
    rank_label_issues,
)
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification

T3 = np.array([[0.7, 0.3, 0.0], [0.0, 0.8, 0.2], [0.1, 0.0, 0.9]])


def random_proba(n, c, seed=0):
    return np.random.RandomState(seed).dirichlet(np.ones(c), size=n)


# --------------------------------------------------------------------------
# the score
# --------------------------------------------------------------------------
def test_scores_are_the_bayes_posterior():
    proba = random_proba(50, 3)
    y = np.random.RandomState(1).randint(0, 3, 50)
    scores, suggested = label_issue_scores(proba, y, T3)
    for p, label, score, best in zip(proba, y, scores, suggested):
        posterior = p * T3[:, label] / np.sum(p * T3[:, label])
        assert score == pytest.approx(1 - posterior[label])
        assert best == np.argmax(posterior)
    assert np.all((scores >= 0) & (scores <= 1))


def test_labels_of_any_type_through_classes():
    proba = random_proba(20, 3)
    y_idx = np.arange(20) % 3
    classes = np.array(["cat", "dog", "emu"])
    scores, suggested = label_issue_scores(proba, classes[y_idx], T3, classes=classes)
    expected_scores, expected_idx = label_issue_scores(proba, y_idx, T3)
    np.testing.assert_allclose(scores, expected_scores)
    assert suggested.tolist() == classes[expected_idx].tolist()
    # the column order is the order of classes, sorted or not
    shuffled = [2, 0, 1]
    scores_s, _ = label_issue_scores(proba[:, shuffled], classes[y_idx], T3[np.ix_(shuffled, shuffled)],
                                     classes=classes[shuffled])
    np.testing.assert_allclose(scores_s, expected_scores)


def test_no_noise_means_no_issue_and_impossible_labels_score_one():
    proba = random_proba(10, 3)
    scores, suggested = label_issue_scores(proba, np.arange(10) % 3, np.eye(3))
    np.testing.assert_array_equal(scores, 0.0)
    np.testing.assert_array_equal(suggested, np.arange(10) % 3)
    # class 0 is never labelled 2 (T3[0, 2] = 0) and class 1 never is either: a row
    # sure to be class 0 but labelled 2 cannot be explained by T3
    scores, suggested = label_issue_scores([[1.0, 0.0, 0.0]], [2], np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1.0]]))
    assert scores[0] == 1.0 and suggested[0] == 0


def test_trusted_rows_score_zero_and_keep_their_label():
    proba = np.array([[0.99, 0.01], [0.99, 0.01]])
    T = np.array([[0.6, 0.4], [0.4, 0.6]])
    scores, suggested = label_issue_scores(proba, [1, 1], T, trusted=[True, False])
    assert scores[0] == 0.0 and suggested[0] == 1
    assert scores[1] > 0.9 and suggested[1] == 0


def test_from_noisy_inverts_the_forward_model():
    proba_clean = random_proba(40, 3, seed=2)
    T = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.05, 0.15, 0.8]])
    y = np.arange(40) % 3
    scores, suggested = label_issue_scores_from_noisy(proba_clean @ T, y, T)
    expected, expected_suggested = label_issue_scores(proba_clean, y, T)
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    np.testing.assert_array_equal(suggested, expected_suggested)


def test_from_noisy_handles_probabilities_more_confident_than_T_allows():
    # one-hot p(noisy | x) is outside what p_clean @ T can produce; the scores stay probabilities
    T = np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])
    proba = np.eye(3)[[0, 0, 1, 2]]
    scores, suggested = label_issue_scores_from_noisy(proba, [0, 1, 1, 0], T)
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert scores[0] < 0.01 and scores[2] < 0.01  # the model agrees with the label
    assert scores[1] > 0.9 and suggested[1] == 0
    assert scores[3] > 0.9 and suggested[3] == 2


# --------------------------------------------------------------------------
# ranking and finding
# --------------------------------------------------------------------------
def test_rank_and_find():
    assert rank_label_issues([0.2, 0.9, 0.2, 0.5]).tolist() == [1, 3, 0, 2]
    T = np.array([[0.7, 0.3], [0.3, 0.7]])
    proba = np.array([[0.95, 0.05], [0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    assert find_label_issues(proba, [1, 1, 1, 1], T).tolist() == [0, 2]
    assert find_label_issues(proba, [1, 1, 1, 1], T, threshold=0.0).tolist() == [0, 2, 3, 1]
    assert find_label_issues(proba, [1, 1, 1, 1], T, n_issues=3).tolist() == [0, 2, 3]
    trusted = [True, False, False, False]
    assert find_label_issues(proba, [1, 1, 1, 1], T, trusted=trusted, n_issues=4).tolist() == [2, 3, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.0}, r"threshold must be a number in \[0, 1\)"),
        ({"threshold": "high"}, "threshold must be a number"),
        ({"n_issues": -1}, "n_issues must be None or a non-negative integer"),
        ({"n_issues": 2.5}, "n_issues must be None or a non-negative integer"),
    ],
)
def test_find_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        find_label_issues([[0.5, 0.5]], [0], np.eye(2), **kwargs)


def test_rank_bad_scores():
    with pytest.raises(ValueError, match="scores must be a 1-D array"):
        rank_label_issues([[0.1, 0.2]])
    with pytest.raises(ValueError, match="scores contains NaN"):
        rank_label_issues([0.1, np.nan])


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "proba, y, T, kwargs, match",
    [
        ([0.5, 0.5], [0], np.eye(2), {}, r"proba_clean must be a 2-D array .* got an array of shape \(2,\)"),
        ([[0.5, 0.5]], [0, 1], np.eye(2), {}, r"y must be a 1-D array of 1 class indices, one per row .* shape \(2,\)"),
        ([[0.5, 0.5]], [[0]], np.eye(2), {}, "y must be a 1-D array"),
        ([[0.5, 0.5]], [["a"]], np.eye(2), {"classes": ["a", "b"]}, r"y must be a 1-D array of 1 labels"),
        ([[0.5, 0.5]], [0], [[0.9, 0.2], [0.1, 0.9]], {}, "not row-stochastic: row 0 sums to 1.1"),
        ([[0.5, 0.5]], [0], np.eye(3), {}, r"has shape \(3, 3\) but there are 2 classes"),
        ([[0.5, 0.5]], [0], [[1.2, -0.2], [0, 1]], {}, "negative entries"),
        ([[0.5, 0.5]], ["owl"], np.eye(2), {"classes": ["cat", "dog"]}, r"labels \['owl'\] that are not in classes"),
        ([[0.5, 0.5]], ["cat"], np.eye(2), {}, r"integer class indices in \[0, 2\), got dtype <U3.* pass classes="),
        ([[0.5, 0.5]], [2], np.eye(2), {}, r"class indices in \[0, 2\), got values in \[2, 2\]"),
        ([[0.5, 0.5]], ["a"], np.eye(2), {"classes": ["a", "a"]}, "classes must be unique"),
        ([[0.5, 0.5]], ["a"], np.eye(2), {"classes": ["a", "b", "c"]}, "one label per probability column"),
        ([[1.5, -0.5]], [0], np.eye(2), {}, "proba_clean has negative entries"),
        ([[np.nan, 0.5]], [0], np.eye(2), {}, "proba_clean contains NaN"),
        ([[0.0, 0.0]], [0], np.eye(2), {}, "row that sums to zero"),
        ([[0.5, 0.5]], [0], np.eye(2), {"trusted": [True, False]}, "trusted has length 2 but X has 1 samples"),
    ],
)
def test_bad_input(proba, y, T, kwargs, match):
    with pytest.raises(ValueError, match=match):
        label_issue_scores(proba, y, T, **kwargs)


def test_from_noisy_bad_input():
    with pytest.raises(ValueError, match="proba_noisy must be a 2-D array"):
        label_issue_scores_from_noisy([0.5, 0.5], [0], np.eye(2))
    with pytest.raises(ValueError, match="not row-stochastic"):
        label_issue_scores_from_noisy([[0.5, 0.5]], [0], [[0.5, 0.4], [0, 1]])


# --------------------------------------------------------------------------
# with real models
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy():
    X, y, y_clean, T = make_noisy_classification(
        300, 6, 3, noise="flip_to_one", rate=0.3, n_informative=4, class_sep=2.0, random_state=0
    )
    return X.astype(np.float32), y, y_clean, T


def precision_at_k(scores, wrong):
    k = int(wrong.sum())
    return wrong[rank_label_issues(scores)[:k]].mean()


def test_transition_estimator_oof_proba_finds_the_flips(noisy):
    X, y, y_clean, _ = noisy
    tme = TransitionMatrixEstimator(LogisticRegression(), method="confident_joint", cv=3, random_state=0).fit(X, y)
    scores, suggested = label_issue_scores_from_noisy(tme.oof_proba_, y, tme.transition_matrix_, classes=tme.classes_)
    wrong = y != y_clean
    # 30% of the rows flipped: a random ranking would have precision 0.3
    assert precision_at_k(scores, wrong) > 0.6
    assert np.mean(suggested[wrong] == y_clean[wrong]) > 0.6


def test_out_of_fold_with_a_sknoisy_estimator(noisy):
    X, y, y_clean, T = noisy
    clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, module__hidden_units=(16,), max_epochs=10, lr=0.05)
    result = out_of_fold_label_issues(clf, X, y, cv=3, random_state=0)
    wrong = y != y_clean
    assert result.scores.shape == (300,) and result.proba_clean.shape == (300, 3)
    assert sorted(np.bincount(result.fold).tolist()) == [100, 100, 100]
    assert result.order.tolist() == rank_label_issues(result.scores).tolist()
    assert result.classes.tolist() == [0, 1, 2] and len(result.transition_matrices) == 3
    assert precision_at_k(result.scores, wrong) > 0.6
    again = out_of_fold_label_issues(clf, X, y, cv=3, random_state=0)
    np.testing.assert_array_equal(again.scores, result.scores)


def test_out_of_fold_does_not_trust_a_memorised_label(noisy):
    # A network fitted on every row has memorised some flipped labels: scored on
    # its own training rows they look right. Out of fold they do not.
    X, y, y_clean, T = noisy
    wrong = y != y_clean
    clf = CrossEntropyClassifier(MLP, module__hidden_units=(256,), max_epochs=25, lr=0.1, batch_size=300,
                                 random_state=0)
    in_sample, _ = label_issue_scores(clf.fit(X, y).predict_proba(X), y, T)
    oof = out_of_fold_label_issues(clf, X, y, transition_matrix=T, cv=3, random_state=0).scores
    assert oof[wrong].mean() > in_sample[wrong].mean() + 0.05


def test_out_of_fold_trusted_rows_and_a_given_T(noisy):
    X, y, y_clean, T = noisy
    trusted = np.zeros(len(y), dtype=bool)
    trusted[:60] = True
    y_mixed = np.where(trusted, y_clean, y)
    clf = CrossEntropyClassifier(MLP, module__hidden_units=(8,), max_epochs=2)
    result = out_of_fold_label_issues(clf, X, y_mixed, trusted=trusted, transition_matrix=T, cv=3, random_state=0)
    np.testing.assert_array_equal(result.scores[trusted], 0.0)
    np.testing.assert_array_equal(result.suggested[trusted], y_mixed[trusted])
    # every fold trained on trusted rows (they are stratified too)
    assert all(np.sum(trusted[result.fold == k]) == 20 for k in range(3))


def test_out_of_fold_bad_input(noisy):
    X, y, _, _ = noisy
    plain = CrossEntropyClassifier(MLP, module__hidden_units=(8,), max_epochs=1)
    with pytest.raises(ValueError, match="has no transition_matrix_ after fit"):
        out_of_fold_label_issues(plain, X, y, cv=2, random_state=0)
    with pytest.raises(ValueError, match="X has 300 rows but y has 299 labels"):
        out_of_fold_label_issues(plain, X, y[:-1], transition_matrix=np.eye(3))
    with pytest.raises(ValueError, match="cv must be an integer >= 2"):
        out_of_fold_label_issues(plain, X, y, transition_matrix=np.eye(3), cv=1)
    with pytest.raises(ValueError, match="not row-stochastic"):
        out_of_fold_label_issues(plain, X, y, transition_matrix=np.full((3, 3), 0.5))
    y_rare = y.copy()
    y_rare[0] = 7
    with pytest.raises(ValueError, match="at least 2 rows"):
        out_of_fold_label_issues(plain, X, y_rare, transition_matrix=np.eye(4))
    y_small = y.copy()
    y_small[:2] = 7
    with pytest.warns(UserWarning, match="smallest class has 2 rows, fewer than cv=3; using 2 folds"):
        result = out_of_fold_label_issues(plain, X, y_small, transition_matrix=np.eye(4), cv=3, random_state=0)
    assert sorted(set(result.fold.tolist())) == [0, 1]


# --------------------------------------------------------------------------
# the method of fitted estimators
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audit():
    """A forward net with the true T trained on half the rows; the other half's labels to audit."""
    X, y_noisy, y_clean, T = make_noisy_classification(600, 5, 3, noise="flip_to_one", rate=0.3, random_state=0)
    classes = np.array(["a", "b", "c"])
    clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=20, lr=0.01, random_state=0)
    clf.fit(X[:300], classes[y_noisy[:300]])
    return clf, X[300:], classes[y_noisy[300:]], classes[y_clean[300:]], T


def test_method_ranks_flipped_labels_of_new_rows_first(audit):
    clf, X, y, y_clean, _ = audit
    flipped = y != y_clean
    issues = clf.label_issues(X, y)
    top = issues.order[: flipped.sum()]
    # 31% of the labels are flipped; the top of the ranking is mostly flips
    assert flipped[top].mean() > 0.7
    assert np.mean(issues.scores[flipped]) > 2 * np.mean(issues.scores[~flipped])
    # where a flipped label is caught, the suggestion is mostly the true class
    caught = flipped & (issues.scores > 0.5)
    assert np.mean(issues.suggested[caught] == y_clean[caught]) > 0.8


def test_method_returns_the_structure_of_the_function(audit):
    clf, X, y, _, T = audit
    issues = clf.label_issues(X, y)
    oof_keys = {"scores", "suggested", "order", "proba_clean", "classes", "fold", "transition_matrices"}
    assert set(issues) == oof_keys
    assert issues.scores.shape == (300,) and issues.suggested.shape == (300,)
    assert sorted(issues.order.tolist()) == list(range(300))
    assert set(issues.suggested) <= {"a", "b", "c"}
    assert issues.classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(issues.fold, -1)
    np.testing.assert_allclose(issues.proba_clean, clf.predict_proba(X), rtol=1e-6)
    np.testing.assert_allclose(issues.transition_matrices[0], T)
    # the same numbers as the function on the model's probabilities and T
    expected, _ = label_issue_scores(clf.predict_proba(X), y, T, classes=clf.classes_)
    np.testing.assert_allclose(issues.scores, expected)


def test_method_trusted_rows_and_given_T(audit):
    clf, X, y, _, _ = audit
    trusted = np.arange(300) < 50
    issues = clf.label_issues(X, y, trusted=trusted)
    np.testing.assert_array_equal(issues.scores[trusted], 0.0)
    assert issues.suggested[trusted].tolist() == y[trusted].tolist()
    # a given T replaces the model's: with the identity no label can be wrong
    np.testing.assert_array_equal(clf.label_issues(X, y, transition_matrix=np.eye(3)).scores, 0.0)


def test_method_without_noise_model_is_self_confidence():
    X, y_noisy, _, _ = make_noisy_classification(200, 5, 3, noise="symmetric", rate=0.2, random_state=1)
    clf = CrossEntropyClassifier(MLP, max_epochs=3, random_state=0).fit(X, y_noisy)
    issues = clf.label_issues(X, y_noisy)
    proba = clf.predict_proba(X).astype(np.float64)
    proba /= proba.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(issues.scores, 1 - proba[np.arange(200), y_noisy], atol=1e-6)
    np.testing.assert_array_equal(issues.suggested, clf.predict(X))
    assert issues.transition_matrices == [None]


def test_method_on_unfitted_estimator_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ForwardCorrectedClassifier(MLP).label_issues(np.zeros((3, 5)), [0, 1, 0])


@pytest.mark.parametrize(
    "y, message",
    [
        (["a", "b", "z"], r"labels \['z'\] that are not in classes"),
        (["a", "b"], r"one label per row of X \(3\)"),
        ([["a"], ["b"], ["c"]], r"one label per row of X"),
        (None, "needs the given labels y"),
    ],
)
def test_method_bad_labels_are_refused_clearly(audit, y, message):
    clf, X, _, _, _ = audit
    with pytest.raises(ValueError, match=message):
        clf.label_issues(X[:3], y)


def test_method_bad_transition_matrix_is_refused(audit):
    clf, X, y, _, _ = audit
    with pytest.raises(ValueError):
        clf.label_issues(X, y, transition_matrix=np.eye(2))


def test_every_public_classifier_has_the_method():
    import sknoisy

    classifiers = [getattr(sknoisy, name) for name in sknoisy.__all__ if name.endswith("Classifier")]
    assert len(classifiers) >= 7
    for cls in classifiers:
        assert callable(getattr(cls, "label_issues", None)), cls.__name__
