"""Declared parameter validation: every estimator's parameters checked one way.

Each public estimator declares ``_parameter_constraints`` in scikit-learn's
constraint language (:mod:`sklearn.utils._param_validation`), a subclass
extending its parent's dict. :func:`validate_params` checks them at the top
of ``fit`` and ``partial_fit`` and raises scikit-learn's
``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) with
scikit-learn's message, followed by the estimator's hint for that parameter
(``_parameter_hints``) where one tells the user what to do. Names missing
from the dict (skorch's ``module__*``, ``optimizer__*``...) are not checked
here, as in scikit-learn. Hand-written checks remain only for rules that
involve several parameters, or the data.
"""

import numpy as np
from sklearn import get_config
from sklearn.utils._param_validation import HasMethods
from sklearn.utils._param_validation import Interval as _SklearnInterval
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
from sklearn.utils._param_validation import StrOptions as _SklearnStrOptions

__all__ = ["Interval", "InvalidParameterError", "StrOptions", "invalid_parameter", "validate_params"]


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval``, which refuses booleans.

    ``True`` is an ``Integral`` to Python, but ``max_epochs=True`` or
    ``lr=True`` is a mistake rather than a request for 1.

    Examples
    --------
    >>> from numbers import Integral
    >>> from sknoisy.utils._param_validation import Interval
    >>> at_least_one = Interval(Integral, 1, None, closed="left")
    >>> at_least_one.is_satisfied_by(3), at_least_one.is_satisfied_by(True)
    (True, False)
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class StrOptions(_SklearnStrOptions):
    """scikit-learn's ``StrOptions``, whose message lists the options sorted.

    scikit-learn prints the set in its iteration order, which changes from
    one Python process to the next.

    Examples
    --------
    >>> from sknoisy.utils._param_validation import StrOptions
    >>> str(StrOptions({"row", "column", "simplex"}))
    "a str among {'column', 'row', 'simplex'}"
    """

    def __str__(self):
        return f"a str among {{{', '.join(self._mark_if_deprecated(option) for option in sorted(self.options))}}}"


def validate_params(estimator, params=None, constraints=None):
    """Check ``params`` against ``constraints``; scikit-learn's error, plus the estimator's hint.

    Parameters
    ----------
    estimator : estimator
        Names the error (its class name) and gives the defaults below.
    params : dict, default=None
        The values to check; None takes ``estimator.get_params(deep=False)``.
        A name without a constraint is not checked.
    constraints : dict, default=None
        ``{name: [constraint, ...] or 'no_validation'}``; None takes
        ``estimator._parameter_constraints``.

    Raises
    ------
    InvalidParameterError
        For the first parameter that meets none of its constraints:
        scikit-learn's message, then ``estimator._parameter_hints[name]``
        when there is one; also for a class given where an object with
        methods is expected (``LogisticRegression`` for
        ``LogisticRegression()``). Nothing is checked inside
        ``sklearn.config_context(skip_parameter_validation=True)``.

    Examples
    --------
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> from sknoisy.utils._param_validation import validate_params
    >>> validate_params(CrossEntropyClassifier(MLP, lr=-1.0))
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'lr' parameter of CrossEntropyClassifier must be a float in the range (0.0, inf). Got -1.0 instead.
    """
    if get_config()["skip_parameter_validation"]:
        return
    params = estimator.get_params(deep=False) if params is None else params
    constraints = estimator._parameter_constraints if constraints is None else constraints
    hints = getattr(estimator, "_parameter_hints", {})
    caller = type(estimator).__name__
    for name, value in params.items():
        if name not in constraints:
            continue
        if _class_for_instance(value, constraints[name]):
            # a class has the methods too, as functions waiting for an instance
            hint = f"Pass {value.__name__}(...), not the class."
            raise invalid_parameter(estimator, name, "an instance", value, hint)
        try:
            validate_parameter_constraints({name: constraints[name]}, {name: value}, caller_name=caller)
        except InvalidParameterError as exc:
            if name not in hints:
                raise
            raise InvalidParameterError(f"{exc} {hints[name]}") from None


def _class_for_instance(value, constraints):
    """Whether ``value`` is a class where the constraints want an object with methods (and no callable)."""
    if not isinstance(value, type) or constraints == "no_validation":
        return False
    return any(isinstance(c, HasMethods) for c in constraints) and callable not in constraints


def invalid_parameter(estimator, name, must_be, value, hint=""):
    """The ``InvalidParameterError`` of a rule the constraints cannot say, worded as scikit-learn's.

    Parameters
    ----------
    estimator : estimator
        Named in the message.
    name : str
        The parameter.
    must_be : str
        What it must be ("an estimator instance").
    value : object
        The value given.
    hint : str, default=""
        What to do instead.

    Returns
    -------
    error : InvalidParameterError

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sknoisy import TransitionMatrixEstimator
    >>> from sknoisy.utils._param_validation import invalid_parameter
    >>> print(invalid_parameter(TransitionMatrixEstimator(), "estimator", "an instance",
    ...                         LogisticRegression, "Pass LogisticRegression()."))
    The 'estimator' parameter of TransitionMatrixEstimator must be an instance. Got <class 'sklearn.linear_model._logistic.LogisticRegression'> instead. Pass LogisticRegression().
    """
    message = f"The {name!r} parameter of {type(estimator).__name__} must be {must_be}. Got {value!r} instead."
    return InvalidParameterError(f"{message} {hint}".rstrip())
