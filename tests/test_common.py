"""scikit-learn's estimator checks, and sknoisy's own, over every public sknoisy estimator."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from sknoisy import TransitionMatrixEstimator
from sknoisy.utils._testing import (
    NEEDS_TRUSTED,
    all_estimators,
    fast_params,
    make_fast_estimator,
    with_default_trusted,
)
from sknoisy.utils.estimator_checks import parametrize_with_sknoisy_checks

# Estimators that need trusted rows refuse fit(X, y) without a mask, with a
# clear ValueError (tested below). scikit-learn's checks cannot pass fit
# metadata, so those estimators go through the test-only subclass
# with_default_trusted: every contract the checks verify is then exercised on
# the real training code instead of being skipped.
SKLEARN_CHECKED = [
    make_fast_estimator(with_default_trusted(cls) if name in NEEDS_TRUSTED else cls) for name, cls in all_estimators()
]
# sknoisy's own checks pass the trusted mask: the real classes.
SKNOISY_CHECKED = [make_fast_estimator(cls) for _, cls in all_estimators()]

# Every expected failure, with the reason. Keep this list short and honest.
_NET_EXPECTED_FAILURES = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (skorch's design)"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "weighting a row by 2 and repeating it give the same model only up to float32 rounding of the batch "
        "sums (relative differences of about 3e-6 in predict_proba, above the check's 1e-7 tolerance)"
    ),
}


def _expected_failed_checks(estimator):
    if hasattr(estimator, "module"):
        return dict(_NET_EXPECTED_FAILURES)
    return {}


def test_all_estimators_listed():
    names = {name for name, _ in all_estimators()}
    expected = {
        "CrossEntropyClassifier",
        "ForwardCorrectedClassifier",
        "BackwardCorrectedClassifier",
        "GLCClassifier",
        "MetaLossCorrectionClassifier",
        "RobustLossClassifier",
        "TransitionMatrixEstimator",
    }
    assert expected <= names
    assert NEEDS_TRUSTED <= names


@pytest.mark.parametrize("name", sorted(NEEDS_TRUSTED))
def test_trusted_estimators_refuse_fit_without_trusted_rows(name):
    cls = dict(all_estimators())[name]
    X = np.random.RandomState(0).randn(30, 3)
    y = np.arange(30) % 2
    with pytest.raises(ValueError, match=r"needs trusted (\(clean\) )?rows"):
        make_fast_estimator(cls).fit(X, y)


@pytest.mark.parametrize("name", sorted(NEEDS_TRUSTED))
def test_default_trusted_subclass_trusts_every_third_row_unless_told(name):
    cls = with_default_trusted(dict(all_estimators())[name])
    assert with_default_trusted(dict(all_estimators())[name]) is cls  # one class per estimator
    assert pickle.loads(pickle.dumps(cls)) is cls
    seen = []

    class Spy(cls):
        def _validate_fit_data(self, X, y, trusted, **kwargs):
            seen.append(None if trusted is None else np.asarray(trusted).copy())
            raise RuntimeError("stop: only the mask is looked at")

    y = np.array([0, 1] * 6)
    with pytest.raises(RuntimeError, match="stop"):
        make_fast_estimator(Spy).fit(np.zeros((12, 2)), y)
    np.testing.assert_array_equal(seen[-1], np.isin(np.arange(12), [0, 1, 6, 7]))
    given = np.arange(12) == 5
    with pytest.raises(RuntimeError, match="stop"):
        make_fast_estimator(Spy).fit(np.zeros((12, 2)), y, trusted=given)
    np.testing.assert_array_equal(seen[-1], given)


@parametrize_with_checks(SKLEARN_CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_sknoisy_checks(SKNOISY_CHECKED)
def test_sknoisy_contracts(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- declared parameters
def _declared(name, cls):
    """A fast instance given only declared parameters: check_param_validation wants get_params to hold those.

    (skorch's prefixed parameters such as module__hidden_units, and AutoNoisyClassifier's shared network
    parameters, are not constructor parameters; they are tested below.)
    """
    checked = with_default_trusted(cls) if name in NEEDS_TRUSTED else cls
    return checked(**{key: value for key, value in fast_params(checked).items() if key in cls._parameter_constraints})


@pytest.mark.parametrize("name, cls", all_estimators(), ids=[name for name, _ in all_estimators()])
def test_sklearn_check_param_validation(name, cls):
    # not among parametrize_with_checks' checks: scikit-learn runs it on its own estimators only
    estimator = _declared(name, cls)
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("name, cls", all_estimators(), ids=[name for name, _ in all_estimators()])
def test_every_parameter_is_declared_and_subclasses_extend_their_parent(name, cls):
    estimator = _declared(name, cls)
    assert set(cls._parameter_constraints) == set(estimator.get_params(deep=False))
    assert "_parameter_constraints" in vars(cls)
    for parent in cls.__mro__[1:]:
        if "_parameter_constraints" in vars(parent):
            assert set(vars(parent)["_parameter_constraints"]) <= set(cls._parameter_constraints), parent


#: For each estimator, a bad value of each parameter it adds to its parent's.
_BAD_OWN_VALUES = {
    "CrossEntropyClassifier": {
        "module": "MLP",
        "criterion": "cross-entropy",
        "optimizer": "adam",
        "lr": "fast",
        "max_epochs": 2.5,
        "batch_size": -2,
        "iterator_train": 1,
        "iterator_valid": 1,
        "dataset": 1,
        "train_split": 0.2,
        "predict_nonlinearity": "softmax",
        "warm_start": "yes",
        "verbose": -1,
        "device": 0.5,
        "compile": "yes",
        "use_caching": "always",
        "torch_load_kwargs": "weights_only",
        "classes": 3,
        "random_state": "seed",
    },
    "ForwardCorrectedClassifier": {
        "transition_matrix": "bogus",
        "volmin_lambda": -1.0,
        "volmin_lr": "x",
        "warm_up_epochs": -1,
    },
    "BackwardCorrectedClassifier": {"transition_matrix": "volmin", "warm_up_epochs": 1.5},
    "GLCClassifier": {"transition_matrix": "volmin", "warm_up_epochs": "2"},
    "MetaLossCorrectionClassifier": {
        "transition_matrix": "volmin",
        "virtual_lr": 0,
        "meta_lr": "x",
        "meta_step_every": 0,
        "meta_max_step": -1.0,
        "meta_batch_size": 0,
        "normalization": "l2",
        "look_ahead": "adam",
        "reset_each_step": "no",
        "train_on_trusted": 1,
        "warm_up_epochs": -1,
        "true_transition_matrix": "identity",
    },
    "RobustLossClassifier": {
        "loss": "mse",
        "alpha": -1.0,
        "beta": "x",
        "q": 1.5,
        "gamma": -1.0,
        "clip_grad_norm": 0.0,
        "criterion": torch.nn.CrossEntropyLoss,
    },
    "EarlyLearningClassifier": {"regularization": -1.0, "beta": 1.0},
    "CoTeachingClassifier": {"forget_rate": 1.0, "ramp_epochs": 0},
    "DivideMixClassifier": {
        "warmup_epochs": -1, "clean_threshold": 1.0, "temperature": 0.0, "mixup_alpha": -1.0,
        "unlabeled_weight": "x", "prior_weight": -1.0,
    },
    "InstanceForwardClassifier": {
        "flip_rate": 1.0, "flip_lr": 0.0, "instance_lr": -1.0, "ce_weight": -1.0, "warm_up_epochs": -1,
        "average_from": 1.5,
    },
    "TrustedOnlyClassifier": {"match_steps": "yes"},
    "TrustedTeacherClassifier": {"mode": "vote", "label_weight": 1.5, "confidence": 1.0, "teacher_early_stopping": 1},
    "TrustedBlendClassifier": {"trusted_weight": 1.5, "regularization": -1.0},
    "TransitionMatrixEstimator": {
        "estimator": LogisticRegression,
        "method": "bogus",
        "quantile": 0.0,
        "calibration": "platt",
        "cv": 1,
        "refit": "yes",
        "random_state": "seed",
        "n_jobs": 1.5,
    },
    "AutoNoisyClassifier": {
        "module": "MLP",
        "methods": "bogus",
        "transition_matrix": TransitionMatrixEstimator,
        "cv": KFold,
        "selection": "kfold",
        "scoring": {"accuracy": "accuracy"},
        "n_jobs": "all",
        "random_state": "seed",
        "error_score": "warn",
        "verbose": -1,
    },
}
_BAD_CASES = [(name, param, value) for name, values in _BAD_OWN_VALUES.items() for param, value in values.items()]


def _own_parameters(cls):
    """The validated parameters ``cls`` declares beyond those of the nearest parent that declares any."""
    declared = vars(cls).get("_parameter_constraints", {})
    parents = (vars(p)["_parameter_constraints"] for p in cls.__mro__[1:] if "_parameter_constraints" in vars(p))
    validated = {name for name, constraints in declared.items() if constraints != "no_validation"}
    return validated - set(next(parents, {}))


@pytest.mark.parametrize("name", sorted(name for name, _ in all_estimators()))
def test_bad_values_cover_every_own_parameter(name):
    # every public estimator, so a new one cannot be forgotten
    assert _own_parameters(dict(all_estimators())[name]) <= set(_BAD_OWN_VALUES.get(name, {}))


@pytest.mark.parametrize("name, param, value", _BAD_CASES, ids=[f"{n}-{p}" for n, p, _ in _BAD_CASES])
def test_bad_parameter_raises_invalid_parameter_error_at_fit_and_partial_fit(name, param, value):
    cls = dict(all_estimators())[name]
    estimator = make_fast_estimator(cls).set_params(**{param: value})
    X = np.random.RandomState(0).randn(30, 3).astype(np.float32)
    y = np.arange(30) % 3
    trusted = np.arange(30) % 2 == 0
    message = rf"The '{param}' parameter of {name} must be .* Got .* instead\."
    methods = [method for method in ("fit", "partial_fit") if hasattr(estimator, method)]
    for method in methods:
        with pytest.raises(InvalidParameterError, match=message):
            getattr(clone(estimator), method)(X, y, trusted=trusted)


def test_prefixed_and_shared_network_parameters_are_not_constructor_parameters():
    from sknoisy import AutoNoisyClassifier, CrossEntropyClassifier
    from sknoisy.modules import MLP

    X = np.random.RandomState(0).randn(30, 3).astype(np.float32)
    y = np.arange(30) % 3
    # skorch's prefixed parameters pass through validation untouched...
    net = make_fast_estimator(
        CrossEntropyClassifier, max_epochs=1, optimizer__weight_decay=1e-4, callbacks__print_log=None
    )
    assert clone(net).fit(X, y).predict(X).shape == (30,)
    # ...except the ones that would fail deep in torch, checked as the parameters they configure are
    with pytest.raises(InvalidParameterError, match="The 'optimizer__lr' parameter of CrossEntropyClassifier"):
        clone(net).set_params(optimizer__lr=-1.0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="The 'iterator_valid__batch_size' parameter of"):
        clone(net).set_params(iterator_valid__batch_size=0).fit(X, y)
    # AutoNoisyClassifier checks the network parameters every method shares as the classifiers would
    auto = AutoNoisyClassifier(MLP, methods=["ce"], cv=2, max_epochs=0)
    with pytest.raises(InvalidParameterError, match="The 'max_epochs' parameter of AutoNoisyClassifier"):
        auto.fit(X, y)


def test_parameter_validation_follows_scikit_learns_skip_switch():
    import sklearn

    from sknoisy.utils._param_validation import validate_params

    estimator = make_fast_estimator(dict(all_estimators())["CrossEntropyClassifier"], lr="fast")
    with pytest.raises(InvalidParameterError, match="The 'lr' parameter"):
        validate_params(estimator)
    with sklearn.config_context(skip_parameter_validation=True):
        validate_params(estimator)
