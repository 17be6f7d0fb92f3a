"""Methods with trusted rows that assume no class-conditional noise (sknoisy/_trusted.py)."""

import numpy as np
import pytest
import torch

from sknoisy import (
    CLASSIFIER_METHODS,
    AutoNoisyClassifier,
    CrossEntropyClassifier,
    TrustedOnlyClassifier,
    TrustedTeacherClassifier,
    load_model,
    save_model,
)
from sknoisy._trusted import _matching_epochs
from sknoisy.modules import MLP
from sknoisy.utils._testing import FAST_NET_PARAMS, boundary_noise_data

FAST = {**FAST_NET_PARAMS, "max_epochs": 10}


@pytest.fixture(scope="module")
def data():
    """3 classes; the noisy labels are those of a single wrong decision boundary (input-dependent noise)."""
    return boundary_noise_data()


@pytest.fixture(scope="module")
def teacher_fit(data):
    X, y, _, trusted = data
    return TrustedTeacherClassifier(MLP, **FAST).fit(X, y, trusted=trusted)


# ------------------------------------------------------------------- trusted only
def test_trusted_only_trains_on_the_trusted_rows_alone(data):
    X, y, y_clean, trusted = data
    clf = TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    assert clf.n_trusted_ == 60
    # the same net trained by hand on those rows (with the epochs that match the steps)
    epochs = _matching_epochs(FAST["max_epochs"], FAST["batch_size"], len(y), 60)
    by_hand = CrossEntropyClassifier(MLP, **{**FAST, "max_epochs": epochs}, classes=[0, 1, 2])
    by_hand.fit(X[trusted], y[trusted])
    np.testing.assert_allclose(clf.predict_proba(X), by_hand.predict_proba(X), atol=1e-6)
    assert len(clf.history_) == epochs


def test_trusted_only_ignores_the_labels_of_untrusted_rows(data):
    X, y, _, trusted = data
    scrambled = np.where(trusted, y, np.random.RandomState(1).randint(0, 3, len(y)))
    a = TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    b = TrustedOnlyClassifier(MLP, **FAST).fit(X, scrambled, trusted=trusted)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_match_steps_false_trains_max_epochs_over_the_trusted_rows(data):
    X, y, _, trusted = data
    clf = TrustedOnlyClassifier(MLP, **FAST, match_steps=False).fit(X, y, trusted=trusted)
    assert len(clf.history_) == FAST["max_epochs"]
    clf.partial_fit(X, y, trusted=trusted, epochs=2)
    assert len(clf.history_) == FAST["max_epochs"] + 2


def test_matching_epochs():
    assert _matching_epochs(20, 128, 4000, 200) == 20 * 16
    assert _matching_epochs(20, 128, 100, 100) == 20
    assert _matching_epochs(20, 1, 10**6, 10) == 20 * 50  # capped
    assert _matching_epochs(20, -1, 4000, 200) == 20


def test_trusted_only_sample_weight_of_the_trusted_rows(data):
    X, y, _, trusted = data
    w = np.where(trusted, 1.0, 5.0)  # only the trusted rows' weights matter, and only their ratios
    a = TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted, sample_weight=w)
    b = TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match="sample_weight is 0 on every one of them"):
        TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted, sample_weight=np.where(trusted, 0.0, 1.0))


# ------------------------------------------------------------------------ teacher
def test_teacher_is_trained_on_the_trusted_rows_and_beats_plain_ce(teacher_fit, data):
    X, y, y_clean, trusted = data
    assert teacher_fit.teacher_.classes_.tolist() == [0, 1, 2]
    assert np.isnan(teacher_fit.teacher_accuracy_)  # trained on every trusted row: nothing held out
    # every flipped row is one the teacher should doubt
    assert 0.0 < teacher_fit.filtered_fraction_ < 0.6
    ce = CrossEntropyClassifier(MLP, **FAST).fit(X, y)
    acc = np.mean(teacher_fit.predict(X) == y_clean)
    # measured 0.90 (relabel, the default) against CE's 0.62: CE learns the wrong boundary, the teacher undoes it
    assert acc > np.mean(ce.predict(X) == y_clean) + 0.1


def test_teacher_early_stopping_holds_out_trusted_rows(data):
    X, y, _, trusted = data
    clf = TrustedTeacherClassifier(MLP, **FAST, teacher_early_stopping=True).fit(X, y, trusted=trusted)
    assert 0.0 <= clf.teacher_accuracy_ <= 1.0
    assert "valid_loss" in clf.teacher_.history_[-1]


@pytest.mark.parametrize("mode", ["distill", "filter"])
def test_the_other_modes_undo_much_of_the_noise(mode, data):
    X, y, y_clean, trusted = data
    clf = TrustedTeacherClassifier(MLP, **FAST, mode=mode).fit(X, y, trusted=trusted)
    # measured 0.91 (distill), 0.91 (filter)
    assert np.mean(clf.predict(X) == y_clean) > 0.8


def test_student_targets():
    clf = TrustedTeacherClassifier(MLP, mode="distill", label_weight=0.25, confidence=0.6)
    labels = torch.tensor([0, 1, 1])
    trusted = torch.tensor([True, False, False])
    proba = torch.tensor([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])
    targets, keep = clf._student_targets(labels, trusted, proba)
    np.testing.assert_allclose(targets, [[1.0, 0.0], [0.525, 0.475], [0.375, 0.625]])
    assert keep.tolist() == [1.0, 1.0, 1.0]
    clf.set_params(mode="filter")
    targets, keep = clf._student_targets(labels, trusted, proba)
    assert keep.tolist() == [1.0, 0.0, 1.0]  # row 1: the teacher says 0 with 0.7 >= 0.6; row 0 is trusted
    clf.set_params(mode="relabel")
    targets, keep = clf._student_targets(labels, trusted, proba)
    assert targets.tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]] and keep.tolist() == [1.0, 1.0, 1.0]


def test_label_weight_one_is_plain_cross_entropy_on_the_given_labels(data):
    X, y, _, trusted = data
    clf = TrustedTeacherClassifier(MLP, **FAST, mode="distill", label_weight=1.0).fit(X, y, trusted=trusted)
    ce = CrossEntropyClassifier(MLP, **FAST).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), ce.predict_proba(X), atol=1e-5)


def test_teacher_same_seed_same_model_and_partial_fit(data):
    X, y, _, trusted = data
    a = TrustedTeacherClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    b = TrustedTeacherClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    teacher = a.teacher_
    a.partial_fit(X[:300], y[:300], trusted=trusted[:300], epochs=1)
    assert a.teacher_ is teacher and len(a.history_) == FAST["max_epochs"] + 1


def test_teacher_with_a_class_without_trusted_rows(data):
    X, y, _, trusted = data
    partial = trusted & (y != 2)
    with pytest.warns(UserWarning, match=r"no trusted row of class\(es\) \[2\]; the teacher never predicts them"):
        clf = TrustedTeacherClassifier(MLP, **FAST).fit(X, y, trusted=partial)
    assert clf.teacher_.predict_proba(X).shape == (600, 3)


# -------------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", [TrustedOnlyClassifier, TrustedTeacherClassifier])
def test_refuses_without_trusted_rows_of_two_classes(cls, data):
    X, y, _, trusted = data
    with pytest.raises(ValueError, match="needs trusted rows: pass fit"):
        cls(MLP, **FAST).fit(X, y)
    one_class = trusted & (y == 0)
    with pytest.raises(ValueError, match="needs trusted rows of at least 2 classes"):
        cls(MLP, **FAST).fit(X, y, trusted=one_class)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"mode": "soft"}, r"'mode' parameter of TrustedTeacherClassifier must be a str among .*'relabel'.*"
                           r"Got 'soft'"),
        ({"label_weight": 1.5}, r"'label_weight' parameter .* must be a float in the range \[0\.0, 1\.0\]\. "
                                r"Got 1\.5"),
        ({"label_weight": float("nan")}, r"'label_weight' parameter .* Got nan"),
        ({"confidence": 1.0}, r"'confidence' parameter .* must be a float in the range \[0\.0, 1\.0\)\. Got 1\.0"),
        ({"confidence": True}, r"'confidence' parameter .* Got True"),
        ({"teacher_early_stopping": 1}, r"'teacher_early_stopping' parameter .* must be an instance of 'bool'.* Got 1"),
    ],
)
def test_teacher_bad_parameters(params, message, data):
    X, y, _, trusted = data
    with pytest.raises(ValueError, match=message):
        TrustedTeacherClassifier(MLP, **FAST, **params).fit(X, y, trusted=trusted)


def test_trusted_only_bad_match_steps(data):
    X, y, _, trusted = data
    with pytest.raises(ValueError, match=r"'match_steps' parameter of TrustedOnlyClassifier must be .*bool.*\. Got 'yes'"):
        TrustedOnlyClassifier(MLP, **FAST, match_steps="yes").fit(X, y, trusted=trusted)


# ---------------------------------------------------------- registry, auto, save
def test_registry_entries():
    assert CLASSIFIER_METHODS["trusted_only"].estimator is TrustedOnlyClassifier
    assert CLASSIFIER_METHODS["teacher"].estimator is TrustedTeacherClassifier
    for name in ("trusted_only", "teacher"):
        assert CLASSIFIER_METHODS[name].needs_trusted and CLASSIFIER_METHODS[name].in_auto


def test_auto_with_trusted_rows_tries_trusted_only_and_the_teacher(data):
    X, y, _, trusted = data
    auto = AutoNoisyClassifier(
        MLP, methods=["ce", "trusted_only", "teacher"], cv=2, random_state=0, **{
            k: v for k, v in FAST.items() if k != "random_state"}
    ).fit(X, y, trusted=trusted)
    assert auto.methods_ == ["ce", "trusted_only", "teacher"]
    scores = dict(zip(auto.methods_, auto.search_.cv_results_["mean_test_score"]))
    assert max(scores["trusted_only"], scores["teacher"]) > scores["ce"]


@pytest.mark.parametrize("cls", [TrustedOnlyClassifier, TrustedTeacherClassifier])
def test_save_and_load_round_trip(cls, data, tmp_path):
    X, y, _, trusted = data
    clf = cls(MLP, **FAST).fit(X, y, trusted=trusted)
    loaded = load_model(save_model(clf, tmp_path / "model"))
    assert type(loaded) is cls
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params()["module__hidden_units"] == FAST["module__hidden_units"]
