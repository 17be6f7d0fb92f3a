"""Testing utilities: the list of public estimators and fast settings for them.

The test suite (and anyone writing a plug-in) uses :func:`all_estimators`
and :func:`make_fast_estimator` so that every estimator is checked the same
way with tiny modules and few epochs, and :func:`with_default_trusted` to run
scikit-learn's checks on an estimator that needs trusted rows.
"""

import inspect

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "CHECKS_THAT_FIT_WITHOUT_TRUSTED",
    "NEEDS_TRUSTED",
    "all_estimators",
    "classifier_specs",
    "FAST_NET_PARAMS",
    "boundary_noise_data",
    "fast_params",
    "make_fast_estimator",
    "with_default_trusted",
]

def _needs_trusted():
    """Names of the public estimators whose fit refuses to run without trusted rows (from the registry)."""
    from .._classifier_registry import CLASSIFIER_METHODS

    return frozenset(m.estimator.__name__ for m in CLASSIFIER_METHODS.values() if m.needs_trusted)


def classifier_specs(transition_matrix=None):
    """``[(name, class, kwargs), ...]`` of every method of the classifier registry, as tests build them.

    ``kwargs`` holds the method's fixed parameters and, for a method that
    takes a ``transition_matrix``, the given one (when not None), so that a
    test needs no stage-1 network.
    """
    from .._classifier_registry import CLASSIFIER_METHODS

    specs = []
    for m in CLASSIFIER_METHODS.values():
        kwargs = dict(m.params)
        if m.takes_transition_matrix and transition_matrix is not None:
            kwargs["transition_matrix"] = transition_matrix
        specs.append((m.name, m.estimator, kwargs))
    return specs

#: scikit-learn estimator checks that fit without a trusted mask, so an
#: estimator that needs trusted rows (GLC, MLC) fails them with its clear error.
CHECKS_THAT_FIT_WITHOUT_TRUSTED = frozenset(
    {
        "check_classifier_data_not_an_array",
        "check_classifiers_classes",
        "check_classifiers_one_label_sample_weights",
        "check_classifiers_train",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_partial_fit_n_features",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_supervised_y_2d",
    }
)

#: skorch settings small enough for the test suite on two CPU cores.
FAST_NET_PARAMS = {
    "module__hidden_units": (16,),
    "max_epochs": 20,
    "lr": 0.05,
    "batch_size": 64,
    "random_state": 0,
}


def boundary_noise_data():
    """Input-dependent noise for the trusted-rows methods' tests: ``(X, y, y_clean, trusted)``.

    600 rows, 8 features, 3 classes. The rows furthest along the first
    feature (the top 35%) carry the next class's label, so who is wrong
    depends on x; 20 rows per class are trusted and keep their clean label.
    """
    from sknoisy.noise import make_noisy_classification

    X, _, y_clean, _ = make_noisy_classification(
        600, n_features=8, n_classes=3, rate=0.0, random_state=0, class_sep=2.0, n_informative=6
    )
    X = X.astype(np.float32)
    flip = X[:, 0] > np.quantile(X[:, 0], 0.65)
    y_noisy = np.where(flip, (y_clean + 1) % 3, y_clean)
    trusted = np.zeros(600, dtype=bool)
    for c in range(3):
        trusted[np.flatnonzero(y_clean == c)[:20]] = True
    return X, np.where(trusted, y_clean, y_noisy), y_clean, trusted


def all_estimators():
    """Return ``[(name, class), ...]`` for every public sknoisy estimator, sorted by name."""
    import sknoisy

    found = []
    for name in sknoisy.__all__:
        obj = getattr(sknoisy, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not name.startswith("_"):
            found.append((name, obj))
    return sorted(found)


def fast_params(cls):
    """Constructor keyword arguments that make ``cls`` fit in well under a second."""
    from sklearn.linear_model import LogisticRegression

    from sknoisy.modules import MLP
    from sknoisy.transition import TransitionMatrixEstimator

    params = inspect.signature(cls).parameters
    if "module" not in params:
        if "cv" in params:
            return {"estimator": LogisticRegression(), "cv": 2, "random_state": 0}
        return {}
    kwargs = {"module": MLP, **FAST_NET_PARAMS}
    if "transition_matrix" in params and cls.__name__ in ("ForwardCorrectedClassifier", "BackwardCorrectedClassifier"):
        # A linear stage 1 keeps the estimator checks fast; the network stage 1
        # (Patrini's recipe) is covered by the classifier tests.
        kwargs["transition_matrix"] = TransitionMatrixEstimator(LogisticRegression(), method="anchor", cv=2)
    return kwargs


def make_fast_estimator(cls, **overrides):
    """An instance of ``cls`` with :func:`fast_params`, updated by ``overrides``."""
    kwargs = {**fast_params(cls), **overrides}
    if "module" in kwargs:
        module = kwargs.pop("module")
        return cls(module, **kwargs)
    return cls(**kwargs)


# --------------------------------------------------------------------------
# estimators that need trusted rows, under scikit-learn's checks
# --------------------------------------------------------------------------
_SUFFIX = "WithDefaultTrusted"
_DEFAULT_TRUSTED = {}


def _every_third_row_of_each_class(y, trusted):
    if trusted is not None or y is None:
        return trusted
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()  # the estimator warns about the column vector itself
    if y.ndim != 1:
        return None  # let the estimator's own validation reject it
    trusted = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        trusted[np.flatnonzero(y == label)[::3]] = True
    return trusted


def with_default_trusted(cls):
    """Test-only subclass of ``cls`` that trusts every third row of each class when no mask is given.

    scikit-learn's checks call ``fit(X, y)`` without metadata, which an
    estimator that needs trusted rows refuses (as it should). Through this
    subclass every contract those checks verify (validation, pickling,
    idempotence, ``n_features_in_``...) runs on the real training code
    instead of being skipped. A mask passed explicitly is used as given. The
    subclass is named ``<cls name>WithDefaultTrusted`` and can be pickled.

    Examples
    --------
    >>> from sknoisy import GLCClassifier
    >>> from sknoisy.utils._testing import with_default_trusted
    >>> with_default_trusted(GLCClassifier).__name__
    'GLCClassifierWithDefaultTrusted'
    """
    if cls not in _DEFAULT_TRUSTED:

        class WithDefaultTrusted(cls):
            def fit(self, X, y, trusted=None, **fit_params):
                return super().fit(X, y, trusted=_every_third_row_of_each_class(y, trusted), **fit_params)

            def partial_fit(self, X, y=None, classes=None, trusted=None, **fit_params):
                trusted = _every_third_row_of_each_class(y, trusted)
                return super().partial_fit(X, y, classes=classes, trusted=trusted, **fit_params)

        WithDefaultTrusted.__name__ = WithDefaultTrusted.__qualname__ = cls.__name__ + _SUFFIX
        WithDefaultTrusted.__module__ = __name__
        _DEFAULT_TRUSTED[cls] = WithDefaultTrusted
    return _DEFAULT_TRUSTED[cls]


def __getattr__(name):
    if name == "NEEDS_TRUSTED":  # read from the registry on first use (the registry imports the classifiers)
        return _needs_trusted()
    # pickle finds a subclass by module and name, also in a fresh process
    if name.endswith(_SUFFIX):
        import sknoisy

        base = getattr(sknoisy, name[: -len(_SUFFIX)], None)
        if inspect.isclass(base):
            return with_default_trusted(base)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
