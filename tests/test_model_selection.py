"""Trusted-aware model selection (sknoisy/model_selection/)."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.metadata_routing import get_routing_for_object

import sknoisy
from sknoisy import base
from sknoisy._glc import GLCClassifier
from sknoisy._loss_correction import ForwardCorrectedClassifier
from sknoisy._meta import MetaLossCorrectionClassifier
from sknoisy.model_selection import (
    TrustedKFold,
    TrustedValidSplit,
    forward_corrected_log_loss_scorer,
    trusted_scorer,
)
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.transition import TransitionMatrixEstimator

FAST = {"module__hidden_units": (16,), "max_epochs": 5, "lr": 0.05, "batch_size": 64, "random_state": 0}


@pytest.fixture(scope="module")
def noisy():
    """Flip-to-one noise at 30%, every 4th row trusted and carrying its clean label."""
    X, y_noisy, y_clean, T = make_noisy_classification(
        240, n_features=6, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0, class_sep=2.0
    )
    trusted = np.arange(240) % 4 == 0
    y = np.where(trusted, y_clean, y_noisy)
    return X.astype(np.float32), y, trusted, T


# --------------------------------------------------------------------------- TrustedKFold
def test_test_folds_hold_only_trusted_rows_each_tested_once(noisy):
    X, y, trusted, _ = noisy
    cv = TrustedKFold(4, shuffle=True, random_state=0)
    tested = []
    for train, test in cv.split(X, y, trusted=trusted):
        assert trusted[test].all()
        # the training set is every other row: all untrusted ones and the other trusted ones
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(X)))
        assert np.intersect1d(train, test).size == 0
        assert (~trusted[train]).sum() == (~trusted).sum()
        tested.append(test)
    tested = np.concatenate(tested)
    np.testing.assert_array_equal(np.sort(tested), np.flatnonzero(trusted))
    assert cv.get_n_splits() == 4


def test_folds_are_stratified_over_trusted_labels():
    y = np.repeat([0, 1, 2], [30, 60, 90])
    trusted = np.arange(180) % 3 == 0  # 10, 20, 30 trusted rows per class
    for _, test in TrustedKFold(5).split(np.zeros((180, 1)), y, trusted=trusted):
        np.testing.assert_array_equal(np.bincount(y[test], minlength=3), [2, 4, 6])


def test_no_y_or_tiny_classes_fall_back_to_plain_kfold():
    trusted = np.array([True, False] * 5)
    folds = [test for _, test in TrustedKFold(5).split(np.zeros((10, 1)), trusted=trusted)]
    assert [f.tolist() for f in folds] == [[0], [2], [4], [6], [8]]
    y = np.arange(10)  # each trusted label once: no stratification possible
    folds_y = [test for _, test in TrustedKFold(5).split(np.zeros((10, 1)), y, trusted=trusted)]
    assert [f.tolist() for f in folds_y] == [[0], [2], [4], [6], [8]]


def test_shuffle_is_reproducible():
    trusted = np.ones(30, dtype=bool)
    y = np.arange(30) % 3
    a = [t.tolist() for _, t in TrustedKFold(3, shuffle=True, random_state=1).split(np.zeros((30, 1)), y, trusted=trusted)]
    b = [t.tolist() for _, t in TrustedKFold(3, shuffle=True, random_state=1).split(np.zeros((30, 1)), y, trusted=trusted)]
    c = [t.tolist() for _, t in TrustedKFold(3).split(np.zeros((30, 1)), y, trusted=trusted)]
    assert a == b and a != c


def test_trusted_kfold_errors():
    X = np.zeros((10, 1))
    with pytest.raises(ValueError, match=r"TrustedKFold needs the trusted mask.*enable_metadata_routing=True"):
        next(TrustedKFold(2).split(X))
    with pytest.raises(ValueError, match=r"TrustedKFold\(n_splits=3\) needs at least 3 trusted rows, but the data has 2"):
        next(TrustedKFold(3).split(X, trusted=np.arange(10) < 2))
    with pytest.raises(ValueError, match="trusted has length 9 but X has 10 samples"):
        next(TrustedKFold(2).split(X, trusted=np.ones(9, dtype=bool)))
    with pytest.raises(ValueError, match="trusted must be a boolean mask"):
        next(TrustedKFold(2).split(X, trusted=np.linspace(0, 1, 10)))
    with pytest.raises(ValueError, match="n_splits >= 2"):
        TrustedKFold(1)
    with pytest.raises(TypeError, match="n_splits must be an integer"):
        TrustedKFold(2.5)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        TrustedKFold(2, shuffle="yes")
    with pytest.raises(ValueError, match="random_state has no effect since shuffle is False"):
        TrustedKFold(2, random_state=0)


def test_trusted_kfold_requests_trusted_for_split():
    routing = get_routing_for_object(TrustedKFold())
    assert routing.split.requests["trusted"] is True
    assert "TrustedKFold(n_splits=5" in repr(TrustedKFold())


def test_grid_search_routes_trusted_to_splitter_and_scorer(noisy):
    """Scores in cv_results_ equal a manual loop over the TrustedKFold splits."""
    X, y, trusted, _ = noisy
    cv = TrustedKFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        grid = GridSearchCV(
            LogisticRegression(max_iter=200), {"C": [0.01, 1.0]}, cv=cv, scoring=trusted_scorer("accuracy")
        )
        grid.fit(X, y, trusted=trusted)
    for k, (train, test) in enumerate(cv.split(X, y, trusted=trusted)):
        model = LogisticRegression(max_iter=200, C=0.01).fit(X[train], y[train])
        expected = accuracy_score(y[test], model.predict(X[test]))
        assert grid.cv_results_[f"split{k}_test_score"][0] == pytest.approx(expected)


def test_cross_validate_with_routing(noisy):
    X, y, trusted, _ = noisy
    with sklearn.config_context(enable_metadata_routing=True):
        res = cross_validate(
            DummyClassifier(),
            X,
            y,
            cv=TrustedKFold(3),
            scoring={"acc": trusted_scorer(), "bal": trusted_scorer("balanced_accuracy")},
            params={"trusted": trusted},
        )
    assert res["test_acc"].shape == (3,) and np.all(np.isfinite(res["test_bal"]))


# --------------------------------------------------------------------------- trusted_scorer
@pytest.fixture(scope="module")
def fitted_lr(noisy):
    X, y, _, _ = noisy
    return LogisticRegression(max_iter=200).fit(X, y)


@pytest.mark.parametrize(
    "metric, manual",
    [
        ("accuracy", lambda clf, X, y: accuracy_score(y, clf.predict(X))),
        ("balanced_accuracy", lambda clf, X, y: balanced_accuracy_score(y, clf.predict(X))),
        ("f1_macro", lambda clf, X, y: f1_score(y, clf.predict(X), average="macro")),
        ("neg_log_loss", lambda clf, X, y: -log_loss(y, clf.predict_proba(X), labels=clf.classes_)),
    ],
)
def test_trusted_scorer_scores_only_trusted_rows(fitted_lr, noisy, metric, manual):
    X, y, trusted, _ = noisy
    score = trusted_scorer(metric)(fitted_lr, X, y, trusted=trusted)
    assert score == pytest.approx(manual(fitted_lr, X[trusted], y[trusted]))
    # flipping the untrusted labels changes nothing
    y_other = np.where(trusted, y, (y + 1) % 3)
    assert trusted_scorer(metric)(fitted_lr, X, y_other, trusted=trusted) == pytest.approx(score)


def test_trusted_scorer_log_loss_with_a_class_missing_from_the_fold(fitted_lr, noisy):
    X, y, trusted, _ = noisy
    only01 = trusted & (y != 2)
    score = trusted_scorer("neg_log_loss")(fitted_lr, X, y, trusted=only01)
    assert score == pytest.approx(-log_loss(y[only01], fitted_lr.predict_proba(X[only01]), labels=[0, 1, 2]))


def test_trusted_scorer_callable_metric_and_kwargs(fitted_lr, noisy):
    X, y, trusted, _ = noisy

    def errors(y_true, y_pred, weight=1.0):
        return -weight * np.sum(y_true != y_pred)

    scorer = trusted_scorer(errors, weight=2.0)
    assert repr(scorer) == "trusted_scorer('errors', weight=2.0)"
    expected = -2.0 * np.sum(fitted_lr.predict(X[trusted]) != y[trusted])
    assert scorer(fitted_lr, X, y, trusted=trusted) == expected


def test_trusted_scorer_works_on_dataframes(fitted_lr, noisy):
    pd = pytest.importorskip("pandas")
    X, y, trusted, _ = noisy
    clf = LogisticRegression(max_iter=200).fit(pd.DataFrame(X), y)
    score = trusted_scorer()(clf, pd.DataFrame(X), pd.Series(y), trusted=pd.Series(trusted))
    assert score == pytest.approx(accuracy_score(y[trusted], clf.predict(pd.DataFrame(X[trusted]))))


def test_trusted_scorer_on_a_torch_dataset(noisy):
    import torch

    from sknoisy.base import CrossEntropyClassifier

    class Inputs(torch.utils.data.Dataset):
        def __init__(self, X):
            self.X = torch.as_tensor(X)

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return self.X[i]

    X, y, trusted, _ = noisy
    clf = CrossEntropyClassifier(MLP, **{**FAST, "max_epochs": 2}).fit(X, y)
    score = trusted_scorer()(clf, Inputs(X), y, trusted=trusted)
    assert score == pytest.approx(accuracy_score(y[trusted], clf.predict(X[trusted])))


def test_trusted_scorer_errors(fitted_lr, noisy):
    X, y, trusted, _ = noisy
    with pytest.raises(ValueError, match="Unknown metric 'recall'"):
        trusted_scorer("recall")
    with pytest.raises(TypeError, match="metric must be a metric name or a callable"):
        trusted_scorer(3)
    with pytest.raises(ValueError, match=r"needs the trusted mask.*enable_metadata_routing=True"):
        trusted_scorer()(fitted_lr, X, y)
    with pytest.raises(ValueError, match="hold no trusted row"):
        trusted_scorer()(fitted_lr, X, y, trusted=np.zeros(len(y), dtype=bool))
    with pytest.raises(ValueError, match="trusted has length 3"):
        trusted_scorer()(fitted_lr, X, y, trusted=np.ones(3, dtype=bool))


def test_trusted_scorer_requests_trusted_and_accepts_an_alias(fitted_lr, noisy):
    X, y, trusted, _ = noisy
    scorer = trusted_scorer()
    assert get_routing_for_object(scorer).score.requests == {"trusted": True}
    scorer.set_score_request(trusted="clean")
    assert get_routing_for_object(scorer).score.requests == {"trusted": "clean"}
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_val_score(DummyClassifier(), X, y, cv=TrustedKFold(2), scoring=scorer, params={"trusted": trusted, "clean": trusted})
    assert scores.shape == (2,)


def test_without_routing_the_splitter_says_how_to_enable_it(noisy):
    X, y, trusted, _ = noisy
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        cross_val_score(DummyClassifier(), X, y, cv=TrustedKFold(2), scoring=trusted_scorer())


# --------------------------------------------------------------------------- forward-corrected scorer
class _WithT(DummyClassifier):
    """A fitted stand-in carrying a transition_matrix_."""

    def fit(self, X, y):
        super().fit(X, y)
        self.transition_matrix_ = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]])
        return self


def test_forward_corrected_scorer_matches_manual(fitted_lr, noisy):
    X, y, _, T = noisy
    score = forward_corrected_log_loss_scorer(T)(fitted_lr, X, y)
    manual = -np.mean(-np.log((fitted_lr.predict_proba(X) @ T)[np.arange(len(y)), y]))
    assert score == pytest.approx(manual)
    # with T = I it is sklearn's negative log-loss
    assert forward_corrected_log_loss_scorer(np.eye(3))(fitted_lr, X, y) == pytest.approx(
        -log_loss(y, fitted_lr.predict_proba(X))
    )


def test_forward_corrected_scorer_uses_the_fitted_matrix_and_user_labels(noisy):
    X, y, _, _ = noisy
    labels = np.array(["a", "b", "c"])[y]
    est = _WithT(strategy="stratified", random_state=0).fit(X, labels)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _WithT(strategy="prior"))]).fit(X, labels)
    T = pipe[-1].transition_matrix_
    manual = -np.mean(-np.log((pipe.predict_proba(X) @ T)[np.arange(len(y)), y]))
    assert forward_corrected_log_loss_scorer("fitted")(pipe, X, labels) == pytest.approx(manual)
    assert np.isfinite(forward_corrected_log_loss_scorer()(est, X, labels))


def test_forward_corrected_scorer_in_cross_validation_without_trusted_rows(noisy):
    X, y, _, T = noisy
    clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, **FAST)
    scores = cross_val_score(clf, X, y, cv=KFold(2), scoring=forward_corrected_log_loss_scorer("fitted"))
    assert scores.shape == (2,) and np.all(scores < 0)


def test_forward_corrected_scorer_name_and_errors(fitted_lr, noisy):
    X, y, _, _ = noisy
    scorer = forward_corrected_log_loss_scorer("fitted")
    assert "forward-corrected noisy log-loss" in repr(scorer)
    assert scorer.name == "forward-corrected noisy log-loss"
    assert "3x3" in repr(forward_corrected_log_loss_scorer(np.eye(3)))
    with pytest.raises(ValueError, match="must be an array or 'fitted'"):
        forward_corrected_log_loss_scorer("anchor")
    with pytest.raises(ValueError, match="not row-stochastic"):
        forward_corrected_log_loss_scorer([[0.5, 0.1], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"eps must be a number in \(0, 1\)"):
        forward_corrected_log_loss_scorer(np.eye(3), eps=0)
    with pytest.raises(ValueError, match="has no fitted transition_matrix_"):
        scorer(fitted_lr, X, y)
    with pytest.raises(ValueError, match=r"expected shape \(3, 3\)"):
        forward_corrected_log_loss_scorer(np.eye(2))(fitted_lr, X, y)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in the estimator's classes_"):
        forward_corrected_log_loss_scorer(np.eye(3))(fitted_lr, X[:2], [0, 7])
    assert get_routing_for_object(scorer).score.requests == {}


def test_trusted_valid_split_is_re_exported():
    assert TrustedValidSplit is base.TrustedValidSplit is sknoisy.TrustedValidSplit


def test_trusted_scorer_reads_memmaps_and_lists_for_any_estimator(fitted_lr, noisy, tmp_path):
    """A memmap's trusted rows reach a scikit-learn estimator as an array, not a torch Subset."""
    X, y, trusted, _ = noisy
    np.save(tmp_path / "X.npy", X)
    X_mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    expected = accuracy_score(y[trusted], fitted_lr.predict(X[trusted]))
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=200))]).fit(X, y)
    assert trusted_scorer()(fitted_lr, X_mm, y, trusted=trusted) == pytest.approx(expected)
    assert trusted_scorer()(fitted_lr, X.tolist(), y.tolist(), trusted=trusted) == pytest.approx(expected)
    assert np.isfinite(trusted_scorer()(pipe, X_mm, y, trusted=trusted))


def _table_dataset(n=40, n_classes=2):
    from skorch.dataset import Dataset

    labels = np.arange(n) % n_classes
    trusted = np.arange(n) < n // 2
    return Dataset(np.zeros((n, 1), np.float32), labels), labels, trusted


def test_trusted_valid_split_holds_out_trusted_rows_per_class():
    from sknoisy._targets import make_target_table

    dataset, labels, trusted = _table_dataset()
    train, valid = TrustedValidSplit(0.2, random_state=0)(dataset, make_target_table(labels, trusted))
    valid_idx, train_idx = np.asarray(valid.indices), np.asarray(train.indices)
    assert trusted[valid_idx].all()  # validation never sees a noisy label
    assert np.bincount(labels[valid_idx]).tolist() == [2, 2]  # 20% of each class's 10 trusted rows
    assert sorted(np.concatenate([train_idx, valid_idx]).tolist()) == list(range(len(labels)))
    no_trusted = make_target_table(labels, np.zeros_like(trusted))
    assert TrustedValidSplit()(dataset, no_trusted) == (dataset, None)


def test_noisy_holdout_is_stratified_and_stands_aside_when_too_small():
    from sknoisy.model_selection._split import NoisyHoldout

    dataset, labels, _ = _table_dataset()
    train, valid = NoisyHoldout(0.2, random_state=0)(dataset, labels)
    assert np.bincount(labels[np.asarray(valid.indices)]).tolist() == [4, 4]
    assert len(train) == 32
    again = NoisyHoldout(0.2, random_state=0)(dataset, labels)[1]
    np.testing.assert_array_equal(valid.indices, again.indices)
    one_of_a_class = np.r_[labels[:-1], 2]
    assert NoisyHoldout(0.2, random_state=0)(dataset, one_of_a_class) == (dataset, None)


def test_model_selection_never_imports_a_classifier():
    """The classifiers import model_selection._split, so no arrow may point back (no import cycle)."""
    import ast
    import pathlib

    import sknoisy.model_selection as package

    allowed = {"_split", "_scorers", "_targets", "utils", "utils._rows", "utils._validation"}
    for path in pathlib.Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.module in allowed, f"{path.name} imports {'.' * node.level}{node.module}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(name.startswith("sknoisy") for name in names), f"{path.name} imports {names}"


# --------------------------------------------------------------------------- with sknoisy nets
def test_glc_in_pipeline_grid_search_with_routed_mask(noisy):
    X, y, trusted, _ = noisy
    with sklearn.config_context(enable_metadata_routing=True):
        clf = GLCClassifier(MLP, **FAST).set_fit_request(trusted=True)
        pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
        grid = GridSearchCV(pipe, {"clf__lr": [0.01, 0.05]}, cv=TrustedKFold(3), scoring=trusted_scorer("accuracy"))
        grid.fit(X, y, trusted=trusted)
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores.max() > 0.6
    assert grid.best_estimator_[-1].transition_matrix_.shape == (3, 3)


def _design_grid(forward_grid, error_score=np.nan):
    """The grid of DESIGN.md: Forward (anchor / gold T), GLC and MLC in one Pipeline."""
    mlc = MetaLossCorrectionClassifier(MLP, meta_batch_size=16, **FAST).set_fit_request(trusted=True)
    param_grid = [
        forward_grid,
        {"clf": [GLCClassifier(MLP, **FAST).set_fit_request(trusted=True)]},
        {"clf": [mlc], "clf__meta_lr": [0.1, 1.0]},
    ]
    pipe = Pipeline([("scale", StandardScaler()), ("clf", _forward())])
    return GridSearchCV(
        pipe, param_grid, cv=TrustedKFold(2), scoring=trusted_scorer("accuracy"), error_score=error_score
    )


def _forward(method="anchor"):
    tme = TransitionMatrixEstimator(LogisticRegression(max_iter=200), method=method, cv=2)
    return ForwardCorrectedClassifier(MLP, transition_matrix=tme, **FAST).set_fit_request(trusted=True)


def test_grid_search_over_correction_methods(noisy):
    """Forward with an anchor and a gold T, GLC and MLC compared on trusted folds only."""
    X, y, trusted, _ = noisy
    with sklearn.config_context(enable_metadata_routing=True):
        grid = _design_grid({"clf": [_forward("anchor"), _forward("gold")]}, error_score="raise")
        grid.fit(X, y, trusted=trusted)
    assert len(grid.cv_results_["params"]) == 3 + 2
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ > 0.6
    assert hasattr(grid.best_estimator_[-1], "transition_matrix_")


def test_design_grid_searches_the_nested_transition_method(noisy):
    """DESIGN.md's spelling: clf__transition_matrix__method in the grid."""
    X, y, trusted, _ = noisy
    with sklearn.config_context(enable_metadata_routing=True):
        grid = _design_grid(
            {"clf": [_forward()], "clf__transition_matrix__method": ["anchor", "gold"]}, error_score="raise"
        )
        grid.fit(X, y, trusted=trusted)
    methods = [p["clf__transition_matrix__method"] for p in grid.cv_results_["params"][:2]]
    assert methods == ["anchor", "gold"]
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"][:2]))
    for params in grid.cv_results_["params"][:2]:
        fitted = clone(grid.estimator).set_params(**params)
        assert fitted[-1].transition_matrix.method == params["clf__transition_matrix__method"]
