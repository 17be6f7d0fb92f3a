"""Which training labels look wrong: label-issue scores from a noise model.

Convention (the whole package): ``T[i, j] = p(noisy = j | clean = i)``.

Given the clean-class probabilities ``p(clean | x)`` of a row and the
transition matrix ``T``, Bayes' rule gives the clean class of a row whose
given (noisy) label is ``j``::

    p(clean = i | x, noisy = j)  is proportional to  p(clean = i | x) * T[i, j]

The **label-issue score** of the row is ``1 - p(clean = j | x, noisy = j)``:
the probability that its given label is not its clean class. The suggested
label is the most probable clean class under that posterior. A score above
0.5 means the label is more likely wrong than right, and the sum of the
scores estimates the number of wrong labels.

Unlike a score that reads ``p(noisy = j | x)`` alone (cleanlab's
self-confidence), the posterior knows where noise comes from: a row of clean
class ``i`` that carries label ``j`` is suspicious in proportion to how often
``i`` really turns into ``j``.

The probabilities must come from a model that did not train on the row:
a network that memorised a wrong label predicts it confidently and the
label looks right. :func:`out_of_fold_label_issues` fits a clone of an
sknoisy estimator per fold for that. Out-of-fold probabilities of the
*noisy* labels (such as ``TransitionMatrixEstimator.oof_proba_``) are first
turned into clean ones by inverting the forward model
(:func:`label_issue_scores_from_noisy`).

Every fitted sknoisy classifier also has a ``label_issues(X, y)`` method
(:class:`LabelIssuesMixin`) that scores rows with its own probabilities and
noise model: honest for rows it did not train on, such as a new batch of
labels to audit.

Layering: this module reads probabilities and matrices only; the classifiers
import it (for the method), never the other way round.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d

# The probability and label checks are the transition estimators' own, so both
# layers word their errors alike.
from .transition._estimates import _check_labels, _check_proba
from .utils._rows import n_rows, take_rows
from .utils._validation import check_transition_matrix, check_trusted_mask

__all__ = [
    "label_issue_scores",
    "label_issue_scores_from_noisy",
    "rank_label_issues",
    "find_label_issues",
    "out_of_fold_label_issues",
    "LabelIssuesMixin",
]

# Rows of the (n_samples, n_classes) work buffer handled at once (about 32 MB in float64).
_BLOCK_ELEMENTS = 1 << 22
# The maximum-likelihood denoising stops when no probability of a row moves by
# more than _EM_TOL in a step, or after _EM_MAX_ITER steps.
_EM_TOL = 1e-6
_EM_MAX_ITER = 100


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _encode_labels(y, n_samples, n_classes, classes):
    """``y`` as indices into the columns, and the label of each column."""
    if classes is None:
        try:
            return _check_labels(y, n_samples, n_classes, "y"), np.arange(n_classes)
        except ValueError as exc:
            raise ValueError(
                f"{exc} With labels other than column indices, pass classes= (the label of each "
                "probability column, e.g. estimator.classes_)."
            ) from None
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if y.shape != (n_samples,):
        raise ValueError(f"y must be a 1-D array of {n_samples} labels, one per row; got shape {y.shape}.")
    classes = np.asarray(classes)
    if classes.ndim != 1 or len(classes) != n_classes:
        raise ValueError(
            f"classes must list one label per probability column ({n_classes}), got {len(np.atleast_1d(classes))}."
        )
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    if np.any(sorted_classes[1:] == sorted_classes[:-1]):
        raise ValueError(f"classes must be unique, got {classes.tolist()}.")
    try:
        pos = np.clip(np.searchsorted(sorted_classes, y), 0, n_classes - 1)
        known = sorted_classes[pos] == y
    except TypeError:
        raise ValueError(f"y holds labels that are not comparable with classes {classes.tolist()}.") from None
    if not np.all(known):
        unknown = np.unique(y[~known])
        raise ValueError(
            f"y contains labels {unknown[:5].tolist()} that are not in classes {classes.tolist()}."
        )
    return order[pos].astype(np.int64), classes


# ---------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------
def label_issue_scores(proba_clean, y, transition_matrix, *, classes=None, trusted=None):
    """Probability that each given label is wrong, from ``p(clean | x)`` and ``T``.

    ``p(clean = i | x, noisy = j)`` is proportional to
    ``p(clean = i | x) * T[i, j]``; the score of a row with given label ``j``
    is ``1 - p(clean = j | x, noisy = j)``.

    Parameters
    ----------
    proba_clean : array-like of shape (n_samples, n_classes)
        Clean-class probabilities of the rows from a model that did **not**
        train on them (out of fold), e.g. the ``predict_proba`` of sknoisy
        classifiers fitted on other folds. Rows are renormalised if they do
        not sum to one.
    y : array-like of shape (n_samples,)
        The given (possibly noisy) labels.
    transition_matrix : array-like of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``, classes in the
        order of the probability columns.
    classes : array-like of shape (n_classes,), default=None
        The label of each probability column (e.g. ``estimator.classes_``);
        None means ``y`` holds column indices ``0 .. n_classes - 1``.
    trusted : array-like of bool of shape (n_samples,), default=None
        Rows whose label is known to be correct: their score is 0 and their
        suggested label is their own.

    Returns
    -------
    scores : ndarray of shape (n_samples,), dtype float64
        In [0, 1]; higher is more suspicious. ``scores.sum()`` estimates
        the number of wrong labels. A label that the model and ``T`` deem
        impossible (probability 0) scores 1.
    suggested : ndarray of shape (n_samples,)
        The most probable clean class given ``x`` and the given label, as a
        label of ``classes`` (a column index when ``classes`` is None).

    Raises
    ------
    ValueError
        If the shapes disagree, the probabilities are not probabilities,
        ``T`` is not row-stochastic, or ``y`` holds a label outside
        ``classes``.

    Examples
    --------
    Class 0 turns into 1 with probability 0.4; class 1 is never mislabelled.
    A row labelled 1 that looks like class 0 is suspicious, a row labelled 0
    is not, whatever its probabilities:

    >>> import numpy as np
    >>> from sknoisy.label_issues import label_issue_scores
    >>> T = np.array([[0.6, 0.4], [0.0, 1.0]])
    >>> proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7]])
    >>> scores, suggested = label_issue_scores(proba, ["b", "a", "b"], T, classes=["a", "b"])
    >>> scores.round(3), suggested
    (array([0.783, 0.   , 0.146]), array(['a', 'a', 'b'], dtype='<U1'))
    """
    proba = _check_proba(proba_clean, "proba_clean")
    n_samples, n_classes = proba.shape
    T = check_transition_matrix(transition_matrix, n_classes)
    y_idx, labels = _encode_labels(y, n_samples, n_classes, classes)
    mask = check_trusted_mask(trusted, n_samples)

    scores = np.empty(n_samples)
    best = np.empty(n_samples, dtype=np.int64)
    height = max(1, _BLOCK_ELEMENTS // n_classes)
    for start in range(0, n_samples, height):
        stop = min(start + height, n_samples)
        given = y_idx[start:stop]
        # joint[r, i] = p(clean = i | x_r) * T[i, y_r], the unnormalised posterior
        joint = proba[start:stop] * T[:, given].T
        evidence = joint.sum(axis=1)
        rows = np.arange(stop - start)
        possible = evidence > 0
        scores[start:stop] = np.where(
            possible, 1.0 - joint[rows, given] / np.where(possible, evidence, 1.0), 1.0
        )
        # where the given label is impossible the posterior is undefined: fall back on p(clean | x)
        best[start:stop] = np.where(possible, joint.argmax(axis=1), proba[start:stop].argmax(axis=1))
    np.clip(scores, 0.0, 1.0, out=scores)
    scores[mask] = 0.0
    best[mask] = y_idx[mask]
    return scores, labels[best]


def _clean_proba_ml(proba_noisy, T):
    """The clean probabilities whose forward image ``q @ T`` is closest to ``proba_noisy``.

    Each row maximises ``sum_j p_noisy[j] log (q @ T)[j]`` over the simplex
    (the Kullback-Leibler projection onto the forward model). Where
    ``p_noisy`` is a forward image, the pseudo-inverse gives the exact answer
    (as :func:`~sknoisy.transition.denoise_proba` does). Elsewhere (a network
    is usually more confident than ``T`` allows, e.g. p(noisy = j) above the
    largest ``T[i, j]``) the pseudo-inverse would have to clip and
    renormalise; those rows run the EM fixed point
    ``q <- q * (T @ (p_noisy / (q @ T)))`` from the uniform vector, which
    stays on the simplex and climbs the concave objective, for at most
    ``_EM_MAX_ITER`` steps. The last steps move ``q`` by less than the
    ranking of rows can feel (checked in benchmarks/label_issues.py).
    Cost: ``O(_EM_MAX_ITER * n_samples * n_classes**2)``.
    """
    proba_noisy = np.asarray(proba_noisy, dtype=np.float64)
    n_samples, n_classes = proba_noisy.shape
    clean = np.empty_like(proba_noisy)
    inverse = np.linalg.pinv(T)
    height = max(1, _BLOCK_ELEMENTS // n_classes)
    for start in range(0, n_samples, height):
        target = proba_noisy[start : start + height]
        exact = target @ inverse
        inside = np.all(exact >= 0.0, axis=1) & np.all(np.abs(exact @ T - target) < 1e-9, axis=1)
        q = np.where(inside[:, None], exact, 1.0 / n_classes)
        active = np.flatnonzero(~inside)
        for _ in range(_EM_MAX_ITER):
            if active.size == 0:
                break
            q_active = q[active]
            updated = q_active * ((target[active] / np.maximum(q_active @ T, 1e-300)) @ T.T)
            updated /= updated.sum(axis=1, keepdims=True)
            q[active] = updated
            active = active[np.max(np.abs(updated - q_active), axis=1) >= _EM_TOL]
        clean[start : start + height] = q / q.sum(axis=1, keepdims=True)
    return clean


def label_issue_scores_from_noisy(proba_noisy, y, transition_matrix, *, classes=None, trusted=None):
    """Label-issue scores from out-of-fold probabilities of the **noisy** labels.

    ``p(noisy | x)`` (e.g. ``TransitionMatrixEstimator.oof_proba_``, or the
    out-of-fold ``predict_proba`` of any classifier trained on the given
    labels) is turned into ``p(clean | x)``, then scored by
    :func:`label_issue_scores` with the same ``T``.

    The clean probabilities of a row are those whose forward image
    ``p_clean @ T`` is closest to ``p_noisy`` in Kullback-Leibler divergence
    (the maximum-likelihood inverse of the forward model, found by EM). It
    equals :func:`sknoisy.transition.denoise_proba` wherever ``p_noisy`` is
    a forward image; a network trained on noisy labels is usually more
    confident than ``T`` allows, and there the pseudo-inverse has to clip
    and renormalise nearly every row, which ranked flipped labels worse on
    generated data (``benchmarks/label_issues.py``).

    Parameters
    ----------
    proba_noisy : array-like of shape (n_samples, n_classes)
        Out-of-fold ``p(noisy | x)``.
    y, transition_matrix, classes, trusted
        As in :func:`label_issue_scores`.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    suggested : ndarray of shape (n_samples,)
        As in :func:`label_issue_scores`.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.label_issues import label_issue_scores_from_noisy
    >>> T = np.array([[0.8, 0.2], [0.2, 0.8]])
    >>> scores, suggested = label_issue_scores_from_noisy([[0.74, 0.26], [0.74, 0.26]], [1, 0], T)
    >>> scores.round(3), suggested
    (array([0.692, 0.027]), array([0, 0]))
    """
    proba_noisy = _check_proba(proba_noisy, "proba_noisy")
    T = check_transition_matrix(transition_matrix, proba_noisy.shape[1])
    return label_issue_scores(_clean_proba_ml(proba_noisy, T), y, T, classes=classes, trusted=trusted)


def rank_label_issues(scores):
    """Row indices, most suspicious label first (ties keep the row order).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Label-issue scores, e.g. from :func:`label_issue_scores`.

    Returns
    -------
    order : ndarray of shape (n_samples,), dtype int64

    Examples
    --------
    >>> from sknoisy.label_issues import rank_label_issues
    >>> rank_label_issues([0.1, 0.9, 0.1, 0.5])
    array([1, 3, 0, 2])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be a 1-D array, got shape {scores.shape}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contains NaN or infinity.")
    return np.argsort(-scores, kind="stable").astype(np.int64)


def find_label_issues(
    proba_clean, y, transition_matrix, *, classes=None, trusted=None, threshold=0.5, n_issues=None
):
    """Indices of the rows whose label is likely wrong, most suspicious first.

    Parameters
    ----------
    proba_clean, y, transition_matrix, classes, trusted
        As in :func:`label_issue_scores` (out-of-fold ``p(clean | x)``).
    threshold : float in [0, 1), default=0.5
        Rows whose score exceeds it are returned: at 0.5, the labels that are
        more likely wrong than right.
    n_issues : int or None, default=None
        Return the ``n_issues`` highest-scoring untrusted rows instead (the
        threshold is then not used).

    Returns
    -------
    issues : ndarray of int64
        Row indices (not a boolean mask), most suspicious first; trusted rows
        are never returned.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.label_issues import find_label_issues
    >>> T = np.array([[0.7, 0.3], [0.3, 0.7]])
    >>> proba = np.array([[0.95, 0.05], [0.2, 0.8], [0.9, 0.1], [0.6, 0.4]])
    >>> find_label_issues(proba, [1, 1, 1, 1], T)
    array([0, 2])
    >>> find_label_issues(proba, [1, 1, 1, 1], T, n_issues=3)
    array([0, 2, 3])
    """
    scores, _ = label_issue_scores(proba_clean, y, transition_matrix, classes=classes, trusted=trusted)
    mask = check_trusted_mask(trusted, len(scores))
    order = rank_label_issues(scores)
    order = order[~mask[order]]
    if n_issues is not None:
        if isinstance(n_issues, bool) or not isinstance(n_issues, numbers.Integral) or n_issues < 0:
            raise ValueError(f"n_issues must be None or a non-negative integer, got {n_issues!r}.")
        return order[: int(n_issues)]
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}.")
    return order[scores[order] > threshold]


# ---------------------------------------------------------------------------
# out of fold, from an estimator
# ---------------------------------------------------------------------------
def _folds(y_idx, mask, cv, seed):
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2, got {cv!r}.")
    counts = np.bincount(y_idx)
    n_splits = int(cv)
    if counts.min() < 2:
        raise ValueError(
            f"every class needs at least 2 rows for out-of-fold scores (a fold must train on it); "
            f"class index {int(np.argmin(counts))} has {int(counts.min())}."
        )
    if counts.min() < n_splits:
        n_splits = int(counts.min())
        warnings.warn(
            f"The smallest class has {n_splits} rows, fewer than cv={cv}; using {n_splits} folds.",
            UserWarning,
            stacklevel=3,
        )
    # Spread the trusted rows of each class evenly too (GLC and MLC need some in
    # every fold), unless that makes a stratum smaller than the number of folds.
    strata = y_idx * 2 + mask
    stratum_sizes = np.bincount(strata)
    if stratum_sizes[stratum_sizes > 0].min() < n_splits:
        strata = y_idx
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros((len(y_idx), 1)), strata))


def _fit_fold(estimator, X, y, mask, train, test, classes, transition_matrix):
    estimator = clone(estimator)
    fit_params = {"trusted": mask[train]} if mask.any() else {}
    estimator.fit(take_rows(X, train), y[train], **fit_params)
    fitted_classes = np.asarray(getattr(estimator, "classes_", classes))
    if len(fitted_classes) != len(classes) or np.any(fitted_classes != classes):
        raise ValueError(
            f"the estimator fitted on a fold has classes {fitted_classes.tolist()}, not {classes.tolist()}; "
            "give each class more rows or use fewer folds."
        )
    proba = np.asarray(estimator.predict_proba(take_rows(X, test)), dtype=np.float64)
    if transition_matrix is not None:
        T = transition_matrix
    else:
        T = getattr(estimator, "transition_matrix_", None)
        if T is None:
            raise ValueError(
                f"{type(estimator).__name__} has no transition_matrix_ after fit, so it does not say how the "
                "labels are corrupted; pass transition_matrix= (an array), use an estimator that estimates "
                "T (e.g. ForwardCorrectedClassifier, GLCClassifier), or score out-of-fold noisy-label "
                "probabilities with label_issue_scores_from_noisy."
            )
    return test, proba, check_transition_matrix(T, len(classes))


def out_of_fold_label_issues(
    estimator, X, y, *, trusted=None, transition_matrix=None, cv=5, random_state=None, n_jobs=None
):
    """Label-issue scores of every training row from models that did not see it.

    A clone of ``estimator`` is fitted on each training fold (stratified by
    label, and by the trusted flag when there is one); the rows of the held-out
    fold are scored with its ``predict_proba`` (the clean posterior, as every
    sknoisy classifier returns) and its ``transition_matrix_`` (or the given
    ``transition_matrix``). A network that memorised a wrong label would
    otherwise vouch for it.

    Parameters
    ----------
    estimator : sknoisy classifier, fitted or not
        Cloned (its fitted state is not used). It must have
        ``transition_matrix_`` after ``fit`` (Forward/Backward corrected,
        GLC, MLC) unless ``transition_matrix`` is given.
    X : array-like of shape (n_samples, ...) or torch Dataset
    y : array-like of shape (n_samples,)
        The given labels.
    trusted : array-like of bool of shape (n_samples,), default=None
        Rows known to be clean: passed to each fold's ``fit`` and scored 0.
    transition_matrix : array-like of shape (n_classes, n_classes), default=None
        A known ``T`` (classes in sorted label order) used for every fold
        instead of the estimator's ``transition_matrix_``.
    cv : int, default=5
        Number of stratified folds (lowered, with a warning, to the size of
        the smallest class).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds; an estimator whose ``random_state`` is None gets a
        seed drawn from it too, so the result is reproducible.
    n_jobs : int, default=None
        Folds fitted in parallel with joblib.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``scores`` (n_samples,), ``suggested`` (n_samples,) labels, ``order``
        (row indices, most suspicious first), ``proba_clean`` (n_samples,
        n_classes) out-of-fold, ``classes`` (n_classes,), ``fold`` (the fold
        index of each row) and ``transition_matrices`` (one per fold).

    Examples
    --------
    >>> from sknoisy import ForwardCorrectedClassifier, make_noisy_classification
    >>> from sknoisy.label_issues import out_of_fold_label_issues
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, 5, 3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=5, lr=0.01)
    >>> result = out_of_fold_label_issues(clf, X, y_noisy, cv=3, random_state=0)
    >>> result.scores.shape, result.proba_clean.shape
    ((300,), (300, 3))
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    n_samples = n_rows(X)
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {len(y)} labels.")
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"label issues need at least 2 classes, y has only {classes.tolist()}.")
    mask = check_trusted_mask(trusted, n_samples)
    if transition_matrix is not None:
        transition_matrix = check_transition_matrix(transition_matrix, len(classes))
    rng = check_random_state(random_state)
    fold_seed = int(rng.randint(np.iinfo(np.int32).max))
    params = estimator.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None and random_state is not None:
        estimator = clone(estimator).set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))

    folds = _folds(y_idx, mask, cv, fold_seed)
    results = Parallel(n_jobs=n_jobs)(
        delayed(_fit_fold)(estimator, X, y, mask, train, test, classes, transition_matrix) for train, test in folds
    )
    proba = np.zeros((n_samples, len(classes)))
    fold = np.empty(n_samples, dtype=np.int64)
    scores = np.empty(n_samples)
    suggested = np.empty(n_samples, dtype=np.int64)
    matrices = []
    for k, (test, fold_proba, T) in enumerate(results):
        proba[test] = fold_proba
        fold[test] = k
        scores[test], suggested[test] = label_issue_scores(fold_proba, y_idx[test], T, trusted=mask[test])
        matrices.append(T)
    return Bunch(
        scores=scores,
        suggested=classes[suggested],
        order=rank_label_issues(scores),
        proba_clean=proba,
        classes=classes,
        fold=fold,
        transition_matrices=matrices,
    )


# ---------------------------------------------------------------------------
# the method of fitted estimators
# ---------------------------------------------------------------------------
class LabelIssuesMixin:
    """Adds :meth:`label_issues` to a fitted classifier.

    The classifier needs ``predict_proba`` (clean-class probabilities, as
    every sknoisy classifier returns), ``classes_`` and, when it has a noise
    model, ``transition_matrix_``.
    """

    def label_issues(self, X, y, *, trusted=None, transition_matrix=None):
        """Score how likely each given label of ``X`` is wrong, with this fitted model.

        The score of a row with given label ``j`` is
        ``1 - p(clean = j | x, noisy = j)``, where the posterior is
        proportional to ``predict_proba(X)[:, i] * T[i, j]`` and ``T`` is the
        model's ``transition_matrix_`` (see :func:`label_issue_scores`).
        A model without a noise model (plain cross-entropy, the robust
        losses) has nothing that says how labels go wrong: the posterior is
        then its ``predict_proba`` itself, so the score is
        ``1 - p(given label | x)`` (the self-confidence score) and the
        suggested label its prediction. (An identity ``T`` would say that no
        label is ever wrong and score every row 0.)

        The probabilities are **in-sample** for the rows the model trained
        on: a network that memorised a wrong label predicts it confidently,
        and the label looks right. Use it on rows the model did not train on
        (a new batch of labels to audit); for the training rows themselves,
        use :func:`sknoisy.label_issues.out_of_fold_label_issues`, which
        scores each row with a model fitted without it.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs, as for ``predict_proba``.
        y : array-like of shape (n_samples,)
            Their given (possibly noisy) labels, from ``classes_``.
        trusted : array-like of bool of shape (n_samples,), default=None
            Rows whose label is known to be correct: they score 0.
        transition_matrix : array-like of shape (n_classes, n_classes), default=None
            A known ``T`` (rows and columns in the order of ``classes_``) used
            instead of the model's ``transition_matrix_``.

        Returns
        -------
        result : sklearn.utils.Bunch
            The keys of :func:`out_of_fold_label_issues`: ``scores``
            (n_samples,) in [0, 1], higher is more suspicious;
            ``suggested`` (n_samples,) labels; ``order`` (row indices, most
            suspicious first); ``proba_clean`` (n_samples, n_classes), the
            model's ``predict_proba``; ``classes``; ``fold``, -1 for every
            row (scored by this model, not out of fold); and
            ``transition_matrices``, a list holding the ``T`` used (None
            without a noise model).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If ``y`` does not hold one label of ``classes_`` per row, or
            ``transition_matrix`` is not a row-stochastic matrix of the right
            size.

        See Also
        --------
        out_of_fold_label_issues : the scores of the training rows, out of fold.
        label_issue_scores : the score from given probabilities and ``T``.

        Examples
        --------
        Train on half of the rows, then audit the labels of the other half:

        >>> from sknoisy import ForwardCorrectedClassifier, make_noisy_classification
        >>> from sknoisy.modules import MLP
        >>> X, y_noisy, y_clean, T = make_noisy_classification(
        ...     600, 5, 3, noise="flip_to_one", rate=0.3, random_state=0)
        >>> clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=20,
        ...                                  lr=0.01, random_state=0).fit(X[:300], y_noisy[:300])
        >>> issues = clf.label_issues(X[300:], y_noisy[300:])
        >>> issues.scores.shape, issues.suggested.shape
        ((300,), (300,))
        >>> flipped = y_noisy[300:] != y_clean[300:]
        >>> top = issues.order[: flipped.sum()]
        >>> bool(flipped[top].mean() > 2 * flipped.mean())  # far above chance
        True
        """
        check_is_fitted(self)
        if y is None:
            raise ValueError(f"{type(self).__name__}.label_issues needs the given labels y of the rows of X.")
        if hasattr(y, "to_numpy"):
            y = y.to_numpy()
        classes = np.asarray(self.classes_)
        if transition_matrix is None:
            transition_matrix = getattr(self, "transition_matrix_", None)
        if transition_matrix is None:
            # No noise model: the label says nothing about the clean class
            # beyond what the model sees in x, which is a T with equal rows.
            T = None
            used = np.full((len(classes), len(classes)), 1.0 / len(classes))
        else:
            T = used = check_transition_matrix(transition_matrix, len(classes))
        proba = np.asarray(self.predict_proba(X), dtype=np.float64)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(proba):
            raise ValueError(
                f"y must hold one label per row of X ({len(proba)}), got shape {y.shape}."
            )
        scores, suggested = label_issue_scores(proba, y, used, classes=classes, trusted=trusted)
        return Bunch(
            scores=scores,
            suggested=suggested,
            order=rank_label_issues(scores),
            proba_clean=proba,
            classes=classes,
            fold=np.full(len(scores), -1, dtype=np.int64),
            transition_matrices=[T],
        )
