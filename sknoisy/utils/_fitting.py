"""Which public estimator's ``fit`` is running: errors raised by its inner networks name it.

Many estimators train inner networks (a stage 1 that estimates T, a teacher,
the candidates of ``AutoNoisyClassifier``), themselves sknoisy classifiers.
An error that one of them raises about the module would otherwise name a
class the user never called.
"""

import contextvars
import functools

__all__ = ["outermost_fit", "estimator_name"]

_FITTING = contextvars.ContextVar("sknoisy_fitting", default=None)


def outermost_fit(method):
    """Decorate a ``fit``: while it runs, the outermost estimator being fitted is known."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if _FITTING.get() is not None:
            return method(self, *args, **kwargs)
        token = _FITTING.set(type(self).__name__)
        try:
            return method(self, *args, **kwargs)
        finally:
            _FITTING.reset(token)

    return wrapper


def estimator_name(estimator):
    """``estimator``'s class name, and the estimator being fitted when it is an inner network of another.

    Examples
    --------
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> estimator_name(CrossEntropyClassifier(MLP))
    'CrossEntropyClassifier'
    """
    own = type(estimator).__name__
    outer = _FITTING.get()
    return own if outer in (None, own) else f"{outer} (its inner {own})"
