"""Scorers that never score a model on labels it cannot trust.

* :func:`trusted_scorer` scores only the trusted rows of the set it is given;
* for data with no trusted rows, :func:`noisy_accuracy_scorer` (the
  accuracy on held-out noisy labels), :func:`forward_corrected_log_loss_scorer`
  (the noisy labels under the model's clean probabilities pushed through
  ``T``) and :func:`noise_corrected_accuracy_scorer` (an estimate of the
  clean accuracy through ``T``).

All call the estimator's ``predict`` / ``predict_proba`` only, so they
score any scikit-learn classifier, not only sknoisy's.
"""

import numbers

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss
from sklearn.utils.metadata_routing import MetadataRequest

from ..utils._rows import n_rows, take_rows
from ..utils._validation import check_transition_matrix, check_trusted_mask
from ._split import ROUTING_HINT

__all__ = [
    "trusted_scorer",
    "forward_corrected_log_loss_scorer",
    "noisy_accuracy_scorer",
    "noise_corrected_accuracy_scorer",
]

_METRICS = ("accuracy", "balanced_accuracy", "neg_log_loss", "f1_macro")


def _final_estimator(estimator):
    """The last step of a Pipeline (or the estimator itself)."""
    while hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    return estimator


class _TrustedScorer:
    """Score only the trusted rows; see :func:`trusted_scorer`."""

    def __init__(self, metric, kwargs):
        self.metric = metric
        self.kwargs = kwargs
        self._trusted_alias = True

    def __call__(self, estimator, X, y, trusted=None):
        if trusted is None:
            raise ValueError(
                f"{self!r} needs the trusted mask: call scorer(estimator, X, y, trusted=mask); "
                + ROUTING_HINT
                + "."
            )
        mask = check_trusted_mask(trusted, n_rows(X))
        if not mask.any():
            raise ValueError(
                f"{self!r}: the {mask.size} scored rows hold no trusted row, so there is nothing "
                "trustworthy to score (use TrustedKFold as cv, whose test folds are trusted rows)."
            )
        idx = np.flatnonzero(mask)
        # A torch Dataset is selected lazily (it may not fit in memory). The
        # scored estimator may be any scikit-learn one, so a memmap's trusted
        # rows are read into an array (take_rows would stream them as a torch
        # Subset, which only sknoisy nets read) and a list is indexed as one.
        if isinstance(X, (np.memmap, list, tuple)):
            X = np.asarray(X)
        X_t = take_rows(X, idx)
        y_t = np.asarray(y)[idx]
        if self.metric == "neg_log_loss":
            proba = estimator.predict_proba(X_t)
            return -float(log_loss(y_t, proba, labels=estimator.classes_, **self.kwargs))
        y_pred = estimator.predict(X_t)
        if self.metric == "accuracy":
            return float(accuracy_score(y_t, y_pred, **self.kwargs))
        if self.metric == "balanced_accuracy":
            return float(balanced_accuracy_score(y_t, y_pred, **self.kwargs))
        if self.metric == "f1_macro":
            return float(f1_score(y_t, y_pred, average="macro", **self.kwargs))
        return float(self.metric(y_t, y_pred, **self.kwargs))

    def set_score_request(self, *, trusted=True):
        """Set how the trusted mask is requested (True by default; a string is an alias).

        Parameters
        ----------
        trusted : bool, str or None, default=True
            ``True``: request ``trusted``; a string: request the metadata of
            that name as the mask; ``False``/``None``: do not request it (the
            scorer then fails, as it needs the mask).

        Returns
        -------
        self : object
        """
        self._trusted_alias = trusted
        return self

    def get_metadata_routing(self):
        """The metadata this scorer requests: ``trusted`` for ``score``.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=self)
        request.score.add_request(param="trusted", alias=self._trusted_alias)
        return request

    def _accept_sample_weight(self):
        # Read by GridSearchCV when fit gets sample_weight without routing.
        return False

    def __repr__(self):
        metric = self.metric if isinstance(self.metric, str) else getattr(self.metric, "__name__", repr(self.metric))
        args = [repr(metric)] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"trusted_scorer({', '.join(args)})"


def trusted_scorer(metric="accuracy", **kwargs):
    """A scorer that scores only the trusted rows of the set it is given.

    Called as ``scorer(estimator, X, y, trusted=mask)``; ``trusted`` is
    requested through metadata routing, so inside ``GridSearchCV`` or
    ``cross_validate`` (with ``enable_metadata_routing=True``) each test
    fold's slice of the mask arrives on its own. Greater is better.

    Parameters
    ----------
    metric : {'accuracy', 'balanced_accuracy', 'neg_log_loss', 'f1_macro'} or callable, default='accuracy'
        The metric on the trusted rows. 'neg_log_loss' uses
        ``predict_proba`` (with ``labels=estimator.classes_``, so a fold
        missing a class still works) and returns the negative log-loss. A
        callable is called as ``metric(y_true, y_pred, **kwargs)`` on the
        predicted labels and must return a greater-is-better score.
    **kwargs
        Passed to the metric (for example ``zero_division=0`` for
        'f1_macro').

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, trusted=None) -> float``; it raises a
        ``ValueError`` when the mask is missing or marks no row.

    Raises
    ------
    ValueError
        If ``metric`` is an unknown name.
    TypeError
        If ``metric`` is neither a string nor a callable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sknoisy.model_selection import trusted_scorer
    >>> X = np.zeros((4, 1))
    >>> clf = DummyClassifier(strategy="constant", constant=1).fit(X, [0, 1, 1, 1])
    >>> scorer = trusted_scorer("accuracy")
    >>> scorer
    trusted_scorer('accuracy')
    >>> scorer(clf, X, [0, 1, 1, 0], trusted=[True, True, True, False])
    0.6666666666666666
    """
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"Unknown metric {metric!r} for trusted_scorer; use one of {', '.join(map(repr, _METRICS))} "
                "or a callable metric(y_true, y_pred)."
            )
    elif not callable(metric):
        raise TypeError(
            f"metric must be a metric name or a callable metric(y_true, y_pred), got {type(metric).__name__}."
        )
    return _TrustedScorer(metric, kwargs)


class _ForwardCorrectedLogLossScorer:
    """Negative forward-corrected noisy log-loss; see :func:`forward_corrected_log_loss_scorer`."""

    #: What the score is, for reports and reprs.
    name = "forward-corrected noisy log-loss"

    def __init__(self, transition_matrix, eps):
        self.transition_matrix = transition_matrix
        self.eps = eps

    def _matrix(self, estimator, n_classes):
        if isinstance(self.transition_matrix, str):
            T = getattr(_final_estimator(estimator), "transition_matrix_", None)
            if T is None:
                raise ValueError(
                    f"{self!r}: the estimator {type(_final_estimator(estimator)).__name__} has no fitted "
                    "transition_matrix_; pass the transition matrix as an array instead of 'fitted'."
                )
        else:
            T = self.transition_matrix
        return check_transition_matrix(T, n_classes)

    def __call__(self, estimator, X, y):
        classes = np.asarray(estimator.classes_)
        T = self._matrix(estimator, len(classes))
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D noisy labels, got an array of shape {y.shape}.")
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(
                f"y contains labels {np.unique(y[unknown])[:5].tolist()} that are not in the "
                f"estimator's classes_ {classes.tolist()}."
            )
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        noisy = proba @ T
        picked = noisy[np.arange(y.shape[0]), np.searchsorted(classes, y)]
        return -float(np.mean(-np.log(np.clip(picked, self.eps, 1.0))))

    def get_metadata_routing(self):
        """No metadata is requested: the score uses ``X`` and the noisy ``y`` only.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        return MetadataRequest(owner=self)

    def _accept_sample_weight(self):
        return False

    def __repr__(self):
        T = self.transition_matrix
        shown = repr(T) if isinstance(T, str) else f"<array {T.shape[0]}x{T.shape[1]}>"
        return f"<{self.name} scorer (negated, greater is better), transition_matrix={shown}>"


def forward_corrected_log_loss_scorer(transition_matrix="fitted", *, eps=1e-7):
    """Scorer of the noisy labels through T: the negative forward-corrected noisy log-loss.

    For the case with **no trusted rows**: the model's clean probabilities
    are pushed through the noise model, ``p_noisy = predict_proba(X) @ T``,
    and the noisy labels are scored by their log-loss under ``p_noisy``,
    ``-mean(log(p_noisy[i, y_noisy[i]]))``. The scorer returns its negative,
    so greater is better, as scikit-learn expects. With a correct ``T`` this
    is a proper score of the clean model; it is not an accuracy and should
    not be read as one.

    Parameters
    ----------
    transition_matrix : array-like of shape (n_classes, n_classes) or 'fitted', default='fitted'
        ``T[i, j] = p(noisy = j | clean = i)`` in the order of the
        estimator's ``classes_``; 'fitted' uses the estimator's own
        ``transition_matrix_`` (the final step's, for a Pipeline).
    eps : float in (0, 1), default=1e-7
        Floor on the noisy probability before the log.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_noisy) -> float``.

    Raises
    ------
    ValueError
        If ``transition_matrix`` is not a valid transition matrix nor
        'fitted', or ``eps`` is outside (0, 1).

    Examples
    --------
    With ``p = (0.75, 0.25)`` for every row and the T below, ``p_noisy = (0.6, 0.4)``:

    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sknoisy.model_selection import forward_corrected_log_loss_scorer
    >>> T = [[0.8, 0.2], [0.0, 1.0]]
    >>> X, y_noisy = np.zeros((4, 1)), [0, 1, 1, 1]
    >>> clf = DummyClassifier(strategy="prior").fit(X, [0, 0, 0, 1])
    >>> round(forward_corrected_log_loss_scorer(T)(clf, X, y_noisy), 4)
    -0.8149
    """
    if isinstance(transition_matrix, str):
        if transition_matrix != "fitted":
            raise ValueError(
                f"transition_matrix must be an array or 'fitted' (the estimator's transition_matrix_), "
                f"got {transition_matrix!r}."
            )
    else:
        transition_matrix = check_transition_matrix(transition_matrix)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}.")
    return _ForwardCorrectedLogLossScorer(transition_matrix, float(eps))


# --------------------------------------------------------------------------
# scorers for data without trusted rows
# --------------------------------------------------------------------------
def _noisy_accuracy(estimator, X, y):
    return float(np.mean(np.asarray(estimator.predict(X)) == np.asarray(y)))


def noisy_accuracy_scorer():
    """A scorer of the accuracy on the (held-out) noisy labels it is given.

    The criterion :class:`~sknoisy.AutoNoisyClassifier` chooses by without
    trusted rows. On held-out rows, whose noise the model never saw, its
    expectation under symmetric or uniform noise is ``a + b *
    clean_accuracy`` with ``b > 0``, so it ranks models as the clean
    accuracy does and needs no ``T``; under asymmetric noise it gives some
    credit to predicting a class's usual flip.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_noisy) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sknoisy.model_selection import noisy_accuracy_scorer
    >>> clf = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), [0, 0, 0, 1])
    >>> noisy_accuracy_scorer()(clf, np.zeros((4, 1)), [0, 1, 0, 1])
    0.5
    """
    return _noisy_accuracy


class _NoiseCorrectedAccuracy:
    """``mean(pinv(T)[y_noisy, y_pred])``: see :func:`noise_corrected_accuracy_scorer`."""

    #: What the score is, for reports.
    name = "noise-corrected accuracy on held-out noisy rows (an estimate of the clean accuracy through T)"

    def __init__(self, transition_matrix):
        self.transition_matrix = check_transition_matrix(transition_matrix)
        self.inverse_ = np.linalg.pinv(self.transition_matrix)

    def __call__(self, estimator, X, y):
        classes = np.asarray(estimator.classes_)
        noisy = np.searchsorted(classes, np.asarray(y))
        predicted = np.searchsorted(classes, np.asarray(estimator.predict(X)))
        return float(np.mean(self.inverse_[noisy, predicted]))

    def __repr__(self):
        return f"<{self.name}>"


def noise_corrected_accuracy_scorer(transition_matrix):
    """A scorer estimating the clean accuracy from noisy labels through ``T``: ``mean(pinv(T)[y_noisy, y_pred])``.

    The 0-1 loss corrected backward (Patrini et al. 2017): for a row of clean
    class ``y`` whose noisy label ``j`` is drawn from ``T[y]``,
    ``E[pinv(T)[j, k]] = (T @ pinv(T))[y, k] = 1{y == k}`` when ``T`` is
    invertible, so on held-out rows (whose noise the model never saw) the
    mean is an unbiased estimate of the clean accuracy when ``T`` is right.
    Under symmetric or uniform noise it is an increasing affine function of
    the noisy accuracy; under asymmetric noise it takes back the credit the
    noisy accuracy gives to predicting a class's usual flip. Through an
    *estimated* ``T`` it inherits that estimate's errors (and a ``T``
    estimated from the scored model's own kind of network counts the
    model's mistakes as noise, which biases it upward).

    Parameters
    ----------
    transition_matrix : array-like of shape (n_classes, n_classes)
        ``T[i, j] = p(noisy = j | clean = i)`` in the order of the scored
        estimator's ``classes_``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_noisy) -> float``; its ``name`` says what it is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sknoisy.model_selection import noise_corrected_accuracy_scorer
    >>> T = np.array([[0.8, 0.2], [0.2, 0.8]])
    >>> clf = DummyClassifier(strategy="most_frequent").fit(np.zeros((4, 1)), [0, 0, 0, 1])
    >>> round(noise_corrected_accuracy_scorer(T)(clf, np.zeros((4, 1)), [0, 1, 0, 1]), 3)
    0.5
    """
    return _NoiseCorrectedAccuracy(transition_matrix)
