"""Model selection that never scores a model on labels it cannot trust.

With noisy labels, a cross-validation score computed on noisy test labels
rewards a model for fitting the noise. This module offers:

* :class:`TrustedKFold`: a splitter whose test folds hold only trusted rows
  (the training folds hold every other row, noisy and trusted);
* :func:`trusted_scorer`: a scorer that scores only the trusted rows of the
  set it is given;
* :func:`forward_corrected_log_loss_scorer`: for the case with no trusted
  rows at all, the log-loss of the *noisy* labels under the model's clean
  probabilities pushed through ``T`` (``p_noisy = p_clean @ T``);
* :class:`~sknoisy.base.TrustedValidSplit` (re-exported): a skorch
  ``train_split`` validating on trusted rows.

The trusted mask reaches the splitter and the scorer through scikit-learn's
metadata routing::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    clf = GLCClassifier(MLP).set_fit_request(trusted=True)
    grid = GridSearchCV(clf, {"lr": [1e-3, 1e-2]}, cv=TrustedKFold(5),
                        scoring=trusted_scorer("accuracy"))
    grid.fit(X, y, trusted=mask)
"""

import numbers

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold
from sklearn.utils import _safe_indexing, metadata_routing
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.multiclass import type_of_target
from torch.utils.data import Subset

from .base import TrustedValidSplit, _is_lazy
from .utils._validation import check_transition_matrix, check_trusted_mask

__all__ = [
    "TrustedKFold",
    "trusted_scorer",
    "forward_corrected_log_loss_scorer",
    "TrustedValidSplit",
]

_ROUTING_HINT = (
    "inside GridSearchCV, cross_validate or a Pipeline, enable metadata routing "
    "(sklearn.set_config(enable_metadata_routing=True)) and pass fit(X, y, trusted=mask)"
)


def _n_samples(X):
    if hasattr(X, "shape") and len(getattr(X, "shape", ())) > 0:
        return int(X.shape[0])
    try:
        return len(X)
    except TypeError as exc:
        raise TypeError(f"X must be an array-like with a length, got {type(X).__name__}.") from exc


# ---------------------------------------------------------------------------
# splitter
# ---------------------------------------------------------------------------


class TrustedKFold(BaseCrossValidator):
    """K-fold cross-validation whose test folds hold only trusted rows.

    The trusted rows are split into ``n_splits`` folds (stratified by their
    labels when ``y`` is a classification target and a class has at least
    ``n_splits`` trusted rows; plain K-fold otherwise). Each test fold is one
    fold of trusted rows; its training set is every other row: all the
    untrusted rows plus the trusted rows of the other folds. So every
    trusted row is tested exactly once and no noisy label is ever scored.

    ``trusted`` is requested through metadata routing for ``split``, so
    ``GridSearchCV(..., cv=TrustedKFold()).fit(X, y, trusted=mask)`` hands
    it over when ``sklearn.set_config(enable_metadata_routing=True)``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; at least 2, and at most the number of trusted rows.
    shuffle : bool, default=False
        Whether to shuffle the trusted rows before splitting them.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling; only allowed with ``shuffle=True``.

    See Also
    --------
    trusted_scorer : Scores only the trusted rows of a set.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.model_selection import TrustedKFold
    >>> X = np.zeros((8, 2))
    >>> y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> trusted = np.array([True, True, True, True, False, False, False, False])
    >>> for train, test in TrustedKFold(2).split(X, y, trusted=trusted):
    ...     print(train, test)
    [2 3 4 5 6 7] [0 1]
    [0 1 4 5 6 7] [2 3]
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED, "trusted": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral):
            raise TypeError(f"n_splits must be an integer >= 2, got {n_splits!r} of type {type(n_splits).__name__}.")
        if n_splits < 2:
            raise ValueError(f"TrustedKFold needs n_splits >= 2, got n_splits={n_splits}.")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False; "
                "set shuffle=True or leave random_state=None."
            )
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None, trusted=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups, trusted : object
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y=None, groups=None, trusted=None):
        """Generate (train, test) indices; test indices are trusted rows only.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Only its length is used.
        y : array-like of shape (n_samples,), default=None
            Labels; the trusted rows are stratified by them when possible.
        groups : object
            Ignored.
        trusted : array-like of bool of shape (n_samples,)
            The trusted (clean) rows. Required.

        Yields
        ------
        train : ndarray of int
            Every row not in the test fold (untrusted rows included).
        test : ndarray of int
            One fold of the trusted rows.
        """
        n_samples = _n_samples(X)
        if trusted is None:
            raise ValueError(
                "TrustedKFold needs the trusted mask: call split(X, y, trusted=mask); " + _ROUTING_HINT + "."
            )
        mask = check_trusted_mask(trusted, n_samples)
        trusted_idx = np.flatnonzero(mask)
        if trusted_idx.size < self.n_splits:
            raise ValueError(
                f"TrustedKFold(n_splits={self.n_splits}) needs at least {self.n_splits} trusted rows, "
                f"but the data has {trusted_idx.size}."
            )
        y_trusted = None if y is None else np.asarray(y)[trusted_idx]
        for _, test_local in self._local_splitter(y_trusted).split(trusted_idx, y_trusted):
            test = trusted_idx[test_local]
            in_test = np.zeros(n_samples, dtype=bool)
            in_test[test] = True
            yield np.flatnonzero(~in_test), test

    def _local_splitter(self, y_trusted):
        """The K-fold splitter of the trusted rows: stratified when it can be."""
        kwargs = {"n_splits": self.n_splits, "shuffle": self.shuffle, "random_state": self.random_state}
        if y_trusted is not None and type_of_target(y_trusted) in ("binary", "multiclass"):
            _, counts = np.unique(y_trusted, return_counts=True)
            # StratifiedKFold refuses only when no class has n_splits rows;
            # otherwise it warns about the small classes, which is worth seeing.
            if counts.max() >= self.n_splits:
                return StratifiedKFold(**kwargs)
        return KFold(**kwargs)


# ---------------------------------------------------------------------------
# scorers
# ---------------------------------------------------------------------------

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
                + _ROUTING_HINT
                + "."
            )
        mask = check_trusted_mask(trusted, _n_samples(X))
        if not mask.any():
            raise ValueError(
                f"{self!r}: the {mask.size} scored rows hold no trusted row, so there is nothing "
                "trustworthy to score (use TrustedKFold as cv, whose test folds are trusted rows)."
            )
        idx = np.flatnonzero(mask)
        # a torch Dataset may not fit in memory: select its rows lazily
        X_t = Subset(X, idx) if _is_lazy(X) else _safe_indexing(X, idx)
        y_t = _safe_indexing(np.asarray(y), idx)
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
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> from sknoisy.model_selection import forward_corrected_log_loss_scorer
    >>> X = np.zeros((4, 1))
    >>> clf = DummyClassifier(strategy="prior").fit(X, [0, 0, 0, 1])   # p = (0.75, 0.25)
    >>> scorer = forward_corrected_log_loss_scorer([[0.8, 0.2], [0.0, 1.0]])
    >>> round(scorer(clf, X, [0, 1, 1, 1]), 4)   # p_noisy = (0.6, 0.4)
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
