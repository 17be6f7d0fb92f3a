"""Testing utilities: the list of public estimators and fast settings for them.

The test suite (and anyone writing a plug-in) uses :func:`all_estimators`
and :func:`make_fast_estimator` so that every estimator is checked the same
way with tiny modules and few epochs.
"""

import inspect

from sklearn.base import BaseEstimator

__all__ = ["all_estimators", "FAST_NET_PARAMS", "fast_params", "make_fast_estimator"]

#: skorch settings small enough for the test suite on two CPU cores.
FAST_NET_PARAMS = {
    "module__hidden_units": (16,),
    "max_epochs": 20,
    "lr": 0.05,
    "batch_size": 64,
    "random_state": 0,
}


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
            from sklearn.linear_model import LogisticRegression

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
