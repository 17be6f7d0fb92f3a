"""Tests for sknoisy.transition: T estimators and TransitionMatrixEstimator."""

import re
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch.utils import data as torch_data

from sknoisy.noise import corrupt_labels, make_transition_matrix
from sknoisy.transition import (
    TRANSITION_METHODS,
    TransitionMatrixEstimator,
    denoise_proba,
    estimate_anchor,
    estimate_confident_joint,
    estimate_confusion,
    estimate_dual_t,
    estimate_gold,
    from_cleanlab_noise_matrix,
    to_cleanlab_noise_matrix,
    transition_matrix_error,
)

# Column-dominant (T[k, i] < T[i, i] for k != i) so that the anchors of class
# i have the largest p(noisy = i | x); one exact zero checks the clipping.
T4 = np.array(
    [
        [0.70, 0.10, 0.20, 0.00],
        [0.05, 0.80, 0.05, 0.10],
        [0.10, 0.10, 0.60, 0.20],
        [0.15, 0.05, 0.10, 0.70],
    ]
)


def _synthetic_proba(T, n_mixed=500, n_anchor=20, random_state=0):
    """p_noisy = p_clean @ T with ``n_anchor`` one-hot clean rows per class."""
    rng = np.random.RandomState(random_state)
    n_classes = T.shape[0]
    mixed = rng.dirichlet(np.ones(n_classes), size=n_mixed)
    anchors = np.repeat(np.eye(n_classes), n_anchor, axis=0)
    p_clean = np.vstack([mixed, anchors])
    p_clean = p_clean[rng.permutation(len(p_clean))]
    return p_clean, p_clean @ T


def _fast(**params):
    return TransitionMatrixEstimator(LogisticRegression(), **params)


def _param(name):
    """The start of scikit-learn's message about a bad parameter of TransitionMatrixEstimator."""
    return rf"The '{name}' parameter of TransitionMatrixEstimator must be "


_CV = r"an int in the range \[2, inf\) or an object implementing 'split' and 'get_n_splits'"
_CLASSIFIER = r"an object implementing 'fit' and 'predict_proba' or None"


@pytest.fixture(scope="module")
def noisy_data():
    X, y = make_classification(
        n_samples=900,
        n_features=10,
        n_informative=6,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    T = make_transition_matrix("symmetric", 3, 0.3)
    y_noisy = corrupt_labels(y, T, random_state=0)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[np.random.RandomState(1).choice(len(y), 120, replace=False)] = True
    return X, y, y_noisy, trusted, T


# ---------------------------------------------------------------------------
# estimate_anchor
# ---------------------------------------------------------------------------


def test_anchor_recovers_T_exactly():
    _, p_noisy = _synthetic_proba(T4)
    np.testing.assert_allclose(estimate_anchor(p_noisy), T4, atol=1e-12)


def test_anchor_quantile_one_is_max():
    _, p_noisy = _synthetic_proba(T4)
    np.testing.assert_array_equal(estimate_anchor(p_noisy, quantile=1.0), estimate_anchor(p_noisy))


def test_anchor_quantile_ignores_overconfident_outliers():
    _, p_noisy = _synthetic_proba(T4, n_mixed=800, n_anchor=60)
    # 2% over-confident rows per class sit above the 97th percentile of their
    # column: the plain maximum picks them, the filtered search does not.
    outliers = np.repeat(np.eye(4), 20, axis=0)
    proba = np.vstack([p_noisy, outliers])
    proba = proba[np.random.RandomState(3).permutation(len(proba))]
    np.testing.assert_allclose(estimate_anchor(proba), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(estimate_anchor(proba, quantile=0.97), T4, atol=1e-12)


def _reference_anchor(proba, quantile):
    kth = int(np.floor(quantile * (len(proba) - 1) + 1e-9))
    rows = []
    for i in range(proba.shape[1]):
        order = np.argsort(proba[:, i], kind="stable")
        rows.append(proba[order[kth]])
    T = np.array(rows)
    T[T < 1e-6] = 0
    return T / T.sum(axis=1, keepdims=True)


def _published_buggy_anchor(proba, quantile):
    """Patrini's loop: the threshold zeroing writes through a view."""
    eta = proba.copy()
    rows = []
    for i in range(eta.shape[1]):
        thresh = np.percentile(eta[:, i], 100 * quantile, method="higher")
        column = eta[:, i]  # a view: the next line corrupts ``eta``
        column[column >= thresh] = 0.0
        rows.append(eta[np.argmax(column)].copy())
    return np.array(rows)


def test_anchor_view_bug_regression():
    # Rows confusable between classes 0 and 1 hold the top 3% of column 0 and
    # are the anchors of class 1 once column 1's over-confident rows are set
    # aside: zeroing column 0 through a view would corrupt row 1 of T.
    rng = np.random.RandomState(0)
    confusable = np.tile([0.5, 0.45, 0.05], (3, 1))
    outliers = np.array([[0.05, 0.9, 0.05]] * 3 + [[0.05, 0.05, 0.9]] * 3)
    bulk = 0.15 * rng.dirichlet(np.ones(3), size=91) + 0.85 / 3
    proba = np.vstack([bulk, confusable, outliers])[rng.permutation(100)]
    before = proba.copy()
    result = estimate_anchor(proba, quantile=0.97)
    np.testing.assert_array_equal(proba, before)  # input never mutated
    np.testing.assert_allclose(result, _reference_anchor(before, 0.97), atol=1e-12)
    # The data is chosen so that the published bug would change the answer.
    buggy = _published_buggy_anchor(before, 0.97)
    buggy = buggy / buggy.sum(axis=1, keepdims=True)
    assert np.abs(buggy - result).max() > 1e-3
    # Every selected row is an untouched row of the input.
    for row in result:
        assert np.isclose(proba, row, atol=1e-12).all(axis=1).any()


def test_anchor_quantile_matches_reference_on_random_data():
    rng = np.random.RandomState(5)
    proba = rng.dirichlet(np.ones(6), size=333)
    for q in (0.5, 0.9, 0.97, 0.999):
        np.testing.assert_allclose(estimate_anchor(proba, quantile=q), _reference_anchor(proba, q), atol=1e-12)


def test_anchor_blocks_match_single_pass(monkeypatch):
    import sknoisy.transition._estimates as tr

    proba = np.random.RandomState(2).dirichlet(np.ones(7), size=300)
    proba[[40, 250]] = proba[[0, 0]]  # ties: the first maximum wins, as np.argmax
    expected = estimate_anchor(proba, quantile=0.9)
    monkeypatch.setattr(tr, "_BLOCK_ELEMENTS", 600)  # 2 columns / 85 rows per block
    np.testing.assert_array_equal(estimate_anchor(proba, quantile=0.9), expected)
    np.testing.assert_array_equal(tr._anchor_indices(proba, None), np.argmax(proba, axis=0))
    np.testing.assert_array_equal(estimate_anchor(proba), _clip_rows(proba[np.argmax(proba, axis=0)]))


def _clip_rows(T):
    T = np.where(T < 1e-6, 0.0, T)
    return T / T.sum(axis=1, keepdims=True)


def test_anchor_float32_and_unnormalised_rows():
    _, p_noisy = _synthetic_proba(T4)
    np.testing.assert_allclose(estimate_anchor(p_noisy.astype(np.float32)), T4, atol=1e-6)
    scaled = p_noisy * 3.0
    before = scaled.copy()
    np.testing.assert_allclose(estimate_anchor(scaled), T4, atol=1e-12)
    np.testing.assert_array_equal(scaled, before)


def test_anchor_clips_tiny_entries():
    T = np.array([[1 - 5e-7, 5e-7], [0.2, 0.8]])
    T_hat = estimate_anchor(np.eye(2) @ T)
    np.testing.assert_array_equal(T_hat[0], [1.0, 0.0])
    np.testing.assert_allclose(T_hat[1], [0.2, 0.8])


def test_anchor_zero_column_warns_identity_row():
    proba = np.array([[1.0, 0.0, 0.0], [0.3, 0.7, 0.0], [0.6, 0.4, 0.0]])
    with pytest.warns(UserWarning, match=r"class\(es\) \[2\]"):
        T_hat = estimate_anchor(proba)
    np.testing.assert_array_equal(T_hat[2], [0.0, 0.0, 1.0])
    assert np.isfinite(T_hat).all()


def test_anchor_large_C_runs():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.full(1000, 0.1), size=20000).astype(np.float32)
    for q in (None, 0.97):
        T_hat = estimate_anchor(proba, quantile=q)
        assert T_hat.shape == (1000, 1000)
        np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)


# ---------------------------------------------------------------------------
# estimate_gold / estimate_confusion / estimate_dual_t / denoise_proba
# ---------------------------------------------------------------------------


def test_gold_recovers_T_from_trusted_rows():
    y = np.repeat(np.arange(4), 5)
    proba = np.eye(4)[y] @ T4
    np.testing.assert_allclose(estimate_gold(proba, y), T4, atol=1e-12)


def test_gold_is_class_mean():
    rng = np.random.RandomState(0)
    proba = rng.dirichlet(np.ones(3), size=50)
    y = rng.randint(0, 3, size=50)
    expected = np.array([proba[y == i].mean(axis=0) for i in range(3)])
    np.testing.assert_allclose(estimate_gold(proba, y), expected, atol=1e-12)
    np.testing.assert_allclose(estimate_gold(proba.astype(np.float32), y), expected, atol=1e-6)


def test_gold_missing_class_warns_and_has_no_nan():
    y = np.array([0, 0, 2, 2])
    proba = np.eye(3)[y] @ T4[:3, :3] / T4[:3, :3].sum(axis=1)
    with pytest.warns(UserWarning, match=r"No trusted sample for class\(es\) \[1\]"):
        T_hat = estimate_gold(proba, y)
    assert np.isfinite(T_hat).all()
    np.testing.assert_array_equal(T_hat[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)


def test_confusion_values_and_smoothing():
    pred = np.array([0, 0, 1, 1, 2, 2])
    y = np.array([0, 0, 0, 1, 2, 2])
    proba = np.eye(3)[pred] * 0.8 + 0.2 / 3
    conf = np.array([[2 / 3, 1 / 3, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(estimate_confusion(proba, y, smoothing=0.0), conf)
    np.testing.assert_allclose(estimate_confusion(proba, y), 0.99 * conf + 0.01 / 3)
    np.testing.assert_allclose(estimate_confusion(pred, y, smoothing=0.0), conf)
    with pytest.warns(UserWarning, match=r"class\(es\) \[3\]"):
        np.testing.assert_allclose(estimate_confusion(pred, y, smoothing=0.0, n_classes=4)[:3, :3], conf)


def test_confusion_missing_class_warns():
    with pytest.warns(UserWarning, match=r"class\(es\) \[1\]"):
        T_hat = estimate_confusion(np.array([0, 2, 2]), np.array([0, 2, 0]), n_classes=3, smoothing=0.0)
    np.testing.assert_array_equal(T_hat[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(T_hat[0], [0.5, 0.0, 0.5])


def test_dual_t_hand_example():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    T_hat = estimate_dual_t(proba, [0, 1, 1, 1])
    t_anchor = np.array([[0.9, 0.1], [0.1, 0.9]])
    t_count = np.array([[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(T_hat, t_anchor @ t_count)


def test_dual_t_equals_anchor_when_labels_match_predictions():
    _, p_noisy = _synthetic_proba(T4)
    y = np.argmax(p_noisy, axis=1)
    np.testing.assert_allclose(estimate_dual_t(p_noisy, y), estimate_anchor(p_noisy), atol=1e-12)
    np.testing.assert_allclose(
        estimate_dual_t(p_noisy, y, quantile=0.97), estimate_anchor(p_noisy, quantile=0.97), atol=1e-12
    )


def test_dual_t_count_corrects_anchor():
    # Predictions are the clean class; noisy labels follow T exactly, so the
    # count matrix is T and confident probabilities make T_anchor = I.
    y_clean = np.repeat(np.arange(4), 100)
    y_noisy = np.concatenate([np.repeat(np.arange(4), (100 * T4[i]).round().astype(int)) for i in range(4)])
    proba = np.eye(4)[y_clean] * 0.999 + 0.001 / 4
    T_hat = estimate_dual_t(proba, y_noisy)
    assert transition_matrix_error(T_hat, T4) < 0.01
    assert transition_matrix_error(estimate_anchor(proba), T4) > 0.5


def test_dual_t_never_predicted_class_warns():
    proba = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.4, 0.0]])
    with pytest.warns(UserWarning, match=r"No sample is predicted for class\(es\) \[2\]"):
        T_hat = estimate_dual_t(proba, [0, 1, 2])
    assert np.isfinite(T_hat).all()
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)


def test_denoise_proba_inverts_forward_model():
    p_clean, p_noisy = _synthetic_proba(T4)
    np.testing.assert_allclose(denoise_proba(p_noisy, T4), p_clean, atol=1e-10)
    out = denoise_proba(np.array([[0.0, 1.0, 0.0, 0.0]]), T4)
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_denoise_proba_singular_T():
    T = np.full((3, 3), 1 / 3)
    out = denoise_proba(np.array([[0.2, 0.3, 0.5]]), T)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


# ---------------------------------------------------------------------------
# bad input to the functions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proba, match",
    [
        (np.ones(4) / 4, "2-D array"),
        (np.ones((2, 2, 2)) / 2, "2-D array"),
        (np.ones((3, 1)), "at least 2 classes"),
        (np.empty((0, 3)), "at least one sample"),
        (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN or infinity"),
        (np.array([[np.inf, 0.5], [0.5, 0.5]]), "NaN or infinity"),
        (np.array([[2.0, -1.0], [0.5, 0.5]]), "negative entries"),
        (np.array([[0.0, 0.0], [0.5, 0.5]]), "sums to zero"),
        ([["a", "b"], ["c", "d"]], "numeric array"),
    ],
)
def test_bad_proba(proba, match):
    with pytest.raises(ValueError, match=match):
        estimate_anchor(proba)


def test_sparse_proba_refused():
    from scipy import sparse

    with pytest.raises(TypeError, match="dense array"):
        estimate_anchor(sparse.csr_matrix(np.eye(3)))


@pytest.mark.parametrize("quantile", [0.0, -0.1, 1.5, 97, float("nan")])
def test_bad_quantile_value(quantile):
    proba = np.eye(3)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\]"):
        estimate_anchor(proba, quantile=quantile)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\]"):
        estimate_dual_t(proba, [0, 1, 2], quantile=quantile)


@pytest.mark.parametrize("quantile", ["0.97", True])
def test_bad_quantile_type(quantile):
    with pytest.raises(TypeError, match="quantile must be None or a real number"):
        estimate_anchor(np.eye(3), quantile=quantile)


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1], r"1-D array of 3 class indices.*shape \(2,\)"),
        ([0, 1, 3], r"in \[0, 3\)"),
        ([0, -1, 2], r"in \[0, 3\)"),
        (["a", "b", "c"], "integer class indices"),
        ([0.5, 1, 2], "integer class indices"),
        ([[0, 1, 2]], "1-D array"),
    ],
)
def test_bad_labels(y, match):
    proba = np.eye(3)
    with pytest.raises(ValueError, match=match):
        estimate_gold(proba, y)
    with pytest.raises(ValueError, match=match):
        estimate_dual_t(proba, y)
    with pytest.raises(ValueError, match=match):
        estimate_confusion(proba, y)


def test_integral_float_labels_accepted():
    np.testing.assert_allclose(estimate_gold(np.eye(3), np.array([0.0, 1.0, 2.0])), np.eye(3))


def test_confusion_bad_inputs():
    with pytest.raises(ValueError, match="smoothing must be in"):
        estimate_confusion(np.eye(2), [0, 1], smoothing=1.5)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        estimate_confusion(np.array([0, 1]), [0, 1], n_classes=1)
    with pytest.raises(ValueError, match="at least one sample"):
        estimate_confusion(np.array([], dtype=int), [])
    with pytest.raises(ValueError, match="integer class indices"):
        estimate_confusion(np.array(["a", "b"]), [0, 1])
    with pytest.raises(ValueError, match="2-D array of probabilities or a 1-D array"):
        estimate_confusion(np.ones((2, 2, 2)), [0, 1])


def test_denoise_proba_bad_T():
    with pytest.raises(ValueError, match="transition_matrix has shape"):
        denoise_proba(np.eye(3), np.eye(2))


# ---------------------------------------------------------------------------
# TransitionMatrixEstimator
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["anchor", "dual_t"])
def test_estimator_beats_identity_without_trusted(noisy_data, method):
    X, _, y_noisy, _, T = noisy_data
    tme = _fast(method=method, random_state=0).fit(X, y_noisy)
    error = transition_matrix_error(tme.transition_matrix_, T)
    assert error < transition_matrix_error(np.eye(3), T)
    assert tme.oof_proba_.shape == (len(X), 3)
    np.testing.assert_allclose(tme.oof_proba_.sum(axis=1), 1.0)


@pytest.mark.parametrize("method", ["gold", "confusion"])
def test_estimator_trusted_methods(noisy_data, method):
    X, y, y_noisy, trusted, T = noisy_data
    y_mixed = np.where(trusted, y, y_noisy)
    tme = _fast(method=method, random_state=0).fit(X, y_mixed, trusted=trusted)
    assert transition_matrix_error(tme.transition_matrix_, T) < transition_matrix_error(np.eye(3), T)
    np.testing.assert_allclose(tme.oof_proba_.sum(axis=1), 1.0)
    # The estimator_ never saw the trusted rows: their probabilities are its own.
    np.testing.assert_allclose(tme.oof_proba_[trusted], tme.estimator_.predict_proba(X[trusted]))
    if method == "gold":
        np.testing.assert_allclose(tme.transition_matrix_, estimate_gold(tme.oof_proba_[trusted], y[trusted]))


def test_estimator_default_mlp_anchor(noisy_data):
    X, _, y_noisy, _, T = noisy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLP ConvergenceWarning
        tme = TransitionMatrixEstimator(random_state=0, cv=2).fit(X, y_noisy)
    assert transition_matrix_error(tme.transition_matrix_, T) < transition_matrix_error(np.eye(3), T)
    assert type(tme.estimator_).__name__ == "MLPClassifier"
    assert tme.estimator is None  # the parameter is left alone


def test_estimator_matches_functions_on_oof(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    tme = _fast(method="anchor", quantile=None, random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(tme.transition_matrix_, estimate_anchor(tme.oof_proba_))
    tme = _fast(method="dual_t", random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(tme.transition_matrix_, estimate_dual_t(tme.oof_proba_, y_noisy, quantile=0.97))


def test_estimator_reproducible_and_global_rng_untouched(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    state = np.random.get_state()[1].copy()
    a = _fast(random_state=3).fit(X, y_noisy)
    b = _fast(random_state=3).fit(X, y_noisy)
    np.testing.assert_array_equal(a.transition_matrix_, b.transition_matrix_)
    np.testing.assert_array_equal(a.oof_proba_, b.oof_proba_)
    c = _fast(random_state=np.random.RandomState(3)).fit(X, y_noisy)
    assert c.transition_matrix_.shape == (3, 3)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_transform_shape_names_and_pandas(noisy_data):
    pd = pytest.importorskip("pandas")
    X, _, y_noisy, _, _ = noisy_data
    labels = np.array(["cat", "dog", "fox"])[y_noisy]
    tme = _fast(random_state=0).fit(X, labels)
    np.testing.assert_array_equal(tme.classes_, ["cat", "dog", "fox"])
    out = tme.transform(X[:7])
    assert out.shape == (7, 3) and out.dtype == np.float64
    assert (out >= 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    names = tme.get_feature_names_out()
    assert names.tolist() == ["proba_cat", "proba_dog", "proba_fox"]
    df = tme.set_output(transform="pandas").transform(X[:7])
    assert isinstance(df, pd.DataFrame)
    assert df.columns.tolist() == names.tolist()
    np.testing.assert_allclose(df.to_numpy(), out)
    Xdf = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    tme = _fast(random_state=0).fit(Xdf, labels)
    assert tme.feature_names_in_.tolist() == Xdf.columns.tolist()
    assert tme.get_feature_names_out(Xdf.columns).tolist() == names.tolist()


def test_transform_is_plug_in_correction(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    tme = _fast(random_state=0).fit(X, y_noisy)
    expected = denoise_proba(tme.estimator_.predict_proba(X[:10]), tme.transition_matrix_)
    np.testing.assert_allclose(tme.transform(X[:10]), expected)


def test_small_class_reduces_cv_with_warning():
    X, y = make_classification(n_samples=60, n_classes=3, n_informative=4, random_state=0)
    y[np.flatnonzero(y == 2)[2:]] = 0  # class 2 keeps two members
    with pytest.warns(UserWarning, match=r"Class 2 has only 2 member\(s\).*fewer than cv=5; using 2 folds"):
        tme = _fast(cv=5, random_state=0).fit(X, y)
    assert tme.transition_matrix_.shape == (3, 3)


def test_custom_splitter_and_partition_check(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    tme = _fast(cv=KFold(4, shuffle=True, random_state=0)).fit(X, y_noisy)
    assert tme.transition_matrix_.shape == (3, 3)
    with pytest.raises(ValueError, match="exactly one test fold"):
        _fast(cv=ShuffleSplit(3, test_size=0.2, random_state=0)).fit(X, y_noisy)


def test_gold_class_without_untrusted_rows_warns():
    X, y = make_classification(n_samples=120, n_classes=3, n_informative=4, random_state=0)
    trusted = y == 2
    trusted[np.flatnonzero(y == 0)[:5]] = True
    trusted[np.flatnonzero(y == 1)[:5]] = True
    with pytest.warns(UserWarning, match=r"Class\(es\) \[2\] have no untrusted rows"):
        tme = _fast(method="gold", random_state=0).fit(X, y, trusted=trusted)
    assert np.isfinite(tme.transition_matrix_).all()
    np.testing.assert_allclose(tme.transition_matrix_[:, 2], 0.0)


def test_nested_clone_set_params(noisy_data):
    from sklearn.base import clone

    X, _, y_noisy, _, _ = noisy_data
    tme = clone(TransitionMatrixEstimator(cv=2, random_state=0)).set_params(estimator=LogisticRegression())
    tme.fit(X, y_noisy, trusted=None)
    assert isinstance(tme.estimator_, LogisticRegression)


def test_metadata_routing_pipeline(noisy_data):
    X, y, y_noisy, trusted, _ = noisy_data
    y_mixed = np.where(trusted, y, y_noisy)
    with sklearn.config_context(enable_metadata_routing=True):
        tme = _fast(method="gold", random_state=0).set_fit_request(trusted=True)
        pipe = Pipeline([("scale", StandardScaler()), ("tme", tme)])
        pipe.fit(X, y_mixed, trusted=trusted)
        fitted = pipe.named_steps["tme"]
        direct = _fast(method="gold", random_state=0).fit(StandardScaler().fit_transform(X), y_mixed, trusted=trusted)
        np.testing.assert_allclose(fitted.transition_matrix_, direct.transition_matrix_)
        assert pipe.transform(X[:3]).shape == (3, 3)
        # Without the request the pipeline refuses the unrequested mask.
        with pytest.raises(Exception, match="trusted"):
            Pipeline([("scale", StandardScaler()), ("tme", _fast(method="gold"))]).fit(X, y_mixed, trusted=trusted)


def test_skorch_net_float32():
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")

    class Tiny(torch.nn.Module):
        def __init__(self, n_features=10, n_classes=3):
            super().__init__()
            self.lin = torch.nn.Linear(n_features, n_classes)

        def forward(self, X):
            return self.lin(X)

    X, y = make_classification(n_samples=150, n_features=10, n_informative=5, n_classes=3, random_state=0)
    X = X.astype(np.float32)
    net = skorch.NeuralNetClassifier(
        Tiny,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=3,
        lr=0.1,
        train_split=None,
        verbose=0,
    )
    tme = TransitionMatrixEstimator(random_state=0, cv=2).set_params(estimator=net)
    tme.fit(X, y)
    assert tme.transition_matrix_.shape == (3, 3)
    np.testing.assert_allclose(tme.oof_proba_.sum(axis=1), 1.0, atol=1e-5)
    assert tme.transform(X[:5]).shape == (5, 3)


# ---------------------------------------------------------------------------
# the registry of methods
# ---------------------------------------------------------------------------


def test_registry_lists_every_method_in_the_docstring():
    doc = TransitionMatrixEstimator.__doc__
    assert list(TRANSITION_METHODS) == ["anchor", "dual_t", "confident_joint", "gold", "confusion"]
    for m in TRANSITION_METHODS.values():
        assert f"``'{m.name}'``" in doc and m.summary in doc
        assert m.needs_trusted == (m.name in ("gold", "confusion"))


@pytest.mark.parametrize("name", list(TRANSITION_METHODS))
def test_every_registered_method_is_what_the_estimator_fits(noisy_data, name):
    X, y, y_noisy, trusted, T = noisy_data
    method = TRANSITION_METHODS[name]
    y_mixed = np.where(trusted, y, y_noisy)
    tme = _fast(method=name, random_state=0).fit(X, y_mixed, trusted=trusted)
    if method.needs_trusted:
        expected = method.estimate(tme.oof_proba_[trusted], y_mixed[trusted], 0.97)
    else:
        expected = method.estimate(tme.oof_proba_, y_mixed, 0.97)
    np.testing.assert_allclose(tme.transition_matrix_, expected)
    assert transition_matrix_error(tme.transition_matrix_, T) < transition_matrix_error(np.eye(3), T)
    if method.needs_trusted:
        with pytest.raises(ValueError, match=f"method={name!r} needs trusted rows"):
            _fast(method=name).fit(X, y_noisy)


@pytest.mark.parametrize("method", [m.name for m in TRANSITION_METHODS.values() if m.needs_trusted])
def test_class_without_trusted_rows_gets_the_anchor_row(noisy_data, method):
    X, y, y_noisy, trusted, _ = noisy_data
    labels = np.array(["ant", "bee", "cat"])[np.where(trusted, y, y_noisy)]
    partial = trusted & (y != 2)  # no trusted "cat"
    with pytest.warns(UserWarning, match=r"no trusted row of class\(es\) \['cat'\].*anchor-point estimates"):
        tme = _fast(method=method, random_state=0).fit(X, labels, trusted=partial)
    T_hat = tme.transition_matrix_
    y_enc = np.searchsorted(["ant", "bee", "cat"], labels)
    # the row of "cat": anchor points of the estimator's probabilities on the untrusted rows
    anchor = estimate_anchor(tme.estimator_.predict_proba(X[~partial]), quantile=0.97)
    np.testing.assert_allclose(T_hat[2], anchor[2])
    # the other rows: the method's own estimate from the trusted rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its identity row for "cat", replaced above
        own = TRANSITION_METHODS[method].estimate(tme.oof_proba_[partial], y_enc[partial], 0.97)
    np.testing.assert_allclose(T_hat[:2], own[:2])
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)
    # refit=False estimates the same T (the fallback reads the same estimator)
    lean = _fast(method=method, refit=False, random_state=0)
    with pytest.warns(UserWarning, match="no trusted row"):
        np.testing.assert_allclose(lean.fit(X, labels, trusted=partial).transition_matrix_, T_hat)


def test_unknown_method_lists_the_registry(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    names = ", ".join(re.escape(repr(name)) for name in sorted(TRANSITION_METHODS))
    with pytest.raises(InvalidParameterError, match=_param("method") + rf"a str among \{{{names}\}}\. Got 'magic'"):
        _fast(method="magic").fit(X, y_noisy)
    with pytest.raises(InvalidParameterError, match=_param("method")):
        _fast(method=["gold"]).fit(X, y_noisy)


# ---------------------------------------------------------------------------
# memory-mapped X: views for estimators that take Datasets, arrays for the others
# ---------------------------------------------------------------------------


def _materialise(X):
    return np.stack([X[i] for i in range(len(X))]) if isinstance(X, torch_data.Dataset) else X


class _DatasetLogisticRegression(LogisticRegression):
    """Takes a torch Dataset of inputs, as sknoisy's nets do; records what it is given."""

    _accepts_lazy_inputs = True
    given = []

    def fit(self, X, y):
        self.given.append(X)
        return super().fit(_materialise(X), y)

    def predict_proba(self, X):
        self.given.append(X)
        return super().predict_proba(_materialise(X))


@pytest.mark.parametrize("method", ["anchor", "gold"])
def test_memmap_folds_are_views_for_estimators_that_take_datasets(noisy_data, tmp_path, method):
    X, y, y_noisy, trusted, _ = noisy_data
    y_mixed = np.where(trusted, y, y_noisy)
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mapped = np.load(path, mmap_mode="r")
    _DatasetLogisticRegression.given.clear()
    params = dict(method=method, cv=2, random_state=0)
    viewed = TransitionMatrixEstimator(_DatasetLogisticRegression(), **params).fit(X_mapped, y_mixed, trusted=trusted)
    # every fold (and the untrusted / trusted rows) arrives as a view, never as a copy;
    # the final fit on all rows gets the memory-mapped X itself
    for given in _DatasetLogisticRegression.given:
        assert isinstance(given, torch_data.Subset) or np.shares_memory(given, X_mapped)
    assert any(isinstance(given, torch_data.Subset) for given in _DatasetLogisticRegression.given)
    copied = TransitionMatrixEstimator(LogisticRegression(), **params).fit(X_mapped, y_mixed, trusted=trusted)
    in_memory = TransitionMatrixEstimator(LogisticRegression(), **params).fit(X, y_mixed, trusted=trusted)
    np.testing.assert_allclose(viewed.transition_matrix_, in_memory.transition_matrix_)
    np.testing.assert_allclose(copied.transition_matrix_, in_memory.transition_matrix_)
    # an in-memory array is indexed as before, whatever the estimator takes
    _DatasetLogisticRegression.given.clear()
    TransitionMatrixEstimator(_DatasetLogisticRegression(), **params).fit(X, y_mixed, trusted=trusted)
    assert {type(given) for given in _DatasetLogisticRegression.given} == {np.ndarray}


# ---------------------------------------------------------------------------
# bad input to the estimator
# ---------------------------------------------------------------------------


def test_estimator_bad_inputs(noisy_data):
    X, y, y_noisy, trusted, _ = noisy_data
    with pytest.raises(InvalidParameterError, match=_param("quantile") + r".* Got 97 instead\. \(0\.97 for the 97th"):
        _fast(quantile=97).fit(X, y_noisy)
    with pytest.raises(ValueError, match="method='gold' needs trusted rows"):
        _fast(method="gold").fit(X, y_noisy)
    with pytest.raises(ValueError, match="method='confusion' needs trusted rows"):
        _fast(method="confusion").fit(X, y_noisy, trusted=np.zeros(len(X), bool))
    with pytest.raises(ValueError, match="needs untrusted rows"):
        _fast(method="gold").fit(X, y, trusted=np.ones(len(X), bool))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _fast().fit(X_nan, y_noisy)
    with pytest.raises(ValueError, match="trusted has length 5 but X has 900 samples"):
        _fast(method="gold").fit(X, y, trusted=np.ones(5, bool))
    with pytest.raises(ValueError, match="at least 2 classes; got 1 class"):
        _fast().fit(X, np.zeros(len(X), int))
    with pytest.raises(InvalidParameterError, match=_param("cv") + _CV + r"\. Got 1 instead"):
        _fast(cv=1).fit(X, y_noisy)
    with pytest.raises(InvalidParameterError, match=_param("cv") + _CV + r"\. Got 0\.5 instead"):
        _fast(cv=0.5).fit(X, y_noisy)
    with pytest.raises(InvalidParameterError, match=_param("estimator") + _CLASSIFIER):
        TransitionMatrixEstimator(StandardScaler()).fit(X, y_noisy)
    with pytest.raises(ValueError, match="y looks continuous"):
        _fast().fit(X, np.linspace(0, 1, len(X)))
    tme = _fast(random_state=0).fit(X, y_noisy)
    with pytest.raises(ValueError, match="X has 4 features"):
        tme.transform(X[:, :4])


def test_predict_proba_column_mismatch():
    from sknoisy.transition._estimator import _predict_proba_full

    class Odd:
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    with pytest.raises(ValueError, match="returned 2 columns but there are 3 classes"):
        _predict_proba_full(Odd(), np.zeros((4, 1)), 3)
    with pytest.raises(ValueError, match="returned an array of shape"):
        Odd.predict_proba = lambda self, X: np.ones(len(X))
        _predict_proba_full(Odd(), np.zeros((4, 1)), 3)


# ---------------------------------------------------------------------------
# scikit-learn's estimator checks
# ---------------------------------------------------------------------------


@parametrize_with_checks(
    [TransitionMatrixEstimator(cv=2), TransitionMatrixEstimator(LogisticRegression(), method="dual_t", cv=2)],
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=sklearn.exceptions.ConvergenceWarning)
        check(estimator)


def test_n_jobs_gives_same_result():
    X, y = make_classification(n_samples=200, n_classes=3, n_informative=4, random_state=0)
    serial = _fast(random_state=0).fit(X, y)
    parallel = _fast(random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(parallel.oof_proba_, serial.oof_proba_)
    np.testing.assert_allclose(parallel.transition_matrix_, serial.transition_matrix_)


def test_refit_false_skips_the_fits_that_serve_transform():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    from sknoisy.noise import make_noisy_classification

    X, y, _, _ = make_noisy_classification(300, n_classes=3, noise="symmetric", rate=0.2, random_state=0)
    full = TransitionMatrixEstimator(LogisticRegression(), cv=2, random_state=0).fit(X, y)
    lean = TransitionMatrixEstimator(LogisticRegression(), cv=2, refit=False, random_state=0).fit(X, y)
    np.testing.assert_allclose(full.transition_matrix_, lean.transition_matrix_)
    assert not hasattr(lean, "estimator_")
    with pytest.raises(NotFittedError, match="refit=False"):
        lean.transform(X)
    trusted = np.arange(300) < 60
    gold = TransitionMatrixEstimator(LogisticRegression(), method="gold", cv=2, refit=False, random_state=0)
    gold.fit(X, y, trusted=trusted)
    assert gold.oof_proba_ is None and gold.transition_matrix_.shape == (3, 3)
    # nothing is kept for transform: a nesting classifier must not hold a second model
    assert not hasattr(gold, "estimator_")
    with pytest.raises(NotFittedError, match="refit=False"):
        gold.transform(X)
    full_gold = TransitionMatrixEstimator(LogisticRegression(), method="gold", cv=2, random_state=0)
    np.testing.assert_allclose(full_gold.fit(X, y, trusted=trusted).transition_matrix_, gold.transition_matrix_)


# ---------------------------------------------------------------------------
# estimate_confident_joint
# ---------------------------------------------------------------------------


def _cj_synthetic(T, n_samples=20000, sharpness=0.8, random_state=0):
    """Near one-hot clean probabilities pushed through T, noisy labels drawn from T."""
    rng = np.random.RandomState(random_state)
    n_classes = T.shape[0]
    y_clean = rng.randint(n_classes, size=n_samples)
    p_clean = sharpness * np.eye(n_classes)[y_clean] + (1 - sharpness) * rng.dirichlet(np.ones(n_classes), n_samples)
    y_noisy = corrupt_labels(y_clean, T, random_state=rng)
    return p_clean @ T, y_noisy, y_clean


def test_confident_joint_recovers_T():
    from sknoisy.noise import empirical_transition_matrix

    proba, y_noisy, y_clean = _cj_synthetic(T4)
    T_hat = estimate_confident_joint(proba, y_noisy)
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)
    assert transition_matrix_error(T_hat, T4) < 0.05
    # as good as the sample allows: every clean row reaches its own threshold only
    empirical = empirical_transition_matrix(y_clean, y_noisy, classes=np.arange(4))
    assert transition_matrix_error(T_hat, empirical) < 1e-9
    # When classes receive different amounts of flips, the per-column calibration
    # leaves a bias (the method's, shared with cleanlab), but counting still beats
    # the anchors on blurred probabilities.
    T = make_transition_matrix("asymmetric", 10, 0.4, preset="mnist")
    proba, y_noisy, _ = _cj_synthetic(T, sharpness=0.7)
    error = transition_matrix_error(estimate_confident_joint(proba, y_noisy), T)
    assert error < 0.1
    assert error < transition_matrix_error(estimate_anchor(proba), T) / 2


def test_confident_joint_orientation_hand_case():
    # clean 0 -> noisy 1 once; class 1 never flips: T[0, 1] = 1/4, T[1, 0] = 0.
    proba = np.array([[0.9, 0.1]] * 4 + [[0.1, 0.9]] * 4)
    y_noisy = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    T_hat = estimate_confident_joint(proba, y_noisy)
    np.testing.assert_allclose(T_hat, [[0.75, 0.25], [0.0, 1.0]])


def test_confident_joint_calibration():
    # Thresholds t = (0.85, 0.617): rows 1 (label 0) reaches none and is only
    # counted through the calibration of the label-0 column.
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.85, 0.15], [0.2, 0.8], [0.1, 0.9]])
    y_noisy = [0, 0, 1, 1, 1]
    np.testing.assert_allclose(estimate_confident_joint(proba, y_noisy), [[2 / 3, 1 / 3], [0.0, 1.0]])
    np.testing.assert_allclose(estimate_confident_joint(proba, y_noisy, calibrate=False), [[0.5, 0.5], [0.0, 1.0]])


def test_confident_joint_largest_reached_class_wins():
    proba = np.array(
        [
            [0.4, 0.0, 0.6],  # label 0, reaches t0 and t2: the larger (class 2) wins
            [0.3, 0.7, 0.0],  # label 0, reaches nothing: not counted
            [0.5, 0.5, 0.0],  # label 0, reaches t0 only
            [0.0, 1.0, 0.0],  # label 1
            [0.0, 0.9, 0.1],  # label 2, reaches nothing
            [0.0, 0.0, 1.0],  # label 2
        ]
    )
    # thresholds t = (0.4, 1.0, 0.55)
    T_hat = estimate_confident_joint(proba, [0, 0, 0, 1, 2, 2], calibrate=False)
    np.testing.assert_allclose(T_hat, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])


def test_confident_joint_rounds_the_calibrated_joint_to_whole_rows():
    # label 0: two rows counted as clean 0, one as clean 1, one reaching no
    # threshold; calibration scales (2, 1) to (2.67, 1.33), rounded to (3, 1)
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.3, 0.7]])
    T_hat = estimate_confident_joint(proba, [0, 0, 0, 0, 1, 1])
    np.testing.assert_allclose(T_hat, [[1.0, 0.0], [1 / 3, 2 / 3]])
    # the counts themselves, without calibration
    np.testing.assert_allclose(estimate_confident_joint(proba, [0, 0, 0, 0, 1, 1], calibrate=False), [[1, 0], [1 / 3, 2 / 3]])


def test_confident_joint_shares_exact_ties_instead_of_faking_a_clean_diagonal():
    # a model that says nothing: every class reaches its threshold on every row
    # (label counts divisible by 3, so the shared counts are whole rows)
    y = np.repeat([0, 1, 2], [9, 6, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no class is left without counted rows
        T_hat = estimate_confident_joint(np.full((18, 3), 1 / 3), y)
    np.testing.assert_allclose(T_hat, np.tile([3 / 6, 2 / 6, 1 / 6], (3, 1)))


def test_confident_joint_agrees_with_cleanlab():
    count = pytest.importorskip("cleanlab.count")
    T = make_transition_matrix("asymmetric", 10, 0.4, preset="mnist")
    proba, y_noisy, _ = _cj_synthetic(T, n_samples=20000, sharpness=0.7, random_state=1)
    _, noise_matrix, _, _ = count.estimate_py_and_noise_matrices_from_probabilities(labels=y_noisy, pred_probs=proba)
    ours = estimate_confident_joint(proba, y_noisy)
    np.testing.assert_allclose(ours, from_cleanlab_noise_matrix(noise_matrix), atol=0.02)


def test_confident_joint_blocks_and_float32(monkeypatch):
    from sknoisy.transition import _estimates as transition

    proba, y_noisy, _ = _cj_synthetic(T4, n_samples=3000)
    expected = estimate_confident_joint(proba, y_noisy)
    monkeypatch.setattr(transition, "_BLOCK_ELEMENTS", 37)
    np.testing.assert_allclose(estimate_confident_joint(proba, y_noisy), expected)
    np.testing.assert_allclose(estimate_confident_joint(proba.astype(np.float32), y_noisy), expected, atol=1e-6)
    # unnormalised rows are renormalised into a copy
    scaled = proba * 3.0
    np.testing.assert_allclose(estimate_confident_joint(scaled, y_noisy), expected)
    np.testing.assert_allclose(scaled, proba * 3.0)


def test_confident_joint_missing_class_warns_identity_row():
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    with pytest.warns(UserWarning, match=r"No sample is confidently counted for class\(es\) \[2\]"):
        T_hat = estimate_confident_joint(proba, [0, 1, 0, 1])
    np.testing.assert_allclose(T_hat[2], [0.0, 0.0, 1.0])
    assert not np.any(np.isnan(T_hat))


def test_confident_joint_large_C_runs():
    rng = np.random.RandomState(0)
    n_classes = 1000
    proba = rng.dirichlet(np.full(n_classes, 0.05), size=4000).astype(np.float32)
    y_noisy = rng.randint(n_classes, size=4000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        T_hat = estimate_confident_joint(proba, y_noisy)
    assert T_hat.shape == (n_classes, n_classes)
    np.testing.assert_allclose(T_hat.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1, 2], r"y_noisy must be a 1-D array of 4 class indices, one per row of the probabilities; .*\(3,\)"),
        ([0, 1, 2, 3], r"y_noisy must hold class indices in \[0, 3\), got values in \[0, 3\]"),
        ([0, 1, -1, 0], r"y_noisy must hold class indices in \[0, 3\)"),
        (np.zeros((4, 1), int), "y_noisy must be a 1-D array"),
        (["a", "b", "c", "a"], "y_noisy must hold integer class indices"),
    ],
)
def test_confident_joint_bad_labels(y, match):
    proba = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=match):
        estimate_confident_joint(proba, y)


def test_confident_joint_bad_proba_and_calibrate():
    with pytest.raises(ValueError, match="proba_noisy must be a 2-D array"):
        estimate_confident_joint(np.ones(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="proba_noisy has negative entries"):
        estimate_confident_joint(np.array([[2.0, -1.0], [0.5, 0.5]]), [0, 1])
    with pytest.raises(TypeError, match="calibrate must be a bool"):
        estimate_confident_joint(np.full((2, 2), 0.5), [0, 1], calibrate="yes")


def test_estimator_confident_joint_end_to_end(noisy_data):
    X, _, y_noisy, _, T = noisy_data
    tme = _fast(method="confident_joint", random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(tme.transition_matrix_, estimate_confident_joint(tme.oof_proba_, y_noisy))
    assert transition_matrix_error(tme.transition_matrix_, T) < transition_matrix_error(np.eye(3), T)
    # the same out-of-fold probabilities as 'anchor'
    anchor = _fast(random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(tme.oof_proba_, anchor.oof_proba_)
    assert tme.transform(X[:5]).shape == (5, 3)
    lean = _fast(method="confident_joint", refit=False, random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(lean.transition_matrix_, tme.transition_matrix_)
    with pytest.raises(ValueError, match="'confident_joint'"):
        _fast(method="confident-joint").fit(X, y_noisy)


# ---------------------------------------------------------------------------
# metrics and cleanlab converters
# ---------------------------------------------------------------------------


def test_metrics_are_public_from_the_package_and_transition():
    import sknoisy
    from sknoisy import transition

    for name in ("transition_matrix_error", "to_cleanlab_noise_matrix", "from_cleanlab_noise_matrix"):
        assert getattr(sknoisy, name) is getattr(transition, name)
        assert name in sknoisy.__all__ and name in transition.__all__


def test_transition_matrix_error():
    T = make_transition_matrix("symmetric", 4, 0.2)
    assert transition_matrix_error(T, T) == 0.0
    assert transition_matrix_error(np.eye(2), [[0, 1], [1, 0]]) == pytest.approx(2.0)
    assert transition_matrix_error([[0.9, 0.1], [0.2, 0.8]], [[1, 0], [0.2, 0.8]]) == pytest.approx(0.1)
    # neither matrix has to be stochastic (e.g. a column-normalised estimate)
    assert transition_matrix_error([[0.5, 0.5], [0.5, 1.5]], np.eye(2)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"T_hat has shape \(2, 2\) but T has shape \(3, 3\)"):
        transition_matrix_error(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="T_hat must be a square 2-D array"):
        transition_matrix_error(np.ones((2, 3)), np.eye(2))
    with pytest.raises(ValueError, match="T must be a square 2-D array"):
        transition_matrix_error(np.eye(2), np.ones(2))
    with pytest.raises(ValueError, match="NaN or infinity"):
        transition_matrix_error([[np.nan, 1], [0, 1]], np.eye(2))
    with pytest.raises(ValueError, match="numeric array"):
        transition_matrix_error([["a", "b"], ["c", "d"]], np.eye(2))


@pytest.mark.parametrize(
    "T",
    [
        make_transition_matrix("symmetric", 3, 0.3),
        make_transition_matrix("pair", 5, 0.45),
        make_transition_matrix("asymmetric", 10, 0.4, preset="mnist"),
        make_transition_matrix("structured", 6, 0.5, order="random", random_state=0),
        T4,
    ],
)
def test_cleanlab_converters_round_trip(T):
    nm = to_cleanlab_noise_matrix(T)
    np.testing.assert_allclose(nm, T.T)
    assert nm.flags.c_contiguous
    np.testing.assert_allclose(nm.sum(axis=0), 1.0)
    np.testing.assert_allclose(from_cleanlab_noise_matrix(nm), T, atol=1e-12)


def test_cleanlab_converter_errors():
    with pytest.raises(ValueError, match="not column-stochastic.*already looks like a sknoisy T"):
        from_cleanlab_noise_matrix([[0.9, 0.1], [0.3, 0.7]])
    with pytest.raises(ValueError, match="not column-stochastic: column 0"):
        from_cleanlab_noise_matrix([[0.5, 0.3], [0.1, 0.7]])
    with pytest.raises(ValueError, match="noise_matrix must be a square"):
        from_cleanlab_noise_matrix(np.ones((2, 3)) / 2)
    with pytest.raises(ValueError, match="negative entries"):
        from_cleanlab_noise_matrix([[1.5, 0.0], [-0.5, 1.0]])
    with pytest.raises(ValueError, match="not row-stochastic"):
        to_cleanlab_noise_matrix([[0.9, 0.3], [0.1, 0.7]])


# --------------------------------------------------------------------------
# bad inputs answered clearly (issue 13)
# --------------------------------------------------------------------------
_X150 = np.random.RandomState(0).randn(150, 3)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.arange(150), r"150 distinct values in 150 rows.*looks like an ID or a continuous target"),
        (np.arange(150).astype(str), r"150 distinct values in 150 rows.*looks like an ID"),
        (np.random.RandomState(1).randn(150), r"y looks continuous \(non-integer values such as"),
        (np.array(["a", 1, 2] * 50, dtype=object), r"y mixes label types: 'a' \(str\) and 1 \(int\)"),
        (np.array(["a", 1.5] * 75, dtype=object), r"y mixes label types: 'a' \(str\) and 1.5 \(float\)"),
        (np.array(["a", "b", None] * 50, dtype=object), r"y contains None at position 2; every sample needs a label"),
        (np.array(["a", "b", np.nan] * 50, dtype=object), r"y contains NaN at position 2"),
        (np.r_[np.arange(149) % 3, np.nan], r"y contains NaN; every row needs a class label"),
    ],
    ids=["ids", "string-ids", "continuous", "str+int", "str+float", "None", "nan-object", "nan-float"],
)
def test_estimator_refuses_labels_that_are_not_classes(y, message):
    with pytest.raises(ValueError, match=message) as info:
        _fast().fit(_X150, y)
    # never the splitter's message about a number the user did not choose
    assert "n_splits" not in str(info.value)


def test_estimator_single_row_class_cannot_train_a_fold():
    y = np.r_[np.zeros(149, int), 1]
    with pytest.warns(UserWarning, match=r"Classes with fewer than 3 rows \(count\): 1 \(1\)"):
        message = r"training fold holds rows of the single class 0.*class\(es\) 1 \(1 row\)"
        with pytest.raises(ValueError, match=message):
            _fast().fit(_X150, y)


def test_estimator_all_singletons_among_untrusted_rows():
    y = np.arange(150) % 3
    trusted = np.arange(150) > 1  # two untrusted rows, of two classes
    with pytest.raises(ValueError, match=r"single row among the 2 untrusted rows.*at least 2 untrusted rows"):
        _fast(method="gold").fit(_X150, y, trusted=trusted)


def test_estimator_untrusted_rows_of_one_class():
    y = np.arange(150) % 3
    with pytest.raises(ValueError, match=r"untrusted rows, but all 50 of them have the label 0"):
        _fast(method="gold").fit(_X150, y, trusted=y != 0)


def test_estimator_small_classes_listed_in_warning():
    y = np.arange(150) % 3
    y[:4] = [3, 3, 4, 4]  # two classes of 2 rows each, fewer than cv=3
    message = r"using 2 folds instead\. Classes with fewer than 3 rows \(count\): 3 \(2\), 4 \(2\)\."
    with pytest.warns(UserWarning, match=message):
        _fast().fit(_X150, y)


@pytest.mark.parametrize(
    "params, error, message",
    [
        (
            {"estimator": LogisticRegression},
            InvalidParameterError,
            _param("estimator") + r"an instance\. Got <class .*LogisticRegression'> instead\. Pass LogisticRegression\(",
        ),
        ({"estimator": SVC()}, InvalidParameterError, _param("estimator") + _CLASSIFIER + r"\. Got SVC\(\) .*probability=True"),
        ({"estimator": StandardScaler()}, InvalidParameterError, _param("estimator") + _CLASSIFIER + r"\. Got StandardScaler"),
        ({"cv": "3"}, InvalidParameterError, _param("cv") + _CV + r"\. Got '3' instead"),
        ({"cv": None}, InvalidParameterError, _param("cv") + _CV + r"\. Got None instead"),
        ({"n_jobs": "2"}, InvalidParameterError, _param("n_jobs") + r"an int in the range \(-inf, inf\) or None\. .*every core"),
        ({"refit": "yes"}, InvalidParameterError, _param("refit") + r"an instance of 'bool' .* Got 'yes' instead"),
        ({"method": None}, InvalidParameterError, _param("method") + r"a str among \{.*'anchor'.*\}\. Got None"),
        ({"quantile": "0.9"}, InvalidParameterError, _param("quantile") + r"a float in the range \(0\.0, 1\.0\] or None"),
    ],
)
def test_estimator_bad_parameters(params, error, message):
    params = {"estimator": LogisticRegression(), **params}
    with pytest.raises(error, match=message):
        TransitionMatrixEstimator(**params).fit(_X150, np.arange(150) % 3)


def test_estimator_one_class_named_plainly():
    with pytest.raises(ValueError, match=r"got 1 class \(0\.0\)\.$"):
        _fast().fit(_X150, np.zeros(150))


def test_estimator_warns_when_its_estimate_is_uninformative():
    from sklearn.dummy import DummyClassifier

    from sknoisy.transition import UninformativeTransitionWarning

    with pytest.warns(UninformativeTransitionWarning, match=r"estimated transition_matrix_ has \(nearly\) identical"):
        TransitionMatrixEstimator(DummyClassifier(strategy="uniform", random_state=0), random_state=0).fit(
            _X150, np.arange(150) % 3
        )


# --------------------------------------------------------------------------
# check_informative, row_separation
# --------------------------------------------------------------------------
def test_row_separation_is_total_variation():
    from sknoisy.transition import row_separation

    D = row_separation(T4)
    assert D.shape == (4, 4)
    np.testing.assert_allclose(np.diag(D), 0.0)
    np.testing.assert_allclose(D, D.T)
    np.testing.assert_allclose(D[0, 1], 0.5 * np.abs(T4[0] - T4[1]).sum())


def test_check_informative_refuses_identical_rows():
    from sknoisy.transition import check_informative

    with pytest.raises(ValueError, match=r"\(nearly\) identical rows.*zero gradient"):
        check_informative(np.full((3, 3), 1 / 3))
    nearly = np.full((3, 3), 1 / 3) + np.array([[0.002, -0.002, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="identical rows"):
        check_informative(nearly)
    # symmetric noise at rate (C-1)/C is the same matrix: no information either
    with pytest.raises(ValueError, match="identical rows"):
        check_informative(make_transition_matrix("symmetric", 3, 2 / 3))
    with pytest.raises(ValueError, match="my_T has"):
        check_informative(np.full((2, 2), 0.5), name="my_T")
    with pytest.raises(ValueError, match="Do this"):
        check_informative(np.full((2, 2), 0.5), advice="Do this.")


def test_check_informative_warn_mode_and_pairs():
    from sknoisy.transition import UninformativeTransitionWarning, check_informative

    with pytest.warns(UninformativeTransitionWarning, match="identical rows"):
        T = check_informative(np.full((3, 3), 1 / 3), uninformative="warn")
    assert T.shape == (3, 3)
    T = np.array([[0.8, 0.2, 0.0], [0.8, 0.2, 0.0], [0.0, 0.1, 0.9]])
    with pytest.warns(UninformativeTransitionWarning, match=r"class pair\(s\) \('cat', 'dog'\)"):
        check_informative(T, classes=["cat", "dog", "eel"])


def test_check_informative_accepts_informative_matrices():
    from sknoisy.transition import check_informative

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for T in (T4, np.eye(3), make_transition_matrix("symmetric", 10, 0.8), make_transition_matrix("pair", 3, 1.0)):
            np.testing.assert_allclose(check_informative(T), T)
        np.testing.assert_allclose(check_informative([[1.0]]), [[1.0]])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"uninformative": "ignore"}, "uninformative must be 'raise' or 'warn'"),
        ({"tol": 1.0}, r"tol must be a number in \[0, 1\)"),
        ({"tol": True}, r"tol must be a number in \[0, 1\)"),
        ({"classes": [0, 1]}, "classes has 2 labels but transition_matrix has 4 rows"),
    ],
)
def test_check_informative_bad_arguments(kwargs, message):
    from sknoisy.transition import check_informative

    with pytest.raises(ValueError, match=message):
        check_informative(T4, **kwargs)


# ---------------------------------------------------------------------------
# calibration of the out-of-fold probabilities, and the default method
# ---------------------------------------------------------------------------


class _Overconfident(LogisticRegression):
    """Logistic regression whose probabilities are sharpened by a factor 4 (temperature 1/4)."""

    def predict_proba(self, X):
        logits = 4.0 * np.log(np.clip(super().predict_proba(X), 1e-12, None))
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)


def _log_loss(proba, y):
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


@pytest.mark.parametrize("sharpen, above_one", [(3.0, True), (1.0 / 3.0, False)])
def test_fit_temperature_recovers_the_miscalibration_and_lowers_held_out_log_loss(sharpen, above_one):
    from sknoisy.transition._estimates import fit_temperature, scale_temperature

    rng = np.random.RandomState(0)
    logits = rng.normal(scale=2.0, size=(4000, 4))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in truth])
    model = scale_temperature(truth, 1.0 / sharpen)  # over- (sharpen > 1) or under-confident
    fit_rows, held = np.arange(2000), np.arange(2000, 4000)
    t = fit_temperature(model[fit_rows], y[fit_rows])
    assert t > 0 and (t > 1.0) == above_one
    assert t == pytest.approx(sharpen, rel=0.15)
    assert _log_loss(scale_temperature(model[held], t), y[held]) < _log_loss(model[held], y[held])
    # scaling keeps the ranking of every row
    np.testing.assert_array_equal(scale_temperature(model, t).argmax(axis=1), model.argmax(axis=1))


def test_scale_temperature_refuses_a_non_positive_temperature():
    from sknoisy.transition._estimates import scale_temperature

    for bad in (0.0, -1.0, float("nan"), True, "2"):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            scale_temperature(np.array([[0.5, 0.5]]), bad)


@pytest.mark.parametrize("bad", ["Temperature", "platt", True, 1, ["temperature"]])
def test_calibration_is_validated(noisy_data, bad):
    X, _, y_noisy, _, _ = noisy_data
    with pytest.raises(InvalidParameterError, match=_param("calibration") + r"a str among \{'temperature'\} or None"):
        _fast(calibration=bad, cv=2).fit(X, y_noisy)


def test_calibration_is_refused_by_the_methods_with_trusted_rows(noisy_data):
    X, y_clean, y_noisy, trusted, _ = noisy_data
    y = np.where(trusted, y_clean, y_noisy)
    with pytest.raises(ValueError, match="calibration='temperature' calibrates the out-of-fold probabilities"):
        _fast(method="gold", calibration="temperature", cv=2).fit(X, y, trusted=trusted)


def test_temperature_calibration_brings_an_overconfident_anchor_estimate_closer_to_the_truth():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(600, centers=3, cluster_std=2.0, random_state=0)
    T = make_transition_matrix("symmetric", 3, 0.3)
    y_noisy = corrupt_labels(y, T, random_state=0)
    raw = TransitionMatrixEstimator(_Overconfident(), method="anchor", random_state=0).fit(X, y_noisy)
    calibrated = TransitionMatrixEstimator(
        _Overconfident(), method="anchor", calibration="temperature", random_state=0
    ).fit(X, y_noisy)
    assert raw.temperatures_ is None
    # one temperature per fold; the sharpening by 4 is seen and undone
    assert calibrated.temperatures_.shape == (3,) and np.all(calibrated.temperatures_ > 2.0)
    raw_error = transition_matrix_error(raw.transition_matrix_, T)
    calibrated_error = transition_matrix_error(calibrated.transition_matrix_, T)
    assert raw_error > 0.4 and calibrated_error < raw_error / 2
    # the calibrated probabilities fit the noisy labels better than the raw ones
    assert _log_loss(calibrated.oof_proba_, y_noisy) < _log_loss(raw.oof_proba_, y_noisy)
    # transform keeps the model as fitted: same estimator_, same transform
    np.testing.assert_allclose(
        raw.estimator_.predict_proba(X[:5]), calibrated.estimator_.predict_proba(X[:5])
    )


def test_temperature_calibration_is_reproducible_and_never_fits_on_the_predicted_rows(noisy_data):
    X, _, y_noisy, _, _ = noisy_data
    first = _fast(calibration="temperature", cv=2, random_state=0).fit(X, y_noisy)
    second = _fast(calibration="temperature", cv=2, random_state=0).fit(X, y_noisy)
    np.testing.assert_array_equal(first.oof_proba_, second.oof_proba_)
    np.testing.assert_array_equal(first.temperatures_, second.temperatures_)

    seen = []

    class _Recording(LogisticRegression):
        def fit(self, X, y):
            seen.append(np.asarray(X).copy())
            return super().fit(X, y)

    tme = TransitionMatrixEstimator(_Recording(), cv=2, calibration="temperature", refit=False, random_state=0)
    tme.fit(X, y_noisy)
    folds = list(tme._make_cv(np.unique(y_noisy, return_inverse=True)[1], 0).split(X, y_noisy))
    for fitted_on, (train, test) in zip(seen, folds):
        # each fold's model is fitted on 80% of its training rows only
        assert len(fitted_on) == len(train) - int(np.ceil(0.2 * len(train)))
        assert not (set(map(tuple, fitted_on)) & set(map(tuple, X[test])))


def test_the_default_method_is_the_registry_default_and_needs_no_trusted_rows(noisy_data):
    from sknoisy.transition import DEFAULT_TRANSITION_METHOD

    assert DEFAULT_TRANSITION_METHOD == "confident_joint"
    assert TransitionMatrixEstimator().method == DEFAULT_TRANSITION_METHOD
    assert TransitionMatrixEstimator().calibration is None
    assert not TRANSITION_METHODS[DEFAULT_TRANSITION_METHOD].needs_trusted
    X, _, y_noisy, _, _ = noisy_data
    tme = _fast(cv=2, random_state=0).fit(X, y_noisy)
    np.testing.assert_allclose(tme.transition_matrix_, estimate_confident_joint(tme.oof_proba_, y_noisy))
    assert TransitionMatrixEstimator.__doc__.count("default='confident_joint'") == 1


def test_temperature_calibration_with_a_class_too_small_to_stratify():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.r_[np.zeros(29, int), np.ones(29, int), [2, 2]]  # class 2: one row per training fold
    X[y == 1] += 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tme = _fast(cv=2, calibration="temperature", random_state=0).fit(X, y)
    assert tme.temperatures_.shape == (2,) and np.all(tme.temperatures_ > 0)
    np.testing.assert_allclose(tme.oof_proba_.sum(axis=1), 1.0)


def test_confident_joint_never_has_a_zero_diagonal_entry():
    # An uninformative model (probabilities unrelated to the labels) used to give a zero diagonal entry in
    # 197 of 200 such draws at 10 classes: a degenerate T for forward correction and MLC.
    import warnings

    from sknoisy.transition import estimate_confident_joint

    for seed in range(20):
        rng = np.random.RandomState(seed)
        proba, y = rng.dirichlet(np.full(10, 50.0), size=100), rng.randint(0, 10, 100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # classes nobody is counted for get the identity row, with a warning
            T = estimate_confident_joint(proba, y)
        assert np.all(np.diag(T) > 0)
        np.testing.assert_allclose(T.sum(axis=1), 1.0)
