"""AutoNoisyClassifier: try the applicable noisy-label methods, score them honestly, refit the winner.

A user with noisy labels (and perhaps a few rows checked by hand) wants one
model, not a study. :class:`AutoNoisyClassifier` is a meta-estimator over
scikit-learn's ``GridSearchCV``: the grid is the list of methods
(:data:`~sknoisy.CLASSIFIER_METHODS`), every method trains the same network with
the same settings, and the score never rewards fitting the noise:

* with enough trusted rows, :class:`~sknoisy.model_selection.TrustedKFold`
  folds (test folds hold trusted rows only) and
  :func:`~sknoisy.model_selection.trusted_scorer`;
* without, stratified folds of the noisy rows scored by the accuracy on
  their held-out noisy labels. Under symmetric or uniform noise its
  expectation is ``a + b * clean_accuracy`` with ``b > 0``, so it ranks the
  methods as the clean accuracy does, needs no ``T``, and a model that
  memorises the noise of its training rows gains nothing on held-out ones.

Why not a criterion through an estimated ``T`` without trusted rows (the
forward-corrected log-loss, or the noise-corrected accuracy
``mean(pinv(T)[y_noisy, y_pred])``, unbiased for the clean accuracy when
``T`` is right): both inherit the errors of ``T_hat`` and favour the
forward method, which is trained with that same ``T_hat``; in
``benchmarks/auto.py`` they chose worse on average and far worse when
``T_hat`` was off (``benchmarks/results/auto_noise_corrected_criterion.md``).
Both stay in ``cv_results_`` as diagnostics, which do not choose.

Layering: this module sits above the classifiers and
:mod:`sknoisy.model_selection` (it imports both); nothing below imports it.
"""

import functools
import inspect
import numbers
import time
import warnings

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.model_selection import BaseCrossValidator, GridSearchCV, StratifiedKFold
from sklearn.utils import metadata_routing
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._classifier_registry import CLASSIFIER_METHODS, methods_doc
from ._loss_correction import _transition_matrix_constraints
from ._stage1 import PLAIN_NET_PARAMS, resolve_transition_matrix
from .base import CrossEntropyClassifier
from .model_selection import (
    TrustedKFold,
    forward_corrected_log_loss_scorer,
    noise_corrected_accuracy_scorer,
    noisy_accuracy_scorer,
    trusted_scorer,
)
from .transition import DEFAULT_TRANSITION_METHOD, check_informative, estimate_anchor
from .transition._estimator import _check_class_labels
from .transition._registry import lookup_method
from .utils._param_validation import Interval, StrOptions, invalid_parameter, validate_params
from .utils._fitting import outermost_fit
from .utils._random import seed_from
from .utils._stats import wilson_interval
from .utils._validation import check_trusted_mask, is_lazy_dataset

__all__ = ["AutoNoisyClassifier"]


#: Fewest trusted rows of every class for the trusted scoring and the methods that need them.
MIN_TRUSTED_PER_CLASS = 2

#: Rows from which ``selection='auto'`` compares the methods on one held-out split instead of
#: cross-validation: each held-out part then holds tens of thousands of noisy rows (a standard
#: error of the accuracy below 0.4 points), and cross-validation would cost ``cv`` times more.
HOLDOUT_MIN_ROWS = 100_000

#: Without trusted rows, the order in which the methods are preferred and the margin (accuracy on held-out
#: noisy labels, as a fraction) by which a later method must beat an earlier one to be chosen. Chosen on
#: development seeds by benchmarks/auto_criterion.py (the order: mean clean test accuracy there; the margin: the
#: lowest mean regret among the highest mean, 0.5-3 points and the standard-error rules). With the methods built
#: for input-dependent noise among the candidates (instance_forward, dividemix) the highest mean won (0.57 points
#: of mean regret on the development seeds, 0.73 with a 1-point margin): the margin is 0, and the order only
#: settles exact ties. (Before them a 1-point margin kept plain cross-entropy, which learns the noisy labels' own
#: argmax and scores best on them under flip-to-one noise, from being chosen.) Methods not named here
#: (co-teaching, backward, when asked for) come after them, in the order tried.
NOISY_PREFERENCE = ("instance_forward", "forward", "elr", "dividemix", "nce+rce", "ce")
NOISY_MARGIN = 0.0
#: A margin, when one is given, is there to absorb sampling noise: when the scored rows are so many that a smaller
#: difference is beyond this many standard errors of a difference of two accuracies, ``sqrt(2 s (1 - s) / n)``,
#: the scores decide (at 200,000 rows a 0.9-point lead of NCE+RCE over forward was 7.4 test points,
#: benchmarks/results/auto_at_scale.md).
NOISY_MARGIN_STANDARD_ERRORS = 2.0

#: Largest condition number of the estimated T for which the noise-corrected accuracy (a
#: diagnostic) is recorded: beyond, pinv(T) amplifies T's errors (the true T of flip-to-one
#: noise at 45% between two classes has 10).
MAX_CONDITION = 20.0

#: skorch's prefixes (``module__*``...) that configure every candidate's network.
_NET_PREFIXES = ("module", "optimizer", "iterator_train", "iterator_valid", "callbacks", "dataset")

#: Net parameters the methods set themselves.
_RESERVED_NET_PARAMS = ("criterion", "transition_matrix", "loss")


def _is_net_param(name):
    root = name.partition("__")[0]
    return root in _NET_PREFIXES if "__" in name else name in PLAIN_NET_PARAMS


def _check_net_param(name):
    if name.partition("__")[0] in _RESERVED_NET_PARAMS:
        raise ValueError(
            f"AutoNoisyClassifier got {name}=...: each method sets its own criterion, loss and transition "
            "matrix, so they cannot be shared; choose the method instead (methods=[...]), or give "
            "transition_matrix= to set how T is estimated."
        )
    if not _is_net_param(name) or name in ("module", "random_state", "verbose"):
        raise TypeError(
            f"AutoNoisyClassifier got an unexpected argument {name!r}: besides its own parameters it takes "
            "the network parameters every method shares (max_epochs, lr, batch_size, optimizer, device, "
            "module__*, optimizer__*, iterator_train__*, callbacks, ...)."
        )


def _points(fraction):
    points = round(100 * fraction, 2)
    return f"{points:g} point" + ("" if points == 1 else "s")


def noisy_margin(best_score, n_scored, margin=NOISY_MARGIN, standard_errors=NOISY_MARGIN_STANDARD_ERRORS):
    """``min(margin, standard_errors * sqrt(2 s (1 - s) / n_scored))``: the margin, smaller when many rows are scored."""
    if n_scored is None:
        return margin
    s = min(max(float(best_score), 0.0), 1.0)
    return min(margin, standard_errors * float(np.sqrt(2.0 * s * (1.0 - s) / max(int(n_scored), 1))))


def _best_score(cv_results):
    """The highest finite mean score (NaN when every fit failed)."""
    means = np.asarray(cv_results["mean_test_score"], dtype=np.float64)
    finite = means[np.isfinite(means)]
    return float(finite.max()) if finite.size else float("nan")


def prefer_within_margin(cv_results, margin=NOISY_MARGIN, preference=NOISY_PREFERENCE, n_scored=None):
    """Index of the first method, in ``preference`` order, whose mean score is within the margin of the best.

    ``GridSearchCV``'s ``refit`` callable for the search without trusted rows. Methods not in
    ``preference`` come after those in it, in the order of ``cv_results``; failed fits (NaN scores)
    are never chosen unless every fit failed. With ``n_scored`` (the rows the scores were measured
    on) the margin is :func:`noisy_margin`'s.
    """
    means = np.asarray(cv_results["mean_test_score"], dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(means))
    if finite.size == 0:
        return 0
    best = _best_score(cv_results)
    margin = noisy_margin(best, n_scored, margin)
    rank = {name: i for i, name in enumerate(preference)}
    names = [str(name) for name in cv_results["param_method"]]
    # the tolerance keeps a method exactly `margin` below the best inside, whatever the float rounding
    close = [i for i in finite if means[i] >= best - margin - 1e-9]
    return int(min(close, key=lambda i: (rank.get(names[i], len(preference)), i)))


def resolve_selection(selection, n_rows):
    """``'cv'`` or ``'holdout'``: what ``selection`` means for data of ``n_rows`` rows."""
    if selection == "auto":
        return "holdout" if n_rows >= HOLDOUT_MIN_ROWS else "cv"
    return selection


class _FirstSplit(BaseCrossValidator):
    """The first split of ``splitter`` alone: ``selection='holdout'``'s one held-out split.

    ``trusted`` is requested for ``split`` (as :class:`~sknoisy.model_selection.TrustedKFold`
    does) and passed on when ``splitter.split`` takes it.
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED, "trusted": True}

    def __init__(self, splitter):
        self.splitter = splitter

    def get_n_splits(self, X=None, y=None, groups=None, trusted=None):
        return 1

    def split(self, X, y=None, groups=None, trusted=None):
        kwargs = {"trusted": trusted} if "trusted" in inspect.signature(self.splitter.split).parameters else {}
        if groups is not None:
            kwargs["groups"] = groups
        yield next(iter(self.splitter.split(X, y, **kwargs)))

    def __repr__(self):
        return f"first split of {self.splitter!r}"


def _least_noise_transition_matrix(T_estimator):
    """The anchor ``T`` of each class's single most confident row, or None.

    Read from the out-of-fold noisy-label probabilities the shared ``T`` was
    estimated from (no extra fit). Without the outlier filter
    (``quantile=None``), the stage-1 networks' most extreme row of each
    class says the least noise they allow; the noise-corrected accuracy
    grows with the noise ``T`` assumes, so through this ``T`` it is the low
    end of what the noise model can say, as the filtered anchor estimate
    (which sees more noise than there is when classes overlap, its anchor
    rows not being pure) is usually the high end. None when there are no
    such probabilities or that ``T`` is ill-conditioned.
    """
    oof = getattr(T_estimator, "oof_proba_", None)
    if oof is None:
        return None
    T_low = estimate_anchor(oof, quantile=None)
    if not np.all(np.isfinite(T_low)) or np.linalg.cond(T_low) > MAX_CONDITION:
        return None
    return T_low


def _is_estimated(spec):
    """Whether a ``transition_matrix`` parameter asks for T to be estimated (None, a name or an estimator)."""
    return spec is None or isinstance(spec, str) or hasattr(spec, "fit")


def _check_transition_spec(spec):
    """Refuse, before any fit, a T spec that each fold would refuse (a class, an unknown method name)."""
    if isinstance(spec, type):
        raise TypeError(
            f"transition_matrix must be an estimator instance, a method name or an array, got the class "
            f"{spec.__name__}; pass {spec.__name__}(...) instead."
        )
    if isinstance(spec, str):
        lookup_method(spec, param="transition_matrix")


class _MethodCandidate(ClassifierMixin, BaseEstimator):
    """One point of the search grid: a method name and everything shared by every method.

    ``GridSearchCV`` varies ``method``; ``cv_results_['param_method']`` then
    reads as the method names.
    """

    # the trusted mask is routed to every candidate's fit
    __metadata_request__fit = {"trusted": True}

    def __init__(
        self, method="ce", module=None, net_params=None, transition_matrix=None, random_state=None,
        share_transition_matrix_with_learners=False,
    ):
        self.method = method
        self.module = module
        self.net_params = net_params
        self.transition_matrix = transition_matrix
        self.random_state = random_state
        self.share_transition_matrix_with_learners = share_transition_matrix_with_learners

    def make_estimator(self):
        """The unfitted sknoisy classifier of ``method``."""
        entry = CLASSIFIER_METHODS[self.method]
        params = {**(self.net_params or {}), **entry.params, "random_state": self.random_state}
        if entry.takes_transition_matrix and (
            not entry.learns_transition_matrix or self.share_transition_matrix_with_learners
        ):
            params["transition_matrix"] = self.transition_matrix
        return entry.estimator(self.module, **params)

    def fit(self, X, y, trusted=None):
        self.estimator_ = self.make_estimator().fit(X, y, trusted=trusted)
        return self

    @property
    def classes_(self):
        return self.estimator_.classes_

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)


class AutoNoisyClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    __doc__ = f"""Choose the noisy-label method for the data by honest cross-validation, and refit it.

    ``fit(X, y, trusted=None)`` tries each applicable method of the
    classifier registry (:data:`~sknoisy.CLASSIFIER_METHODS`) with ``GridSearchCV`` (every method trains
    the same ``module`` with the same network parameters and seed), scores
    them on what can be trusted, and refits the best on every row. It then
    predicts like any classifier, and tells what it tried
    (``cv_results_``) and why it chose (:meth:`summary`).

    How the methods are scored:

    * **with trusted rows** (at least {MIN_TRUSTED_PER_CLASS} of every
      class): ``TrustedKFold(cv)`` folds, whose test folds hold trusted rows
      only, and ``trusted_scorer('accuracy')``: the accuracy on clean
      labels the method never trained on. GLC and MLC are tried too. A
      method that uses an estimated ``T`` estimates it inside each fold, on
      that fold's training rows, so no test fold's clean labels reach it;
    * **without** (or too few): stratified folds of the noisy rows scored by
      the accuracy on their held-out noisy labels. Under symmetric or
      uniform noise its expectation is an increasing affine function of the
      clean accuracy, so it ranks the methods as the clean accuracy would;
      it needs no ``T`` and does not reward memorising the noise of the
      training rows. (Under asymmetric noise it gives some credit to
      predicting a class's usual flip: plain cross-entropy, which learns
      the noisy labels' own argmax, scores best on noisy labels whenever
      the noise moves it.) The highest mean score is chosen, exact ties
      going to the first in ``NOISY_PREFERENCE`` ({" > ".join(NOISY_PREFERENCE)})
      (``benchmarks/auto_criterion.py``, 3 data sets, 5 noise kinds, 2 rates,
      the rule chosen on development seeds among the highest mean, a margin
      of 0.5-3 points for the methods earlier in that order and two
      standard-error rules; ``NOISY_MARGIN`` holds the margin, 0). On the
      report seeds the chosen method's clean test accuracy was 86.3% on the
      mean against 83.6% for the same search without ``'instance_forward'``
      and ``'dividemix'`` (with the 1-point margin that rule used), and the
      runs more than 3 points behind the best method in hindsight went from
      39 to 5 of 90; under annotator-like noise neither does well (74.95%
      against 75.41%: the noisy labels there are a consistent other
      labelling, which the noisy score rewards). ``T`` is estimated once, before the
      search, on every row (with ``transition_matrix``), when a method
      needs it: ``'forward'`` and ``'backward'`` train with that ``T``. Two
      diagnostics through that ``T`` ride along in ``cv_results_``, without
      choosing: ``mean_test_clean_accuracy_estimate``, the noise-corrected
      accuracy ``mean(pinv(T)[y_noisy, y_pred])`` (an unbiased estimate of
      the clean accuracy when ``T`` is right; left out when ``T``'s
      condition number exceeds {MAX_CONDITION:g}),
      ``mean_test_clean_accuracy_low``, the same accuracy through the anchor
      ``T`` of each class's single most confident row (the least noise the
      stage-1 networks allow, so usually the low end of what the noise model
      can say; ``T`` estimated with an outlier filter, as by default, sees
      more noise than there is when classes overlap and gives the high
      end), and ``mean_test_forward_log_loss``, the negated
      forward-corrected log-loss.
      Criteria through an estimated ``T`` favour the forward method, trained
      with that same ``T``, and chose worse in ``benchmarks/auto.py``.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network every method trains (returns logits); ``n_features`` and
        ``n_classes`` are injected, as for every sknoisy classifier.
    methods : 'auto' or list of str, default='auto'
        The methods to try, by name:

{methods_doc("        ")}

        ``'auto'`` tries the methods marked for it that the data allow
        (those that need trusted rows only with enough trusted rows, and
        ``'instance_forward'``, whose cost grows with the square of the
        number of classes, up to 20 classes). A named method is tried on any
        number of classes; one that needs trusted rows the data lack is an
        error.
    transition_matrix : None, str, estimator or array-like of shape (n_classes, n_classes), default=None
        Where the shared ``T`` comes from (used by ``'backward'``, by the
        diagnostics without trusted rows and, when not None, by
        ``'forward'``; with None, ``'forward'`` learns its own T with the
        network, ``ForwardCorrectedClassifier``'s default ``'volmin'``): None or a
        method name of :class:`~sknoisy.TransitionMatrixEstimator` (None
        is its default method, ``DEFAULT_TRANSITION_METHOD``), an unfitted estimator (its
        ``estimator``, when None, is this network trained with plain
        cross-entropy, as in Patrini's recipe), or a known ``T`` in the
        order of ``classes_``.
    cv : int or cross-validation splitter, default=3
        Folds of the search. An int gives ``TrustedKFold(cv, shuffle=True)``
        with trusted rows and a shuffled ``StratifiedKFold(cv)`` without,
        both seeded by ``random_state``. A splitter is used as given (with
        trusted rows and the default scoring its test folds must hold
        trusted rows, as ``TrustedKFold``'s do).
    selection : {'auto', 'cv', 'holdout'}, default='auto'
        How the methods are compared. ``'cv'``: cross-validation over the
        ``cv`` folds. ``'holdout'``: one split, each method trained once:
        with trusted rows the first fold of ``TrustedKFold(2)`` (half the
        trusted rows are scored; every other row trains), without them the
        first fold of ``StratifiedKFold(cv)`` (a splitter ``cv`` gives its
        first split); about ``cv`` times cheaper, with a wider interval on
        ``trusted_accuracy_`` (fewer rows scored), and without the
        diagnostics through an estimated ``T`` (they would cost 3 more
        fits). ``'auto'``: ``'holdout'`` from {HOLDOUT_MIN_ROWS:,} rows on,
        ``'cv'`` below (``benchmarks/auto_at_scale.py`` measures both).
    scoring : None, str or callable, default=None
        None scores as described above. One scorer name or callable is used
        as given.
    n_jobs : int, default=None
        Fits run in parallel by ``GridSearchCV`` through joblib, so a Dask or
        Ray joblib backend spreads them over a cluster.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the estimate of ``T`` and every network (all
        methods get the same seed). None is not reproducible.
    error_score : 'raise' or float, default=np.nan
        As in ``GridSearchCV``: the score of a fit that fails (with a
        warning), or 'raise'.
    verbose : int, default=0
        ``GridSearchCV``'s progress messages.
    **net_params
        Network parameters every method shares: anything
        :class:`~sknoisy.CrossEntropyClassifier` takes (``max_epochs``,
        ``lr``, ``batch_size``, ``optimizer``, ``device``,
        ``module__hidden_units``, ``optimizer__weight_decay``,
        ``iterator_train__*``, ``callbacks``...), except the ones each method
        sets itself (``criterion``, ``transition_matrix``, ``loss``).

    Attributes
    ----------
    best_method_ : str
        The name of the chosen method.
    best_estimator_ : sknoisy classifier
        The chosen method refitted on every row; ``predict`` uses it.
    best_params_ : dict
        ``{{'method': best_method_}}``.
    best_score_ : float
        The chosen method's mean cross-validated score (without trusted
        rows not always the highest: see ``choice_rule_``).
    choice_rule_ : str
        How the scores chose: the best mean score (without trusted rows,
        exact ties to the preference order, or the preference order within
        a margin of the best when ``NOISY_MARGIN`` is one).
    best_index_ : int
        Its row in ``cv_results_``.
    cv_results_ : dict of arrays
        ``GridSearchCV``'s results, one row per method tried
        (``param_method`` holds the names; ``mean_test_score`` and
        ``rank_test_score`` are the criterion's, plus the diagnostics
        without trusted rows).
    methods_ : list of str
        The methods tried, in order.
    skipped_methods_ : dict
        The methods not tried, with the reason.
    scoring_ : str
        What the scores are (for example "accuracy on trusted rows").
    selection_ : str
        How the methods were compared: ``'cv'`` or ``'holdout'``.
    trusted_selection_ : bool
        Whether the trusted rows were used to score.
    transition_matrix_ : ndarray of shape (n_classes, n_classes) or None
        The noise model: the chosen classifier's ``transition_matrix_`` when
        it has one, otherwise the shared estimate (None when none was
        needed).
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator of the shared ``T``, when it was estimated.
    search_ : sklearn.model_selection.GridSearchCV
        The fitted search itself.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` is a DataFrame with string column names.
    trusted_accuracy_ : sklearn.utils.Bunch or None
        With trusted scoring (and ``scoring=None``): the chosen method's
        out-of-fold accuracy pooled over the trusted rows scored
        (``correct``, ``n_rows``, ``accuracy``) and a Wilson interval
        (``low``, ``high``) at ``confidence = 1 - 0.05 / n_methods``, wide
        enough to hold for every method compared at once, so the choice of
        the best on the same rows does not make it optimistic. None
        otherwise.
    refit_time_ : float
        Seconds spent refitting the chosen method.
    fit_time_ : float
        Seconds spent in ``fit`` (estimate of ``T``, search and refit).

    See Also
    --------
    sknoisy.model_selection.TrustedKFold, sknoisy.model_selection.trusted_scorer,
    sknoisy.model_selection.forward_corrected_log_loss_scorer

    Notes
    -----
    Without trusted rows the shared ``T`` is estimated on every row before
    the search, so the held-out rows of a fold took part in it (through
    their noisy labels only, which are also what they are scored on): ``T``
    has ``n_classes ** 2`` entries against thousands of rows, and estimating
    it per fold would multiply the stage-1 fits by ``cv``. With trusted
    rows it is estimated per fold (gold and confusion estimates read the
    trusted rows' clean labels, which the test folds are scored on).

    ``X`` must be an array or a DataFrame (``GridSearchCV`` selects rows of
    it); for data larger than memory fit the chosen classifier directly.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import AutoNoisyClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     600, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> trusted = np.arange(600) < 120
    >>> y = np.where(trusted, y_clean, y_noisy)   # trusted rows carry clean labels
    >>> auto = AutoNoisyClassifier(MLP, methods=["ce", "glc"], cv=2, max_epochs=5,
    ...                            random_state=0).fit(X, y, trusted=trusted)
    >>> auto.methods_, auto.scoring_
    (['ce', 'glc'], 'accuracy on trusted rows')
    >>> auto.best_method_ in auto.methods_
    True
    >>> auto.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "module": [callable],
        "methods": [str, list, tuple],
        **_transition_matrix_constraints(),
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), HasMethods(["split", "get_n_splits"])],
        "selection": [StrOptions({"auto", "cv", "holdout"})],
        "scoring": [str, callable, None],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
        "random_state": ["random_state"],
        "error_score": [StrOptions({"raise"}), numbers.Real],
        "verbose": ["verbose"],
    }

    #: What to do, added to scikit-learn's message for these parameters.
    _parameter_hints = {
        "methods": "('auto', or the names of the methods to try, from sknoisy.CLASSIFIER_METHODS.)",
        "scoring": "AutoNoisyClassifier chooses by one score: give one scorer name or callable.",
    }

    def __init__(
        self,
        module,
        *,
        methods="auto",
        transition_matrix=None,
        cv=3,
        selection="auto",
        scoring=None,
        n_jobs=None,
        random_state=None,
        error_score=np.nan,
        verbose=0,
        **net_params,
    ):
        self.module = module
        self.methods = methods
        self.transition_matrix = transition_matrix
        self.cv = cv
        self.selection = selection
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.error_score = error_score
        self.verbose = verbose
        for name, value in net_params.items():
            setattr(self, name, value)  # checked in fit, as scikit-learn wants

    # ------------------------------------------------------------ parameters
    @classmethod
    def _own_param_names(cls):
        return BaseEstimator._get_param_names.__func__(cls)

    def _net_param_names(self):
        own = set(self._own_param_names())
        return sorted(
            name for name in vars(self) if not name.startswith("_") and not name.endswith("_") and name not in own
        )

    def _get_param_names(self):
        # the network parameters given as **net_params are parameters too
        # (clone and get_params see them), as in skorch
        return sorted({*self._own_param_names(), *self._net_param_names()})

    def set_params(self, **params):
        """Set parameters, network parameters (``max_epochs``, ``module__*``...) included.

        Parameters
        ----------
        **params : dict
            Parameter names and their new values.

        Returns
        -------
        self : AutoNoisyClassifier
        """
        own = set(self._own_param_names())
        for name in [name for name in params if name not in own and _is_net_param(name)]:
            _check_net_param(name)
            setattr(self, name, params.pop(name))
        if params:
            super().set_params(**params)
        return self

    def _net_params(self):
        names = self._net_param_names()
        for name in names:
            _check_net_param(name)
        return {name: getattr(self, name) for name in names}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fit
    def _requested_methods(self):
        if isinstance(self.methods, str) and self.methods == "auto":
            return None
        # the registry is read now (an entry added since import counts); what a list holds is more than a
        # constraint can say
        names = [self.methods] if isinstance(self.methods, str) else list(self.methods)
        valid = list(CLASSIFIER_METHODS)
        must_be = f"'auto', a method name or a non-empty list of method names from {valid}"
        if not names or not all(isinstance(name, str) for name in names):
            raise invalid_parameter(self, "methods", must_be, self.methods)
        unknown = [name for name in names if name not in CLASSIFIER_METHODS]
        if unknown:
            raise invalid_parameter(self, "methods", must_be, self.methods, f"Unknown method(s): {unknown}.")
        if len(set(names)) != len(names):
            raise invalid_parameter(self, "methods", must_be, self.methods, "It lists a method twice.")
        return names

    def _n_splits(self):
        cv = self.cv
        if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
            return int(cv.get_n_splits())
        return int(cv)

    def _trusted_shortfall(self, y_enc, mask, classes):
        """Why the trusted rows cannot score the methods, or None when they can."""
        if not mask.any():
            return "there are no trusted rows"
        counts = np.bincount(y_enc[mask], minlength=len(classes))
        short = np.flatnonzero(counts < MIN_TRUSTED_PER_CLASS)
        if short.size:
            names = classes.tolist()
            listed = ", ".join(f"{names[k]!r} ({counts[k]})" for k in short[:5])
            return (
                f"class(es) {listed}{' ...' if short.size > 5 else ''} have fewer than "
                f"{MIN_TRUSTED_PER_CLASS} trusted rows"
            )
        n_splits = self._n_splits()
        if mask.sum() < n_splits:
            return f"{int(mask.sum())} trusted rows cannot fill cv={n_splits} test folds"
        return None

    def _choose_methods(self, requested, shortfall, n_classes):
        names = list(CLASSIFIER_METHODS) if requested is None else requested
        tried, skipped = [], {}
        for name in names:
            entry = CLASSIFIER_METHODS[name]
            if requested is None and not entry.in_auto:
                skipped[name] = "not tried by methods='auto' (name it to try it)"
            elif requested is None and not entry.tried_by_auto(n_classes):
                skipped[name] = (
                    f"not tried by methods='auto' above {entry.auto_max_classes} classes ({n_classes} here): its "
                    "cost grows with the square of the classes (name it to try it)"
                )
            elif entry.needs_trusted and shortfall is not None:
                if requested is not None:
                    raise ValueError(
                        f"Method {name!r} needs trusted rows (at least {MIN_TRUSTED_PER_CLASS} of every class), "
                        f"but {shortfall}. Pass fit(X, y, trusted=mask) with the rows whose label was checked, "
                        "or leave this method out."
                    )
                skipped[name] = f"needs trusted rows, and {shortfall}"
            else:
                tried.append(name)
        return tried, skipped

    def _estimate_transition_matrix(self, X, y, mask, classes, net_params, seed):
        T, estimator = resolve_transition_matrix(
            self.transition_matrix, X, y, mask, net=CrossEntropyClassifier(self.module, **net_params),
            default_method=DEFAULT_TRANSITION_METHOD, n_classes=len(classes), random_state=seed, n_jobs=self.n_jobs,
        )
        if estimator is None:  # given by the user: refuse one that says nothing
            T = check_informative(T, classes=classes)
        return T, estimator

    @outermost_fit
    def fit(self, X, y, trusted=None):
        """Estimate the shared ``T`` if needed, score every applicable method and refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training inputs (an array or a DataFrame).
        y : array-like of shape (n_samples,)
            Labels: noisy, except on trusted rows where they are clean.
        trusted : array-like of bool of shape (n_samples,), default=None
            Rows whose label was checked. Requested through metadata routing
            (``set_fit_request(trusted=True)``) inside another
            meta-estimator.

        Returns
        -------
        self : AutoNoisyClassifier
        """
        start = time.perf_counter()
        validate_params(self)
        net_params = self._net_params()
        # the shared network parameters are checked as the classifiers would check them
        validate_params(self, net_params, CrossEntropyClassifier._parameter_constraints)
        requested = self._requested_methods()
        n_splits = self._n_splits()
        if is_lazy_dataset(X):
            raise TypeError(
                "AutoNoisyClassifier needs X as an array or a DataFrame (its search selects rows of it); for "
                "data larger than memory, fit the chosen method's classifier on the Dataset directly."
            )
        _check_class_labels(y, who=type(self).__name__)
        X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True)
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"AutoNoisyClassifier needs at least 2 classes; y has 1 class ({classes.tolist()[0]!r}).")
        mask = check_trusted_mask(trusted, y.shape[0])
        shortfall = self._trusted_shortfall(y_enc, mask, classes)
        tried, skipped = self._choose_methods(requested, shortfall, classes.size)
        if mask.any() and shortfall is not None:
            warnings.warn(
                f"{type(self).__name__}: {int(mask.sum())} trusted rows were given, but {shortfall} (at least "
                f"{MIN_TRUSTED_PER_CLASS} of every class are needed): the methods are scored without them, by "
                "their accuracy on held-out noisy labels, and the methods that need trusted rows "
                "are not tried.",
                UserWarning,
                stacklevel=2,
            )
        seed = seed_from(self.random_state)
        selection = resolve_selection(self.selection, X.shape[0])

        # A method that learns its own T (forward's default, 'volmin') gets the shared one only when the user
        # names a T; the shared estimate is still made without trusted rows, for the accuracy estimate through T.
        share_with_learners = self.transition_matrix is not None
        takes_T = [name for name in tried if CLASSIFIER_METHODS[name].takes_transition_matrix]
        shares_T = [
            name for name in takes_T if share_with_learners or not CLASSIFIER_METHODS[name].learns_transition_matrix
        ]
        # without trusted rows and shared with no method, T only feeds diagnostics: not worth cv more fits at scale
        needs_T = bool(shares_T) or (bool(takes_T) and shortfall is not None and selection == "cv")
        # With trusted scoring, an estimated T would see the clean labels of the test folds (gold and confusion
        # read the trusted rows): each candidate estimates it on its own training folds instead.
        in_folds = shortfall is None and _is_estimated(self.transition_matrix)
        T, T_estimator = (None, None)
        if needs_T and in_folds:
            _check_transition_spec(self.transition_matrix)
        elif needs_T:
            T, T_estimator = self._estimate_transition_matrix(X, y, mask, classes, net_params, seed)

        if hasattr(self.cv, "split"):
            cv = self.cv
        elif shortfall is None:
            # a held-out split scores half the trusted rows (a fold of cv would score too few to choose by)
            cv = TrustedKFold(n_splits if selection == "cv" else 2, shuffle=True, random_state=seed)
        else:
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
        if selection == "holdout":
            cv = _FirstSplit(cv)
        by_preference = False
        if self.scoring is not None:
            scoring, refit, self.scoring_ = self.scoring, True, f"scoring={self.scoring!r}"
        elif shortfall is None:
            scoring, refit, self.scoring_ = trusted_scorer("accuracy"), True, "accuracy on trusted rows"
        else:
            scoring = {"score": noisy_accuracy_scorer()}
            if T is not None:
                # diagnostics through the shared T; only "score" chooses
                if np.linalg.cond(T) <= MAX_CONDITION:
                    scoring["clean_accuracy_estimate"] = noise_corrected_accuracy_scorer(T)
                    T_low = _least_noise_transition_matrix(T_estimator)
                    if T_low is not None:
                        scoring["clean_accuracy_low"] = noise_corrected_accuracy_scorer(T_low)
                scoring["forward_log_loss"] = forward_corrected_log_loss_scorer(T)
            try:
                n_scored = sum(len(test) for _, test in cv.split(X, y))
            except (TypeError, ValueError):  # a splitter that needs more than X and y (groups): the plain margin
                n_scored = None
            refit = functools.partial(prefer_within_margin, n_scored=n_scored)
            self.scoring_ = "accuracy on held-out noisy labels"
            by_preference = True

        candidate = _MethodCandidate(
            module=self.module, net_params=net_params, random_state=seed,
            transition_matrix=self.transition_matrix if needs_T and in_folds else T,
            share_transition_matrix_with_learners=share_with_learners,
        )
        search = GridSearchCV(
            candidate,
            {"method": tried},
            scoring=scoring,
            cv=cv,
            n_jobs=self.n_jobs,
            refit=refit,
            error_score=self.error_score,
            verbose=self.verbose,
        )
        # The trusted mask reaches the folds, the scorer and every method's
        # fit through metadata routing, switched on for this search only.
        with config_context(enable_metadata_routing=True):
            if shortfall is None:
                search.fit(X, y, trusted=mask)
            else:
                search.fit(X, y)

        best = search.best_estimator_.estimator_
        self.search_ = search
        self.cv_results_ = search.cv_results_
        self.best_index_ = int(search.best_index_)
        # a refit callable leaves GridSearchCV without best_score_
        self.best_score_ = float(search.cv_results_["mean_test_score"][self.best_index_])
        if by_preference and NOISY_MARGIN == 0:
            self.choice_rule_ = f"the best mean score (exact ties to the first of {' > '.join(NOISY_PREFERENCE)})"
        elif by_preference:
            self.choice_rule_ = (
                f"the first of {' > '.join(NOISY_PREFERENCE)} (then any other, in the order tried) whose mean score "
                f"is within {_points(noisy_margin(_best_score(search.cv_results_), n_scored))} of the best"
                + (f" (at most {_points(NOISY_MARGIN)}; less when the {n_scored} scored rows make a smaller "
                   "difference significant)" if n_scored else "")
            )
        else:
            self.choice_rule_ = "the best mean score"
        self.best_params_ = dict(search.best_params_)
        self.best_method_ = self.best_params_["method"]
        self.best_estimator_ = best
        self.methods_ = tried
        self.skipped_methods_ = skipped
        self.trusted_selection_ = shortfall is None
        self.selection_ = selection
        self._shortfall = shortfall
        self.transition_matrix_estimator_ = (
            getattr(best, "transition_matrix_estimator_", None) if needs_T and in_folds else T_estimator
        )
        own_T = getattr(best, "transition_matrix_", None)
        self.transition_matrix_ = np.asarray(own_T, dtype=np.float64) if own_T is not None else T
        self.classes_ = best.classes_
        self.trusted_accuracy_ = (
            self._pooled_trusted_accuracy(search, cv, X, y, mask)
            if shortfall is None and self.scoring is None else None
        )
        self.refit_time_ = float(search.refit_time_)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _pooled_trusted_accuracy(self, search, cv, X, y, mask):
        """The chosen method's out-of-fold accuracy pooled over every trusted test row, with its interval.

        Each trusted row is scored once, by a network that did not train on
        it, so the correct count is binomial in the number of trusted rows
        scored. The method was chosen as the best of several on these same
        rows, which makes its score optimistic: the interval is a Wilson
        interval at confidence ``1 - 0.05 / n_methods`` (Bonferroni), so
        that the intervals of all the methods compared hold together with
        probability 0.95, the chosen one's included.
        """
        takes_mask = "trusted" in inspect.signature(cv.split).parameters
        folds = cv.split(X, y, trusted=mask) if takes_mask else cv.split(X, y)
        sizes = [int(mask[test].sum()) for _, test in folds]
        scores = [search.cv_results_[f"split{k}_test_score"][self.best_index_] for k in range(len(sizes))]
        if not np.all(np.isfinite(scores)):
            return None
        correct = int(round(sum(score * size for score, size in zip(scores, sizes))))
        n_rows = int(sum(sizes))
        confidence = 1 - 0.05 / len(self.methods_)
        low, high = wilson_interval(correct, n_rows, confidence)
        return Bunch(
            correct=correct, n_rows=n_rows, accuracy=correct / n_rows, low=low, high=high, confidence=confidence,
            n_methods=len(self.methods_),
        )

    # -------------------------------------------------------------- predict
    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float32, allow_nd=True, reset=False)

    def predict(self, X):
        """Predicted class labels, by the chosen method.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """Clean-class probabilities p(y | x) of the chosen method, in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validated(X)
        return self.best_estimator_.predict_proba(X)

    def label_issues(self, X, y, *, trusted=None, transition_matrix=None):
        """How likely each given label of ``X`` is wrong, by the chosen method's model.

        The chosen classifier's own ``label_issues``
        (:meth:`sknoisy.label_issues.LabelIssuesMixin.label_issues`): its
        probabilities with its ``transition_matrix_``, or without a noise
        model ``1 - p(given label | x)`` when the chosen method has none
        (``'ce'``, ``'nce+rce'``; the shared estimate of ``T`` is not
        applied to them, as their probabilities were not trained through
        it). In-sample for the training rows, where memorised labels look
        right: score those with
        :func:`sknoisy.label_issues.out_of_fold_label_issues`. When the
        shared ``T`` was estimated, ``transition_matrix_estimator_.oof_proba_``
        (when not None) already holds out-of-fold noisy-label probabilities
        of the training rows, from plain cross-entropy networks:
        :func:`sknoisy.label_issues.label_issue_scores_from_noisy` scores
        them with ``transition_matrix_estimator_.transition_matrix_`` at no
        extra training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
        y : array-like of shape (n_samples,)
            The given labels of the rows of ``X``.
        trusted : array-like of bool of shape (n_samples,), default=None
            Rows whose label is known to be correct: they score 0.
        transition_matrix : array-like of shape (n_classes, n_classes), default=None
            A known ``T`` used instead of the chosen model's.

        Returns
        -------
        result : sklearn.utils.Bunch
            As returned by
            :meth:`sknoisy.label_issues.LabelIssuesMixin.label_issues`.
        """
        X = self._validated(X)
        return self.best_estimator_.label_issues(X, y, trusted=trusted, transition_matrix=transition_matrix)

    # -------------------------------------------------------------- report
    def summary(self):
        """What was tried, how it scored and why the winner was chosen, as text.

        Returns
        -------
        text : str
            A few lines: the choice and the criterion, one line per method
            tried (mean and standard deviation of the score over the folds,
            mean fit time, rank), and the methods not tried with the reason.
        """
        check_is_fitted(self)
        results = self.cv_results_
        n_folds = sum(1 for key in results if key.startswith("split") and key.endswith("_test_score"))
        where = "trusted" if self.trusted_selection_ else "noisy"
        over = (
            f"on one held-out split of {where} rows (selection='holdout')" if self.selection_ == "holdout"
            else f"over {n_folds} folds whose test rows are {where} rows"
        )
        lines = [
            f"{type(self).__name__} chose {self.best_method_!r}: mean {self.scoring_} {self.best_score_:.4f} "
            f"{over}; rule: {self.choice_rule_}.",
        ]
        if not self.trusted_selection_:
            lines.append(f"No trusted scoring: {self._shortfall}.")
        extras = [
            key for key in ("clean_accuracy_estimate", "clean_accuracy_low", "forward_log_loss")
            if f"mean_test_{key}" in results
        ]
        header = f"{'method':<10}{'score':>10}{'std':>9}" + "".join(f"{key:>25}" for key in extras)
        lines.append(header + f"{'fit (s)':>10}{'rank':>6}")
        order = np.argsort(results["rank_test_score"], kind="stable")
        for i in order:
            score = results["mean_test_score"][i]
            shown = "failed" if not np.isfinite(score) else f"{score:.4f}"
            lines.append(
                f"{results['param_method'][i]:<10}{shown:>10}{results['std_test_score'][i]:>9.4f}"
                + "".join(f"{results[f'mean_test_{key}'][i]:>25.4f}" for key in extras)
                + f"{results['mean_fit_time'][i]:>10.1f}{results['rank_test_score'][i]:>6}"
            )
        if extras:
            lines.append(
                "(Diagnostics through the estimated T, which do not choose: clean_accuracy_estimate, the "
                "noise-corrected accuracy mean(pinv(T)[y_noisy, y_pred]); clean_accuracy_low, the same through "
                "the anchor T of each class's most confident row (the least noise); forward_log_loss, the negated "
                "forward-corrected log-loss.)"
            )
        for name, reason in self.skipped_methods_.items():
            lines.append(f"not tried: {name!r}, {reason}.")
        return "\n".join(lines)
