"""TransitionMatrixEstimator: a scikit-learn transformer that estimates ``T`` and denoises probabilities."""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit, check_cv
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..utils._param_validation import Interval, StrOptions, validate_params
from ..utils._fitting import outermost_fit
from ..utils._random import seed_from
from ..utils._rows import n_rows, take_rows
from ..utils._validation import (
    check_column_names,
    check_label_values,
    check_transition_matrix,
    check_trusted_mask,
    is_lazy_dataset,
)
from ._checks import check_informative
from ._estimates import denoise_proba, estimate_anchor, fit_temperature, scale_temperature
from ._registry import DEFAULT_TRANSITION_METHOD, TRANSITION_METHODS, lookup_method, methods_doc

__all__ = ["TransitionMatrixEstimator"]

#: The values of ``TransitionMatrixEstimator(calibration=...)``.
CALIBRATIONS = (None, "temperature")
# Share of each training fold held out to fit the fold's temperature.
_CALIBRATION_FRACTION = 0.2


def _predict_proba_full(estimator, X, n_classes):
    """``predict_proba`` with one column per encoded class ``0..n_classes-1``.

    A model fitted on rows that miss a class has fewer columns; they are
    placed by its ``classes_`` and the missing ones are zero. A skorch net
    whose module always outputs ``n_classes`` units is taken as is.
    """
    proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] != n_rows(X):
        raise ValueError(
            f"estimator.predict_proba returned an array of shape {proba.shape}; "
            f"expected ({n_rows(X)}, n_classes)."
        )
    classes = getattr(estimator, "classes_", None)
    if classes is not None and len(classes) == proba.shape[1]:
        classes = np.asarray(classes).astype(np.int64)
        if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
            return proba
        full = np.zeros((proba.shape[0], n_classes))
        full[:, classes] = proba
        return full
    if proba.shape[1] == n_classes:
        return proba
    raise ValueError(
        f"estimator.predict_proba returned {proba.shape[1]} columns but there are {n_classes} classes "
        "and the estimator has no matching classes_ attribute."
    )


def _is_memory_mapped(X):
    """Whether X is a ``numpy.memmap`` or a view of one (``validate_data`` returns such views)."""
    while isinstance(X, np.ndarray):
        if isinstance(X, np.memmap):
            return True
        X = X.base
    return False


def _takes_datasets(estimator):
    """Whether ``estimator`` fits and predicts on a torch Dataset of inputs (with the labels as ``y``).

    sknoisy's nets say so with the class attribute ``_accepts_lazy_inputs``;
    they read such a Dataset batch by batch. Plain scikit-learn estimators
    (and plain skorch nets, whose Datasets must yield pairs) need arrays.
    """
    return bool(getattr(estimator, "_accepts_lazy_inputs", False))


def _rows(X, idx, views):
    """Rows ``idx`` of X for the fold estimator.

    A memory-mapped array becomes a ``Subset`` view when the estimator takes
    Datasets (``views``), so a fold of data larger than memory is read batch
    by batch instead of copied; anything else goes to :func:`take_rows`
    (a torch Dataset gives a view, an array is indexed).
    """
    if views and _is_memory_mapped(X):
        from torch.utils.data import Subset

        return Subset(X, np.asarray(idx))
    return take_rows(X, idx)


def _check_class_labels(y, who="TransitionMatrixEstimator"):
    """Refuse labels that are not class labels, saying what is wrong with them.

    Missing labels (None, NaN) and labels mixing strings and numbers (which
    cannot be sorted into classes) are refused by the shared
    :func:`~sknoisy.utils._validation.check_label_values`; a continuous
    target and an ID-like target (every value once) get their own message
    here, instead of the splitter's error about a number of folds the user
    never chose. ``who`` names the estimator in the messages.
    """
    check_label_values(y)
    y = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if y.ndim != 1:  # the shape is validate_data's to refuse
        return
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("y contains NaN; every row needs a class label. Drop those rows or give them a label.")
    if y.dtype.kind in "fc" and type_of_target(y) == "continuous":
        shown = ", ".join(f"{value:g}" for value in y[y != np.round(y)][:3].tolist())
        raise ValueError(
            f"y looks continuous (non-integer values such as {shown}): {who} needs class "
            "labels. For a regression target this is the wrong tool; to use binned values as classes, bin "
            "them first (e.g. numpy.digitize)."
        )
    n_samples = y.shape[0]
    if n_samples > 2 and np.unique(y).size == n_samples:
        raise ValueError(
            f"y has {n_samples} distinct values in {n_samples} rows, so every class has a single row: it looks "
            f"like an ID or a continuous target, not class labels. {who} needs at least 2 rows "
            "per class."
        )


def _check_fold_classes(train, y, classes, cv):
    """Refuse a cv training fold that holds fewer than 2 classes, naming the classes with too few rows."""
    present = np.unique(y[train])
    if present.size >= 2:
        return
    classes = np.asarray(classes).tolist()
    counts = np.bincount(y, minlength=len(classes))
    small = np.flatnonzero(counts < 2)
    rare = ", ".join(f"{classes[k]!r} ({counts[k]} row{'s' if counts[k] != 1 else ''})" for k in small[:5])
    raise ValueError(
        f"A cv={cv!r} training fold holds rows of the single class {classes[present[0]]!r}, so the estimator "
        "cannot learn probabilities there"
        + (f": class(es) {rare} have too few rows" if small.size else "")
        + ". Every class needs at least 2 rows (and at least as many as the number of folds for "
        "stratified folds); add rows, merge rare classes or use fewer folds."
    )


def _calibration_split(train, y, random_state):
    """``train`` cut into (rows to fit on, rows to fit the temperature on), stratified when it can be."""
    for splitter in (StratifiedShuffleSplit, ShuffleSplit):
        try:
            fit, held = next(
                splitter(1, test_size=_CALIBRATION_FRACTION, random_state=random_state).split(train, y[train])
            )
        except ValueError:  # a class with a single row in this fold cannot be stratified
            continue
        if np.unique(y[train[fit]]).size >= 2:
            return train[fit], train[held]
    return train, None


def _fit_predict_fold(estimator, X, y, train, test, n_classes, views, calibrate=False, random_state=None):
    """Probabilities of the ``test`` rows, and the fold's temperature (None without calibration).

    With ``calibrate`` a share of the training rows (drawn with
    ``random_state``) is held out: the model is fitted on the rest and its
    temperature on the held-out rows, never on the rows it predicts.
    """
    estimator = clone(estimator)
    held = None
    if calibrate:
        train, held = _calibration_split(train, y, random_state)
    estimator.fit(_rows(X, train, views), y[train])
    proba = _predict_proba_full(estimator, _rows(X, test, views), n_classes)
    if held is None:
        return test, proba, 1.0 if calibrate else None
    temperature = fit_temperature(_predict_proba_full(estimator, _rows(X, held, views), n_classes), y[held])
    return test, scale_temperature(proba, temperature), temperature


class TransitionMatrixEstimator(TransformerMixin, BaseEstimator):
    __doc__ = f"""Estimate the noise transition matrix and denoise class probabilities.

    ``fit`` trains ``estimator`` on the noisy labels, computes out-of-fold
    probabilities ``p(noisy | x)`` with ``cv`` folds and estimates
    ``T[i, j] = p(noisy = j | clean = i)`` with ``method``. ``transform``
    returns the denoised clean-class probabilities of new samples, so the
    estimator stacks in a Pipeline like any transformer.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        Any scikit-learn classifier (skorch nets included). It is cloned and
        trained on the *encoded* labels ``0..n_classes-1``. ``None`` uses
        ``MLPClassifier(hidden_layer_sizes=(64,), max_iter=200,
        early_stopping=False)`` seeded from ``random_state``.
    method : {{{", ".join(repr(name) for name in TRANSITION_METHODS)}}}, default={DEFAULT_TRANSITION_METHOD!r}
        The estimate of ``T``, from :data:`~sknoisy.transition.TRANSITION_METHODS`:

{methods_doc(" " * 8)}

        The default (:data:`~sknoisy.transition.DEFAULT_TRANSITION_METHOD`)
        is the most accurate estimate without trusted rows measured by
        ``benchmarks/t_estimation.py`` (see Notes).

        A method without trusted rows reads the out-of-fold probabilities of
        every row, with ``y`` as the noisy labels (trusted rows, if any,
        enter with their label as given). A method that needs trusted rows
        (``y`` is then their clean label) trains the estimator on the
        untrusted rows only and reads its probabilities on the trusted rows
        (GLC's recipe). A class without trusted rows then gets the anchor
        row of :func:`estimate_anchor` (with ``quantile``) computed from
        that estimator's probabilities on the untrusted rows, with a
        ``UserWarning`` naming the classes: an estimate from the same noisy
        data rather than an identity row that assumes no noise.
    quantile : float in (0, 1] or None, default=0.97
        Outlier filter of every anchor search (the 'anchor' and 'dual_t'
        estimates, and the anchor rows of classes without trusted rows), see
        :func:`estimate_anchor`; ``None`` takes the maximum.
    calibration : {{None, 'temperature'}}, default=None
        Calibration of the out-of-fold probabilities the methods without
        trusted rows read ``T`` from. ``'temperature'``: each fold's model
        is trained on 80% of its training rows and temperature-scaled
        (Guo et al. 2017: the one temperature that minimises the log-loss of
        the noisy labels) on the other 20%, never on the rows it predicts;
        ``temperatures_`` keeps the fitted temperatures. It
        changes ``oof_proba_`` and ``transition_matrix_`` only (``transform``
        uses ``estimator_`` as fitted), and the methods with trusted rows,
        which read a single model's probabilities of the trusted rows, refuse
        it. Not the default: it did not lower the T error on average (see
        Notes).
    cv : int or cross-validation splitter, default=3
        Folds for the out-of-fold probabilities. An int gives a shuffled
        ``StratifiedKFold`` seeded by ``random_state``. When a class has
        fewer members than ``cv`` (int), the number of folds is lowered to
        the smallest class count (at least 2) with a ``UserWarning``; a
        class with a single member then gets its out-of-fold probability from
        a model that never saw it. A splitter must put every row in exactly
        one test fold.
    refit : bool, default=True
        Keep a fitted ``estimator_`` for ``transform``. With False only
        ``T`` is estimated: the methods without trusted rows skip the final
        fit on all rows, those with trusted rows skip the ``cv``
        out-of-fold fits (``oof_proba_`` is then None), no ``estimator_``
        is kept and ``transform`` is unavailable. The classifiers that nest
        this estimator set it to False: they only read
        ``transition_matrix_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the default estimator. The global RNG is never
        touched.
    n_jobs : int, default=None
        Folds fitted in parallel with joblib.

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The estimated ``T``, rows in the order of ``classes_``.
    classes_ : ndarray of shape (n_classes,)
        The class labels as given in ``y``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen in ``fit``, when ``X`` has string column
        names.
    estimator_ : classifier
        The estimator fitted on all rows (methods without trusted rows) or on
        the untrusted rows (methods with), with encoded labels; used by
        ``transform``. Absent with ``refit=False``.
    oof_proba_ : ndarray of shape (n_samples, n_classes) or None
        The noisy-label probabilities ``p(noisy | x)`` of the training rows
        from models that did not see them: out-of-fold over the fitting rows,
        and for the methods with trusted rows the trusted rows are predicted
        by ``estimator_`` (trained on untrusted rows only). Columns follow
        ``classes_``. Handy to compare with other tools (e.g. cleanlab's
        ``pred_probs``) on the very same probabilities. Temperature-scaled
        with ``calibration='temperature'``.
    temperatures_ : ndarray of shape (n_folds,) or None
        The temperature of each fold's model with
        ``calibration='temperature'`` (above 1: the model was
        over-confident on held-out noisy labels; 1 for a fold too small
        to hold rows out of), else None.

    See Also
    --------
    estimate_anchor, estimate_gold, estimate_confusion, estimate_dual_t,
    estimate_confident_joint, denoise_proba

    Notes
    -----
    The default, ``method='confident_joint'`` without calibration, had the
    lowest mean row-L1 error of ``T`` (``benchmarks/t_estimation.py``: the
    four settings of ``benchmarks/patrini.py`` and the six 20-40% settings
    of the MLC protocol, 3 seeds, every estimate from the same out-of-fold
    probabilities of the classifiers' stage-1 net): 0.140 over the ten
    settings, against 0.246 for ``'anchor'`` with ``quantile=0.97`` (the
    default before), 0.434 for the plain anchor (``quantile=None``), 0.461
    for ``'dual_t'`` and 0.140 for cleanlab's confident joint, which it
    reproduces. ``calibration='temperature'`` raised the mean error of
    ``'confident_joint'`` (0.147), anchor-97 (0.263) and ``'dual_t'``
    (0.482) and barely lowered the plain anchor's (0.428): the 20% of rows it
    holds out cost stage 1 more than the calibration gains there. It helps
    when the estimator is grossly over-confident (a sharpened model's anchor
    estimate comes out near the identity without it).

    For the methods with trusted rows the out-of-fold probabilities of the
    untrusted rows cost ``cv`` extra fits that the estimate of ``T`` itself
    does not need; they are computed (with ``refit=True``) so that
    ``oof_proba_`` is honest on every row.

    A memory-mapped ``X`` (``numpy.load(..., mmap_mode='r')``) is never
    copied whole when ``estimator`` is a sknoisy net: its folds are handed
    over as views and read batch by batch. A plain scikit-learn estimator
    needs arrays, so each fold is copied into memory for it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sknoisy.transition import TransitionMatrixEstimator
    >>> X, y = make_classification(n_samples=300, n_classes=3, n_informative=4, random_state=0)
    >>> tme = TransitionMatrixEstimator(LogisticRegression(), random_state=0).fit(X, y)
    >>> tme.transition_matrix_.shape
    (3, 3)
    >>> bool(np.allclose(tme.transition_matrix_.sum(axis=1), 1.0))
    True
    >>> tme.get_feature_names_out().tolist()
    ['proba_0', 'proba_1', 'proba_2']
    >>> tme.transform(X[:4]).shape
    (4, 3)
    """

    def __init__(
        self,
        estimator=None,
        *,
        method=DEFAULT_TRANSITION_METHOD,
        quantile=0.97,
        calibration=None,
        cv=3,
        refit=True,
        random_state=None,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.refit = refit
        self.method = method
        self.quantile = quantile
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "method": [StrOptions(set(TRANSITION_METHODS))],
        "quantile": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "calibration": [StrOptions({name for name in CALIBRATIONS if name is not None}), None],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), HasMethods(["split", "get_n_splits"])],
        "refit": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Interval(numbers.Integral, None, None, closed="neither"), None],
    }

    #: What to do, added to scikit-learn's message for these parameters.
    _parameter_hints = {
        "estimator": "A classifier with decision_function but no predict_proba (LinearSVC, RidgeClassifier) can be "
        "wrapped in sklearn.calibration.CalibratedClassifierCV; for SVC, set probability=True.",
        "n_jobs": "(-1 uses every core.)",
        "quantile": "(0.97 for the 97th percentile.)",
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def _make_estimator(self, seed):
        if self.estimator is None:
            return MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, early_stopping=False, random_state=seed)
        return self.estimator

    def _make_cv(self, y, seed, rows="rows"):
        if isinstance(self.cv, numbers.Integral):
            counts = np.bincount(y)
            present = np.flatnonzero(counts)
            if counts[present].max() < 2:
                raise ValueError(
                    f"Every class has a single row among the {y.shape[0]} {rows} used for the out-of-fold "
                    f"probabilities, so no cv={self.cv} folds can be formed: each class needs at least 2 {rows} "
                    f"(and {self.cv} for {self.cv} stratified folds)."
                )
            smallest = present[np.argmin(counts[present])]
            n_splits = int(self.cv)
            if counts[smallest] < n_splits:
                n_splits = max(2, int(counts[smallest]))
                small = present[counts[present] < self.cv]
                small = small[np.argsort(counts[small], kind="stable")]
                names = self.classes_.tolist()
                listed = ", ".join(f"{names[k]!r} ({counts[k]})" for k in small[:5])
                more = f" and {small.size - 5} more" if small.size > 5 else ""
                warnings.warn(
                    f"Class {names[smallest]!r} has only {counts[smallest]} member(s) among the rows used for the "
                    f"out-of-fold probabilities, fewer than cv={self.cv}; using {n_splits} folds instead. "
                    f"Classes with fewer than {self.cv} rows (count): {listed}{more}.",
                    UserWarning,
                    stacklevel=3,
                )
            return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return check_cv(self.cv, y, classifier=True)

    def _out_of_fold(self, estimator, X, y, splitter, n_classes, views, seed=None):
        """Out-of-fold probabilities of every row, and each fold's temperature (None without calibration)."""
        n_samples = n_rows(X)
        oof = np.zeros((n_samples, n_classes))
        seen = np.zeros(n_samples, dtype=np.int64)
        splits = list(splitter.split(np.zeros((n_samples, 1)), y))
        for train, _ in splits:
            _check_fold_classes(train, y, self.classes_, self.cv)
        calibrate = self.calibration == "temperature"
        jobs = (
            delayed(_fit_predict_fold)(
                estimator, X, y, train, test, n_classes, views, calibrate,
                None if seed is None else np.random.RandomState([seed, k]),
            )
            for k, (train, test) in enumerate(splits)
        )
        temperatures = []
        for test, proba, temperature in Parallel(n_jobs=self.n_jobs)(jobs):
            oof[test] = proba
            np.add.at(seen, test, 1)
            temperatures.append(temperature)
        if np.any(seen != 1):
            raise ValueError(
                "cv must put every sample in exactly one test fold (a partition such as KFold); "
                f"{int(np.sum(seen != 1))} sample(s) were tested {sorted(set(seen[seen != 1].tolist()))} times."
            )
        return oof, None if self.calibration is None else np.asarray(temperatures, dtype=np.float64)

    def _validate_inputs(self, X, y):
        if is_lazy_dataset(X):
            # a Dataset larger than memory: folds are index views, never copies
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            self.n_features_in_ = int(np.shape(X[0])[0]) if np.ndim(X[0]) else 1
            return X, y
        check_column_names(X)
        return validate_data(self, X, y, dtype=[np.float64, np.float32], allow_nd=True)

    def _check_trusted_split(self, mask):
        if not mask.any():
            raise ValueError(
                f"method={self.method!r} needs trusted rows: pass fit(X, y, trusted=mask) with a boolean "
                "mask marking the rows whose label y is clean."
            )
        if mask.all():
            raise ValueError(
                f"method={self.method!r} needs untrusted rows to train the estimator on; every row is "
                "marked trusted."
            )

    @outermost_fit
    def fit(self, X, y, trusted=None):
        """Estimate the transition matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...), or torch Dataset
            Training inputs; float32 is kept as float32 (skorch nets), any
            other numeric type becomes float64. More than two dimensions are
            accepted (images for a skorch CNN). A torch Dataset (of inputs
            only, for sknoisy's nets) is read through index views.
        y : array-like of shape (n_samples,)
            Labels: noisy on untrusted rows, clean on trusted rows.
        trusted : array-like of bool of shape (n_samples,), default=None
            Mask of trusted (clean) rows; required by the methods that need
            trusted rows. Requested through metadata routing with
            ``set_fit_request(trusted=True)``.

        Returns
        -------
        self : TransitionMatrixEstimator
            The fitted estimator.
        """
        validate_params(self)
        method = lookup_method(self.method)
        quantile = None if self.quantile is None else float(self.quantile)
        _check_class_labels(y)
        X, y = self._validate_inputs(X, y)
        check_classification_targets(y)
        encoder = LabelEncoder()
        y_enc = encoder.fit_transform(y).astype(np.int64)
        self.classes_ = encoder.classes_
        n_samples, n_classes = n_rows(X), len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"TransitionMatrixEstimator needs at least 2 classes; got 1 class ({self.classes_.tolist()[0]!r})."
            )
        mask = check_trusted_mask(trusted, n_samples)

        seed = seed_from(self.random_state)
        base = self._make_estimator(seed)
        views = _takes_datasets(base)

        if method.needs_trusted:
            if self.calibration is not None:
                raise ValueError(
                    f"calibration={self.calibration!r} calibrates the out-of-fold probabilities of the methods "
                    f"without trusted rows; method={self.method!r} reads one model's probabilities of the trusted "
                    "rows. Use calibration=None with it."
                )
            self._check_trusted_split(mask)
            fit_rows = np.flatnonzero(~mask)
            X_fit, y_fit = _rows(X, fit_rows, views), y_enc[fit_rows]
            if np.unique(y_fit).size < 2:
                raise ValueError(
                    f"method={self.method!r} trains the estimator on the untrusted rows, but all "
                    f"{fit_rows.size} of them have the label {self.classes_.tolist()[y_fit[0]]!r}; it needs "
                    "untrusted rows of at least 2 classes."
                )
            missing = np.setdiff1d(np.arange(n_classes), y_fit)
            if missing.size:
                warnings.warn(
                    f"Class(es) {self.classes_[missing].tolist()} have no untrusted rows: the estimator never "
                    "sees them as noisy labels, so their noisy-class probabilities are zero.",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            X_fit, y_fit = X, y_enc

        oof_fit = temperatures = None
        if self.refit or not method.needs_trusted:
            splitter = self._make_cv(y_fit, seed, rows="untrusted rows" if method.needs_trusted else "rows")
            oof_fit, temperatures = self._out_of_fold(base, X_fit, y_fit, splitter, n_classes, views, seed)
        fitted = clone(base).fit(X_fit, y_fit) if self.refit or method.needs_trusted else None

        if method.needs_trusted:
            trusted_rows = np.flatnonzero(mask)
            proba_trusted = _predict_proba_full(fitted, _rows(X, trusted_rows, views), n_classes)
            T = self._trusted_estimate(method, proba_trusted, y_enc[trusted_rows], fitted, X_fit, quantile)
            oof = None
            if oof_fit is not None:
                oof = np.zeros((n_samples, n_classes))
                oof[fit_rows] = oof_fit
                oof[trusted_rows] = proba_trusted
        else:
            T = method.estimate(oof_fit, y_enc, quantile)
            oof = oof_fit

        if self.refit:
            self.estimator_ = fitted
        elif hasattr(self, "estimator_"):
            del self.estimator_
        self.oof_proba_ = oof
        self.temperatures_ = temperatures
        # An estimate whose rows all agree says the estimator found nothing
        # that separates the classes; report it, the caller decides.
        self.transition_matrix_ = check_informative(
            T,
            classes=self.classes_,
            uninformative="warn",
            name="The estimated transition_matrix_",
            advice="The estimator's out-of-fold probabilities do not tell the classes apart: check that X "
            "predicts y at all, and that the estimator is trained enough.",
        )
        return self

    def _trusted_estimate(self, method, proba_trusted, y_trusted, fitted, X_untrusted, quantile):
        """``method``'s estimate from the trusted rows, with anchor rows for classes that have none.

        The anchor row is an estimate of that row from the same noisy data;
        the identity row ``estimate_gold`` would put there assumes no noise.
        """
        n_classes = len(self.classes_)
        missing = np.setdiff1d(np.arange(n_classes), y_trusted)
        if missing.size == 0:
            return method.estimate(proba_trusted, y_trusted, quantile)
        with warnings.catch_warnings():
            # the identity rows the estimate warns about are replaced below
            warnings.filterwarnings("ignore", message="No trusted sample", category=UserWarning)
            T = method.estimate(proba_trusted, y_trusted, quantile)
        warnings.warn(
            f"TransitionMatrixEstimator(method={self.method!r}): no trusted row of class(es) "
            f"{self.classes_[missing].tolist()}; their rows of transition_matrix_ are anchor-point estimates "
            f"(quantile={quantile}) from the estimator's probabilities on the untrusted rows instead of "
            f"{self.method!r} estimates. Add trusted rows of every class for a {self.method!r} estimate.",
            UserWarning,
            stacklevel=3,
        )
        proba_untrusted = _predict_proba_full(fitted, X_untrusted, n_classes)
        T[missing] = estimate_anchor(proba_untrusted, quantile=quantile)[missing]
        return check_transition_matrix(T, n_classes)

    def transform(self, X):
        """Denoised clean-class probabilities of ``X``.

        ``p_noisy = estimator_.predict_proba(X)`` is corrected with
        :func:`denoise_proba` (``p_noisy @ pinv(T)``, clipped at zero, rows
        renormalised): a plug-in correction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Inputs.

        Returns
        -------
        proba_clean : ndarray of shape (n_samples, n_classes), dtype float64
            Columns follow ``classes_`` (feature names ``proba_<class>``).
        """
        check_is_fitted(self)
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                "This TransitionMatrixEstimator was fitted with refit=False, so it has no estimator_ "
                "to transform with; fit it with refit=True."
            )
        if not is_lazy_dataset(X):
            check_column_names(X)
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], allow_nd=True)
        proba = _predict_proba_full(self.estimator_, X, len(self.classes_))
        return denoise_proba(proba, self.transition_matrix_)

    def get_feature_names_out(self, input_features=None):
        """Output feature names, ``proba_<class>`` for each class.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``['proba_<class>', ...]`` in the order of ``classes_``.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray([f"proba_{c}" for c in self.classes_], dtype=object)
