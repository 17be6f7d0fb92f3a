"""A battery of bad and edge inputs: each gets a clear error naming the problem, or a documented outcome.

Every estimator (the six classifiers, TransitionMatrixEstimator), the noise
functions and the command line are fed inputs a hostile but realistic user
would give. A case asserts the error type *and* a message naming the problem
(or the warning, or the reasonable result). Cases that still fail are marked
``xfail(strict=True)`` with the file that owns the fix.

Kinds covered: shapes, NaN/inf, dtypes, labels (types, None, one class,
continuous, unknown at predict or score), trusted masks (length, dtype,
all/none, missing classes), transition matrices (not square, wrong size, not
stochastic, negative, NaN, singular, uninformative), parameters (epochs, lr,
batch size, device, optimizer, train_split, module output width), sample
weights, warm_start, extra fit parameters, divergence, and command-line
arguments.

Tiny data (30 rows, 4 features, 3 classes) and one epoch keep it fast.
"""

import inspect
import os
import re

import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError

from sknoisy import TransitionMatrixEstimator
from sknoisy.cli import main
from sknoisy.modules import MLP
from sknoisy.noise import add_noisy_copies, corrupt_labels, make_noisy_classification, make_transition_matrix
from sknoisy.transition import UninformativeTransitionWarning
from sknoisy.utils._testing import classifier_specs

RNG = np.random.RandomState(0)
X = RNG.randn(30, 4).astype(np.float32)
Y = np.arange(30) % 3
TRUSTED = np.arange(30) % 2 == 0  # 5 trusted rows of each class
T = np.full((3, 3), 0.1) + 0.7 * np.eye(3)

# every method of the classifier registry, by its name there
CLASSES = {name: cls for name, cls, _ in classifier_specs()}
METHOD_PARAMS = {name: kwargs for name, _, kwargs in classifier_specs(T)}
ESTIMATORS = list(CLASSES)
#: The classifiers whose transition_matrix parameter takes an array.
WITH_T = [name for name, cls in CLASSES.items() if "transition_matrix" in inspect.signature(cls).parameters]


def make(name, module=MLP, **params):
    """A tiny, one-epoch estimator; the methods that take a shared T get a known one unless told otherwise."""
    kwargs = {"max_epochs": 1, "batch_size": 16, "random_state": 0}
    if module is MLP:
        kwargs["module__hidden_units"] = (8,)
    kwargs.update(METHOD_PARAMS[name])  # a known T for the methods that take the shared one
    kwargs.update(params)
    return CLASSES[name](module, **kwargs)


def fit(name, X=X, y=Y, trusted=TRUSTED, module=MLP, fit_params=None, **params):
    # every estimator gets the trusted mask: GLC and MLC need it, the others ignore it
    return make(name, module=module, **params).fit(X, y, trusted=trusted, **(fit_params or {}))


class _OneLogit(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 1)

    def forward(self, X):
        return self.linear(X)


class _Flat(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X).sum(dim=1)


class _Probabilities(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, X):
        return torch.softmax(self.linear(X), dim=-1)


def _refit(name, X2, y2, **params):
    return fit(name, warm_start=True, **params).fit(X2, y2, trusted=TRUSTED)


def _bad(name, must_be, got=".*"):
    """scikit-learn's message about a bad parameter of a sknoisy estimator, as a regex."""
    return rf"The '{name}' parameter of \w+ must be {must_be}\. Got {got} instead\."


_POSITIVE_INT = r"an int in the range \[1, inf\)"
_POSITIVE_REAL = r"a float in the range \(0\.0, inf\)"
_BATCH = _POSITIVE_INT + r" or a int among \{-1\}"
_ALL_ROWS = r" \(-1 puts every row in one batch\.\)"

_NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present here")

# (id, call(name), exception, message regex); exception None: a warning or result, see the call.
GENERIC = [
    # shapes
    ("X-1d", lambda n: fit(n, X=X[:, 0]), ValueError, "Expected 2D array"),
    ("X-no-rows", lambda n: fit(n, X=X[:0], y=Y[:0], trusted=TRUSTED[:0]), ValueError, "0 sample"),
    ("X-no-features", lambda n: fit(n, X=X[:, :0]), ValueError, "0 feature"),
    ("y-shorter", lambda n: fit(n, y=Y[:-1]), ValueError, "inconsistent numbers of samples"),
    ("y-2d", lambda n: fit(n, y=np.c_[Y, Y]), ValueError, "y should be a 1d array"),
    # NaN / inf / dtypes
    ("X-nan", lambda n: fit(n, X=np.where(X > 1, np.nan, X)), ValueError, "Input X contains NaN"),
    ("X-inf", lambda n: fit(n, X=np.where(X > 1, np.inf, X)), ValueError, "Input X contains infinity"),
    ("X-strings", lambda n: fit(n, X=np.full((30, 4), "a")), ValueError, "could not convert string to float"),
    ("X-complex", lambda n: fit(n, X=X + 1j), ValueError, "Complex data not supported"),
    ("X-sparse", lambda n: fit(n, X=scipy.sparse.csr_matrix(X)), TypeError, "dense data is required"),
    ("y-nan", lambda n: fit(n, y=np.where(Y == 0, np.nan, Y)), ValueError, "Input y contains NaN"),
    # labels
    (
        "y-with-None",
        lambda n: fit(n, y=np.array([None, *Y[1:]], dtype=object)),
        ValueError,
        "y contains None at position 0; every sample needs a label",
    ),
    (
        "y-strings-and-ints",
        lambda n: fit(n, y=np.array(["a", 1, 2] * 10, dtype=object)),
        ValueError,
        r"y mixes label types: 'a' \(str\) and 1 \(int\)",
    ),
    ("y-mixed-list", lambda n: fit(n, y=["a", 1, 2] * 10), ValueError, "y mixes label types"),
    ("y-one-class", lambda n: fit(n, y=np.zeros(30, int)), ValueError, "at least 2 classes"),
    ("y-continuous", lambda n: fit(n, y=np.linspace(0, 1, 30)), ValueError, "Unknown label type: continuous"),
    ("y-is-None", lambda n: fit(n, y=None), ValueError, "requires y to be passed"),
    # trusted masks
    ("trusted-short", lambda n: fit(n, trusted=TRUSTED[:5]), ValueError, "trusted has length 5 but X has 30"),
    ("trusted-float", lambda n: fit(n, trusted=TRUSTED * 0.5), ValueError, "must be a boolean mask"),
    ("trusted-indices", lambda n: fit(n, trusted=np.flatnonzero(TRUSTED)), ValueError, "boolean mask"),
    ("trusted-2d", lambda n: fit(n, trusted=np.c_[TRUSTED, TRUSTED]), ValueError, "1-D boolean mask"),
    # parameters
    ("max_epochs-0", lambda n: fit(n, max_epochs=0), InvalidParameterError, _bad("max_epochs", _POSITIVE_INT, "0")),
    ("max_epochs--1", lambda n: fit(n, max_epochs=-1), InvalidParameterError, _bad("max_epochs", _POSITIVE_INT, "-1")),
    ("max_epochs-float", lambda n: fit(n, max_epochs=1.5), InvalidParameterError, _bad("max_epochs", _POSITIVE_INT)),
    ("max_epochs-bool", lambda n: fit(n, max_epochs=True), InvalidParameterError, _bad("max_epochs", _POSITIVE_INT)),
    ("lr-0", lambda n: fit(n, lr=0), InvalidParameterError, _bad("lr", _POSITIVE_REAL, "0")),
    ("lr-negative", lambda n: fit(n, lr=-1e-3), InvalidParameterError, _bad("lr", _POSITIVE_REAL)),
    ("lr-nan", lambda n: fit(n, lr=float("nan")), InvalidParameterError, _bad("lr", _POSITIVE_REAL, "nan")),
    ("lr-string", lambda n: fit(n, lr="fast"), InvalidParameterError, _bad("lr", _POSITIVE_REAL, "'fast'")),
    ("optimizer__lr-0", lambda n: fit(n, optimizer__lr=0.0), InvalidParameterError, _bad("optimizer__lr", _POSITIVE_REAL)),
    ("batch_size-0", lambda n: fit(n, batch_size=0), InvalidParameterError, _bad("batch_size", _BATCH) + _ALL_ROWS),
    ("batch_size--5", lambda n: fit(n, batch_size=-5), InvalidParameterError, _bad("batch_size", _BATCH, "-5") + _ALL_ROWS),
    (
        "iterator_train__batch_size-0",
        lambda n: fit(n, iterator_train__batch_size=0),
        InvalidParameterError,
        _bad("iterator_train__batch_size", _BATCH, "0"),
    ),
    ("device-bogus", lambda n: fit(n, device="bogus"), ValueError, "device='bogus' is not a PyTorch device"),
    pytest.param(
        ("device-cuda-without-gpu", lambda n: fit(n, device="cuda"), ValueError, "PyTorch sees no CUDA GPU"),
        id="device-cuda-without-gpu",
        marks=_NO_CUDA,
    ),
    ("device-cuda-99", lambda n: fit(n, device="cuda:99"), ValueError, "no CUDA GPU|only \\d+ CUDA device"),
    (
        "optimizer-string",
        lambda n: fit(n, optimizer="adam"),
        InvalidParameterError,
        _bad("optimizer", "a callable", "'adam'") + r" Pass a torch optimizer class such as torch.optim.Adam",
    ),
    (
        "train_split-float",
        lambda n: fit(n, train_split=0.2),
        InvalidParameterError,
        _bad("train_split", "a callable or None", "0.2") + r" Pass None \(train on every row\) or a split such as",
    ),
    (
        "module-not-a-module",
        lambda n: fit(n, module=lambda **kw: "not a module"),
        TypeError,
        "module must be a torch.nn.Module",
    ),
    # module output width
    (
        "module__n_classes-2-of-3",
        lambda n: fit(n, module__n_classes=2),
        ValueError,
        r"outputs of shape \(\d+, 2\).*module__n_classes=2 does not match the 3 classes",
    ),
    (
        "module-one-logit",
        lambda n: fit(n, module=_OneLogit),
        ValueError,
        r"outputs of shape \(\d+, 1\).*one output per row",
    ),
    ("module-1d-output", lambda n: fit(n, module=_Flat), ValueError, r"outputs of shape \(\d+,\)"),
    # sample weights (scikit-learn's rules)
    ("sw-short", lambda n: fit(n, fit_params={"sample_weight": np.ones(5)}), ValueError, r"sample_weight.shape"),
    ("sw-negative", lambda n: fit(n, fit_params={"sample_weight": -np.ones(30)}), ValueError, "Negative values"),
    ("sw-nan", lambda n: fit(n, fit_params={"sample_weight": np.full(30, np.nan)}), ValueError, "contains NaN"),
    ("sw-all-zero", lambda n: fit(n, fit_params={"sample_weight": np.zeros(30)}), ValueError, "at least one non-zero"),
    ("sw-2d", lambda n: fit(n, fit_params={"sample_weight": np.ones((30, 2))}), ValueError, "1D array or scalar"),
    ("sw-strings", lambda n: fit(n, fit_params={"sample_weight": ["a"] * 30}), ValueError, "could not convert"),
    # warm_start refits
    (
        "warm_start-fewer-features",
        lambda n: _refit(n, X[:, :3], Y),
        ValueError,
        "X has 3 features, but .* expecting 4 .*warm_start=True continues training the fitted network",
    ),
    (
        "warm_start-new-class",
        lambda n: _refit(n, X, np.arange(30) % 4),
        ValueError,
        r"labels \[3\] that are not in classes_ \[0, 1, 2\].*set warm_start=False",
    ),
    # extra fit parameters and prediction
    ("fit-unknown-kwarg", lambda n: fit(n, fit_params={"foo": 1}), TypeError, "unexpected keyword argument.*'foo'"),
    ("predict-fewer-features", lambda n: fit(n).predict(X[:, :3]), ValueError, "X has 3 features, but"),
    ("predict-nan", lambda n: fit(n).predict(np.full((2, 4), np.nan)), ValueError, "Input X contains NaN"),
    ("predict-unfitted", lambda n: make(n).predict(X), Exception, "not initialized yet|not fitted"),
    (
        "partial_fit-max_epochs-0",
        lambda n: make(n, max_epochs=0).partial_fit(X, Y, trusted=TRUSTED),
        InvalidParameterError,
        _bad("max_epochs", _POSITIVE_INT, "0"),
    ),
    # divergence that never becomes NaN
    (
        "X-1e20-diverges",
        lambda n: fit(n, X=X * 1e20),
        FloatingPointError,
        "training diverged: the network's outputs \\(logits\\) reached",
    ),
    (
        "lr-1e8-diverges",
        lambda n: fit(n, lr=1e8, max_epochs=3),
        FloatingPointError,
        "training diverged|training loss became",
    ),
    (
        "lr-1e8-sgd-diverges",
        lambda n: fit(n, lr=1e8, max_epochs=3, optimizer=torch.optim.SGD),
        FloatingPointError,
        "training diverged|training loss became",
    ),
]


def _ids(cases):
    return [case.values[0][0] if hasattr(case, "values") else case[0] for case in cases]


@pytest.mark.parametrize("case", GENERIC, ids=_ids(GENERIC))
@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_refuse_bad_input_clearly(name, case):
    _, call, error, message = case
    with pytest.raises(error, match=message):
        call(name)


# ---------------------------------------------------------------- documented outcomes (no error)
def _score_with_unknown_labels(name):
    clf = fit(name)
    return clf.score(X, np.full(30, 7))  # labels the model never saw: simply wrong predictions


def _binary(name, y):
    T2 = {"transition_matrix": [[0.9, 0.1], [0.1, 0.9]]} if "transition_matrix" in METHOD_PARAMS[name] else {}
    return fit(name, y=y, **T2)


OUTCOMES = [
    ("X-3d-images", lambda n: fit(n, X=X.reshape(30, 2, 2)).predict(X.reshape(30, 2, 2)).shape == (30,)),
    ("y-strings", lambda n: set(fit(n, y=np.array(["a", "b", "c"])[Y]).classes_) == {"a", "b", "c"}),
    ("y-ints-as-objects", lambda n: fit(n, y=Y.astype(object)).classes_.tolist() == [0, 1, 2]),
    ("y-bools-as-objects", lambda n: _binary(n, (Y > 0).astype(object)).classes_.tolist() == [False, True]),
    ("sw-uniform-changes-nothing", lambda n: fit(n, fit_params={"sample_weight": np.full(30, 3.0)}) is not None),
    ("sw-scalar", lambda n: fit(n, fit_params={"sample_weight": 2.0}) is not None),
    ("score-unknown-labels-is-0", lambda n: _score_with_unknown_labels(n) == 0.0),
    ("batch_size--1-is-all-rows", lambda n: fit(n, batch_size=-1).history[-1, "train_batch_count"] == 1),
]


@pytest.mark.parametrize("case", OUTCOMES, ids=_ids(OUTCOMES))
@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimators_edge_inputs_have_a_reasonable_outcome(name, case):
    _, call = case
    assert call(name)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_huge_inputs_are_warned_about_before_training(name):
    with pytest.warns(UserWarning, match=r"X has values up to [\d.]+e\+20 in magnitude.*Standardize"):
        with pytest.raises(FloatingPointError, match="training diverged"):
            fit(name, X=X * 1e20)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_module_returning_probabilities_is_warned_about(name):
    with pytest.warns(UserWarning, match="outputs look like probabilities.*Remove the module's final softmax"):
        fit(name, module=_Probabilities)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_non_uniform_sample_weight_is_used_or_refused(name):
    weights = np.where(Y == 0, 3.0, 1.0)
    if name != "ce":
        _xfail_until_weighted(name)
    weighted = fit(name, fit_params={"sample_weight": weights})
    plain = fit(name)
    assert not np.allclose(weighted.predict_proba(X), plain.predict_proba(X))


def _xfail_until_weighted(name):
    owner = CLASSES[name].__module__
    try:
        fit(name, fit_params={"sample_weight": np.where(Y == 0, 3.0, 1.0)})
    except NotImplementedError as exc:
        assert "does not weight its loss by sample_weight yet" in str(exc)
        pytest.xfail(f"owner: {owner} — sample_weight not read by the loss yet (base contract: see base.py)")


# ---------------------------------------------------------------- trusted masks, per estimator
TRUSTED_CASES = {
    # name: (trusted mask, {estimator: (kind, type, regex)}); absent estimators train (the mask is unused)
    "no-trusted-row": (
        None,
        {
            "glc": ("raises", ValueError, "GLCClassifier needs trusted rows"),
            "mlc": ("raises", ValueError, "MetaLossCorrectionClassifier needs trusted rows"),
            "trusted_only": ("raises", ValueError, "TrustedOnlyClassifier needs trusted rows"),
            "teacher": ("raises", ValueError, "TrustedTeacherClassifier needs trusted rows"),
            "trusted_blend": ("raises", ValueError, "TrustedBlendClassifier needs trusted rows"),
        },
    ),
    "all-rows-trusted": (
        np.ones(30, bool),
        {
            "glc": ("warns", UserWarning, "every row is trusted"),
            "mlc": ("raises", ValueError, "every row is trusted"),
        },
    ),
    "trusted-rows-of-one-class": (
        Y == 0,
        {
            "glc": ("raises", ValueError, "trusted rows of at least 2 classes"),
            "mlc": ("raises", ValueError, "trusted rows of at least 2 classes"),
            "trusted_only": ("raises", ValueError, "trusted rows of at least 2 classes"),
            "teacher": ("raises", ValueError, "trusted rows of at least 2 classes"),
            "trusted_blend": ("raises", ValueError, "trusted rows of at least 2 classes"),
        },
    ),
    "no-trusted-row-of-class-2": (
        TRUSTED & (Y != 2),
        {
            "glc": ("warns", UserWarning, r"no trusted row of class\(es\) \[2\]"),
            "mlc": ("warns", UserWarning, r"class\(es\) \[2\] have no trusted row"),
            "trusted_only": ("warns", UserWarning, r"no trusted row of class\(es\) \[2\]; the network trains"),
            "teacher": ("warns", UserWarning, r"no trusted row of class\(es\) \[2\]; the teacher never"),
            "trusted_blend": ("warns", UserWarning, r"no trusted row of class\(es\) \[2\]; the trusted network"),
        },
    ),
    "trusted-as-0-1-ints": (TRUSTED.astype(int), {}),
}


@pytest.mark.parametrize("case", list(TRUSTED_CASES))
@pytest.mark.parametrize("name", ESTIMATORS)
def test_trusted_mask_edge_cases(name, case):
    mask, expected = TRUSTED_CASES[case]
    kind, error, message = expected.get(name, ("trains", None, None))
    if kind == "raises":
        with pytest.raises(error, match=message):
            fit(name, trusted=mask)
    elif kind == "warns":
        with pytest.warns(error, match=message):
            fit(name, trusted=mask)
    else:
        assert fit(name, trusted=mask).predict(X).shape == (30,)


# ---------------------------------------------------------------- transition matrices
_UNINFORMATIVE = np.full((3, 3), 1 / 3)
_TWO_ROWS_ALIKE = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])

T_CASES = [
    ("T-not-square", np.ones((3, 2)) / 2, ValueError, r"must be a square 2-D array, got shape \(3, 2\)"),
    ("T-wrong-size", np.eye(2), ValueError, r"has shape \(2, 2\) but there are 3 classes"),
    ("T-not-stochastic", np.ones((3, 3)), ValueError, "is not row-stochastic: row 0 sums to 3"),
    ("T-negative", np.array([[1.2, -0.2, 0], [0, 1, 0], [0, 0, 1]]), ValueError, "negative entries"),
    ("T-nan", np.full((3, 3), np.nan), ValueError, "contains NaN or infinity"),
    ("T-method-unknown", "bogus", InvalidParameterError, r"The 'transition_matrix' parameter of \w+ must be .*Got 'bogus'"),
    ("T-string-matrix", [["a"] * 3] * 3, ValueError, "must be a numeric array"),
]


@pytest.mark.parametrize("case", T_CASES, ids=_ids(T_CASES))
@pytest.mark.parametrize("name", WITH_T)
def test_bad_transition_matrix(name, case):
    _, T_bad, error, message = case
    with pytest.raises(error, match=message):
        fit(name, transition_matrix=T_bad)


@pytest.mark.parametrize("name", WITH_T)
def test_uninformative_transition_matrix_is_named(name):
    """Rows all alike: the noisy labels say nothing about the clean class (forward stays at chance)."""
    with pytest.warns(UninformativeTransitionWarning, match="has \\(nearly\\) identical rows.*carry no information"):
        if name == "backward":
            with pytest.raises(ValueError, match="singular"):
                fit(name, transition_matrix=_UNINFORMATIVE)
        else:
            fit(name, transition_matrix=_UNINFORMATIVE)


@pytest.mark.parametrize("name", WITH_T)
def test_transition_matrix_with_two_rows_alike_is_named(name):
    with pytest.warns(UninformativeTransitionWarning, match=r"identical rows for the class pair\(s\) \(0, 1\)"):
        if name == "backward":
            with pytest.raises(ValueError, match="singular"):
                fit(name, transition_matrix=_TWO_ROWS_ALIKE)
        else:
            fit(name, transition_matrix=_TWO_ROWS_ALIKE)


# ---------------------------------------------------------------- TransitionMatrixEstimator
def _tme(**params):
    kwargs = {"estimator": LogisticRegression(), "cv": 2, "random_state": 0, **params}
    return TransitionMatrixEstimator(**kwargs)


TME_CASES = [
    ("continuous-y", lambda: _tme().fit(X, np.linspace(0, 1, 30)), ValueError, "y looks continuous"),
    ("id-like-y", lambda: _tme().fit(X, np.arange(30)), ValueError, "every class has a single row"),
    (
        "unknown-method",
        lambda: _tme(method="bogus").fit(X, Y),
        InvalidParameterError,
        r"The 'method' parameter of TransitionMatrixEstimator must be a str among \{.*'anchor'.*\}\. Got 'bogus'",
    ),
    (
        "cv-1",
        lambda: _tme(cv=1).fit(X, Y),
        InvalidParameterError,
        r"The 'cv' parameter of TransitionMatrixEstimator must be an int in the range \[2, inf\) or an object "
        r"implementing 'split' and 'get_n_splits'\. Got 1 instead\.",
    ),
    (
        "quantile-1.5",
        lambda: _tme(quantile=1.5).fit(X, Y),
        InvalidParameterError,
        r"The 'quantile' parameter of TransitionMatrixEstimator must be a float in the range \(0\.0, 1\.0\] or None",
    ),
    ("gold-without-trusted", lambda: _tme(method="gold").fit(X, Y), ValueError, "method='gold' needs trusted rows"),
    ("X-nan", lambda: _tme().fit(np.where(X > 1, np.nan, X), Y), ValueError, "Input X contains NaN"),
    ("one-class", lambda: _tme().fit(X, np.zeros(30)), ValueError, "at least 2 classes"),
    (
        "no-predict_proba",
        lambda: TransitionMatrixEstimator(LinearSVC()).fit(X, Y),
        InvalidParameterError,
        r"The 'estimator' parameter of TransitionMatrixEstimator must be an object implementing 'fit' and "
        r"'predict_proba' or None\. Got LinearSVC\(\) instead\. .*wrapped in sklearn.calibration.CalibratedClassifierCV",
    ),
    (
        "estimator-class",
        lambda: TransitionMatrixEstimator(LogisticRegression).fit(X, Y),
        InvalidParameterError,
        r"The 'estimator' parameter of TransitionMatrixEstimator must be an instance\. .* Pass LogisticRegression\(\.\.\.\)",
    ),
    ("trusted-short", lambda: _tme(method="gold").fit(X, Y, trusted=TRUSTED[:4]), ValueError, "trusted has length 4"),
    ("y-None", lambda: _tme().fit(X, None), ValueError, "requires y to be passed"),
    ("y-mixed-types", lambda: _tme().fit(X, ["a", 1, 2] * 10), ValueError, "y mixes label types"),
    ("y-with-None", lambda: _tme().fit(X, [None, 1, 2] * 10), ValueError, "y contains None"),
    ("transform-unfitted", lambda: _tme().transform(X), Exception, "not fitted"),
    ("transform-fewer-features", lambda: _tme().fit(X, Y).transform(X[:, :2]), ValueError, "X has 2 features"),
]


@pytest.mark.parametrize("case", TME_CASES, ids=_ids(TME_CASES))
def test_transition_matrix_estimator_bad_input(case):
    _, call, error, message = case
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- noise functions
NOISE_CASES = [
    ("mtm-unknown-kind", lambda: make_transition_matrix("bogus", 3, 0.2), ValueError, "Unknown noise kind 'bogus'"),
    ("mtm-1-class", lambda: make_transition_matrix("symmetric", 1, 0.2), ValueError, "n_classes must be >= 2"),
    ("mtm-float-classes", lambda: make_transition_matrix("symmetric", 2.5, 0.2), TypeError, "n_classes must be an"),
    ("mtm-rate-negative", lambda: make_transition_matrix("symmetric", 3, -0.1), ValueError, r"rate must be in \["),
    ("mtm-rate-2", lambda: make_transition_matrix("symmetric", 3, 2), ValueError, r"rate must be in \[0, 1\]"),
    ("mtm-rate-nan", lambda: make_transition_matrix("symmetric", 3, float("nan")), ValueError, "rate must be in"),
    ("mtm-rate-string", lambda: make_transition_matrix("symmetric", 3, "0.2"), TypeError, "rate must be a real"),
    (
        "mtm-preset-wrong-size",
        lambda: make_transition_matrix("asymmetric", 3, 0.2, preset="mnist"),
        ValueError,
        "preset 'mnist' is defined for n_classes=10",
    ),
    ("mtm-unknown-preset", lambda: make_transition_matrix("asymmetric", 10, 0.2, preset="x"), ValueError, "preset"),
    ("mtm-asymmetric-alone", lambda: make_transition_matrix("asymmetric", 10, 0.2), ValueError, "needs a mapping"),
    ("mtm-unknown-order", lambda: make_transition_matrix("structured", 3, 0.2, order="x"), ValueError, "order"),
    ("cl-None-label", lambda: corrupt_labels([0, 1, None], np.eye(2)), ValueError, "contains NaN or None"),
    ("cl-T-too-small", lambda: corrupt_labels(Y, np.eye(2)), ValueError, "T has shape \\(2, 2\\) but y has 3"),
    ("cl-T-not-stochastic", lambda: corrupt_labels(Y, np.ones((3, 3))), ValueError, "not row-stochastic"),
    ("cl-T-negative", lambda: corrupt_labels(Y, [[1.2, -0.2, 0], [0, 1, 0], [0, 0, 1]]), ValueError, "negative"),
    ("cl-y-2d", lambda: corrupt_labels(np.c_[Y, Y], T), ValueError, "1-D array of labels"),
    ("cl-duplicate-classes", lambda: corrupt_labels(Y, T, classes=[0, 0, 1]), ValueError, "duplicate"),
    ("cl-label-not-in-classes", lambda: corrupt_labels(Y, T, classes=[0, 1, 5]), ValueError, "not in classes"),
    ("cl-mixed-types", lambda: corrupt_labels(np.array(["a", 1, 2] * 10, dtype=object), T), ValueError, "mixed"),
    ("anc-alpha-negative", lambda: add_noisy_copies(X, Y, -1), ValueError, "alpha must be a finite number >= 0"),
    ("anc-alpha-nan", lambda: add_noisy_copies(X, Y, float("nan")), ValueError, "alpha must be a finite number"),
    ("anc-unknown-source", lambda: add_noisy_copies(X, Y, 1, source="x"), ValueError, "Unknown source"),
    ("anc-y-short", lambda: add_noisy_copies(X, Y[:5], 1), ValueError, "X has 30 samples but y has 5"),
    ("anc-T-size", lambda: add_noisy_copies(X, Y, 1, transition_matrix=np.eye(2)), ValueError, "expected shape"),
    ("mnc-0-samples", lambda: make_noisy_classification(0), ValueError, "n_samples"),
    ("mnc-1-class", lambda: make_noisy_classification(30, n_classes=1), ValueError, "n_classes must be >= 2"),
    ("mnc-rate-2", lambda: make_noisy_classification(30, rate=2), ValueError, r"rate must be in \[0, 1\]"),
    ("mnc-unknown-noise", lambda: make_noisy_classification(30, noise="x"), ValueError, "Unknown noise kind"),
]


@pytest.mark.parametrize("case", NOISE_CASES, ids=_ids(NOISE_CASES))
def test_noise_functions_bad_input(case):
    _, call, error, message = case
    with pytest.raises(error, match=message):
        call()


def test_corrupting_no_label_gives_no_label():
    assert corrupt_labels(np.array([], dtype=int), T).shape == (0,)


# ---------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "data.csv"
    rows = ["a,b,label,cont,txt,one"]
    rows += [f"{X[i, 0]},{X[i, 1]},{Y[i]},{X[i, 2]},{'xy'[i % 2]},1" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _corrupt(csv, noise=("--noise", "symmetric"), rate="0.2", output=None):
    output = output or os.path.join(os.path.dirname(csv), "out.csv")
    return ["corrupt", csv, "--target", "label", *noise, "--rate", rate, "-o", output]


CLI_CASES = [
    ("no-command", lambda csv: [], "choose a command"),
    ("unknown-command", lambda csv: ["bogus"], "invalid choice: 'bogus'"),
    ("epochs-0", lambda csv: ["compare", "--epochs", "0"], "argument --epochs: must be an integer >= 1"),
    ("rate-2", lambda csv: ["compare", "--rate", "2"], r"argument --rate: must be a number in \[0, 1\]"),
    ("lr-negative", lambda csv: ["compare", "--lr", "-1"], "argument --lr: must be a positive number"),
    ("batch-size-0", lambda csv: ["compare", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1"),
    ("test-size-1.5", lambda csv: ["compare", "--test-size", "1.5"], "strictly between 0 and 1"),
    ("device-bogus", lambda csv: ["compare", "--device", "bogus"], "bogus.* is not a PyTorch device"),
    pytest.param(
        ("device-cuda-without-gpu", lambda csv: ["compare", "--device", "cuda"], "PyTorch sees no CUDA GPU"),
        id="device-cuda-without-gpu",
        marks=_NO_CUDA,
    ),
    ("methods-unknown", lambda csv: ["compare", "--methods", "bogus"], "unknown method"),
    ("methods-empty", lambda csv: ["compare", "--methods", ""], "--methods is empty"),
    ("noise-unknown", lambda csv: ["compare", "--noise", "bogus"], "unknown noise kind 'bogus'"),
    ("dataset-unknown", lambda csv: ["compare", "--dataset", "nope"], "unknown data set 'nope'"),
    ("dataset-without-target", lambda csv: ["compare", "--dataset", csv], "name the label column with --target"),
    ("hidden-0", lambda csv: ["compare", "--hidden", "0"], "argument --hidden: must be an integer >= 1"),
    ("module-unknown", lambda csv: ["compare", "--module", "bogus"], "argument --module: invalid choice"),
    ("asymmetric-without-preset", lambda csv: ["compare", "--noise", "asymmetric"], "needs --preset"),
    ("threads-0", lambda csv: ["compare", "--threads", "0"], "argument --threads: must be an integer >= 1"),
    ("seed-negative", lambda csv: ["compare", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    ("estimate-missing-file", lambda csv: ["estimate", csv + ".missing", "--target", "label"], "no such file"),
    ("estimate-unknown-column", lambda csv: ["estimate", csv, "--target", "nope"], "has no column 'nope'"),
    (
        "estimate-continuous-target",
        lambda csv: ["estimate", csv, "--target", "cont", "--drop", "txt"],
        "distinct values|looks continuous",
    ),
    ("estimate-text-feature", lambda csv: ["estimate", csv, "--target", "label"], "'txt'.* not numeric"),
    ("estimate-one-class", lambda csv: ["estimate", csv, "--target", "one", "--drop", "txt"], "single class"),
    (
        "estimate-gold-without-trusted",
        lambda csv: ["estimate", csv, "--target", "label", "--drop", "txt", "--method", "gold"],
        "--method gold needs trusted rows",
    ),
    ("estimate-unknown-method", lambda csv: ["estimate", csv, "--target", "label", "--method", "x"], "--method"),
    ("estimate-cv-1", lambda csv: ["estimate", csv, "--target", "label", "--cv", "1"], "argument --cv"),
    (
        "estimate-unknown-trusted-column",
        lambda csv: ["estimate", csv, "--target", "label", "--drop", "txt", "--trusted-column", "nope"],
        "no trusted column 'nope'",
    ),
    ("corrupt-overwrite-input", lambda csv: _corrupt(csv, output=csv), "refusing to overwrite the input file"),
    ("corrupt-output-is-folder", lambda csv: _corrupt(csv, output=os.path.dirname(csv)), "is a directory"),
    ("corrupt-missing-output", lambda csv: _corrupt(csv)[:-2], "required: -o/--output"),
    ("corrupt-rate-5", lambda csv: _corrupt(csv, rate="5"), r"argument --rate: must be a number in \[0, 1\]"),
    ("corrupt-unknown-noise", lambda csv: _corrupt(csv, noise=("--noise", "bogus")), "unknown noise kind"),
    ("corrupt-unknown-target", lambda csv: _corrupt(csv)[:3] + ["nope"] + _corrupt(csv)[4:], "no column 'nope'"),
    (
        "corrupt-missing-folder",
        lambda csv: _corrupt(csv, output=os.path.join(os.path.dirname(csv), "no", "o.csv")),
        "does not exist",
    ),
    (
        "corrupt-preset-wrong-size",
        lambda csv: _corrupt(csv, noise=("--noise", "asymmetric", "--preset", "mnist")),
        "defined for n_classes=10",
    ),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=_ids(CLI_CASES))
def test_command_line_bad_input(case, csv_file, capsys):
    _, argv, message = case
    assert main(argv(csv_file)) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # progress lines may come first
    assert last.startswith("sknoisy: error: ") and "Traceback" not in err, err
    assert re.search(message, last), err
