"""Loss correction with a noise transition matrix T (Patrini et al., CVPR 2017).

``ForwardCorrectedClassifier`` and ``BackwardCorrectedClassifier`` train a
skorch network with the forward- or backward-corrected cross-entropy. T is
given, or estimated with Patrini's recipe: a plain cross-entropy stage,
T-hat from its out-of-fold probabilities, then a fresh network trained with
the corrected loss.

:class:`_TransitionMatrixMixin` is the T lifecycle every T-using classifier
shares: the ``transition_matrix`` parameter is resolved into
``transition_matrix_`` at each ``fit``, the criterion (a
:class:`~sknoisy.losses.TransitionMatrixLoss`) is built with it, and a
criterion that outlives a fit (``warm_start``) is given every new T.
"""

import numpy as np
from sklearn.base import clone
from skorch.utils import to_device

from .base import CrossEntropyClassifier
from .losses import BackwardCorrectedCrossEntropy, ForwardCorrectedCrossEntropy, check_invertible
from .transition import TRANSITION_METHODS, TransitionMatrixEstimator
from .utils._random import seed_from as _seed_from

__all__ = ["ForwardCorrectedClassifier", "BackwardCorrectedClassifier"]


def _transition_method_names():
    """The method names of :data:`~sknoisy.transition.TRANSITION_METHODS`, for docstrings."""
    without = ", ".join(repr(m.name) for m in TRANSITION_METHODS.values() if not m.needs_trusted)
    with_trusted = ", ".join(repr(m.name) for m in TRANSITION_METHODS.values() if m.needs_trusted)
    return f"{without}; with trusted rows, {with_trusted}"


class _TransitionMatrixMixin:
    """Resolve the ``transition_matrix`` parameter into ``transition_matrix_`` and keep the criterion on it.

    The parameter may be an array, a method name of
    :class:`~sknoisy.TransitionMatrixEstimator`, an (unfitted) estimator, or
    None for ``_default_transition_method``. An estimator whose own
    ``estimator`` is None gets this classifier's network trained with plain
    cross-entropy, which is Patrini's recipe.

    The criterion is built with ``transition_matrix=T`` and any
    ``criterion__*`` parameter. When ``fit`` resolves a new T for a net that
    stays initialised (``warm_start``), the criterion's
    ``set_transition_matrix`` (every
    :class:`~sknoisy.losses.TransitionMatrixLoss` has one) is given it; a
    criterion without one is rebuilt.
    """

    _default_transition_method = "anchor"
    _correction_params = ("transition_matrix",)
    # every T criterion reads its reduction, so the base's weighted reduction applies
    _supports_sample_weight = True

    def _resolve_transition_matrix(self, X, y_enc, mask):
        spec = self.transition_matrix
        if spec is None:
            spec = self._default_transition_method
        if isinstance(spec, str):
            estimator = TransitionMatrixEstimator(method=spec)
        elif hasattr(spec, "fit") and hasattr(spec, "get_params"):
            estimator = clone(spec)
        else:
            self.transition_matrix_estimator_ = None
            return self._check_transition_matrix(spec)
        seed = _seed_from(self.random_state)
        if estimator.get_params().get("estimator") is None:
            estimator.set_params(estimator=self._make_plain_net(random_state=seed))
        if "random_state" in estimator.get_params() and estimator.get_params()["random_state"] is None:
            estimator.set_params(random_state=seed)
        if "refit" in estimator.get_params():
            # only transition_matrix_ is read: skip the fits that serve transform
            estimator.set_params(refit=False)
        estimator.fit(X, y_enc, trusted=mask)
        self.transition_matrix_estimator_ = estimator
        return self._check_transition_matrix(estimator.transition_matrix_)

    def _criterion_transition_matrix(self):
        """The T handed to the criterion: fitted, or given as an array."""
        T = getattr(self, "transition_matrix_", None)
        if T is not None:
            return T
        spec = self.transition_matrix
        if spec is not None and not isinstance(spec, str) and not hasattr(spec, "fit"):
            return np.asarray(spec, dtype=np.float64)
        raise ValueError(
            f"{type(self).__name__} estimates its transition matrix in fit; call fit before "
            "initialize(), or pass transition_matrix as an array."
        )

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        kwargs["transition_matrix"] = self._criterion_transition_matrix()
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _check_trusted_rows(self, y_enc, mask, *, purpose, where=None):
        """Refuse data without trusted rows of at least 2 classes (for methods that learn from them).

        ``purpose`` says what they are for ("estimate the transition
        matrix"); ``where`` names the part of the data checked, when it is
        not all of the training data.
        """
        name = type(self).__name__
        if not mask.any():
            raise ValueError(
                f"{name} needs trusted rows: pass fit(X, y, trusted=mask) with a boolean mask marking the "
                f"rows whose label is known to be correct, to {purpose} (inside GridSearchCV or a Pipeline, "
                "enable metadata routing and call set_fit_request(trusted=True))"
                + (f"; {where} has none." if where else ".")
            )
        classes = np.unique(y_enc[mask])
        if classes.size < 2:
            rows = f"all {int(mask.sum())} trusted rows" + (f" of {where}" if where else "")
            raise ValueError(
                f"{name} needs trusted rows of at least 2 classes to {purpose}, but {rows} have the "
                f"label {self.classes_[classes[0]].tolist()!r}."
            )

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        # sample_weight weights stage 2's loss (the base reduces the criterion's
        # per-row losses with it); T is estimated from unweighted rows.
        self.transition_matrix_ = self._resolve_transition_matrix(X, y_enc, mask)
        if getattr(self, "initialized_", False):
            # A net that stays initialised (warm_start, or partial_fit after
            # initialize()) keeps its criterion: give it the new T. (When fit
            # re-initialises, the criterion is rebuilt with it anyway.)
            if hasattr(self.criterion_, "set_transition_matrix"):
                self.criterion_.set_transition_matrix(self.transition_matrix_)
            else:
                self.initialize_criterion()
                self.criterion_ = to_device(self.criterion_, self.device)


_T_PARAM_DOC = f"""transition_matrix : array-like of shape (n_classes, n_classes), str, estimator or None, default=None
        The noise transition matrix, ``T[i, j] = p(noisy=j | clean=i)``, rows
        and columns in the order of ``classes_``. An array is used as given.
        A string names a method of :class:`~sknoisy.TransitionMatrixEstimator`:
        {_transition_method_names()}.
        An estimator is cloned and fitted; None means 'anchor'. When
        estimated and the estimator's own ``estimator`` is None, the
        out-of-fold probabilities come from this network trained with plain
        cross-entropy (Patrini's recipe), and T is estimated before a fresh
        network is trained with the corrected loss. Every ``fit`` resolves T
        again and hands it to the criterion, with ``warm_start`` too."""

_SHARED_PARAMS_DOC = """**kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The T used for training.
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator when T was estimated (fitted with
        ``refit=False``: it holds ``transition_matrix_`` and ``oof_proba_``).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`."""


class ForwardCorrectedClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with the forward-corrected cross-entropy.

    The loss of a sample with noisy label ``y~`` is
    ``-log((softmax(f(x)) @ T)[y~])``: the network models the clean
    posterior, T maps it to the noisy one. ``predict_proba`` returns the
    clean probabilities softmax(f(x)).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    {_T_PARAM_DOC}
    criterion : class, default=ForwardCorrectedCrossEntropy
        Built with ``transition_matrix=T`` and any ``criterion__*`` parameter.
    {_SHARED_PARAMS_DOC}

    Examples
    --------
    >>> from sknoisy import ForwardCorrectedClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=5,
    ...                                  random_state=0).fit(X, y_noisy)
    >>> clf.transition_matrix_.shape
    (3, 3)
    """

    def __init__(self, module, *args, transition_matrix=None, criterion=ForwardCorrectedCrossEntropy, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix


class BackwardCorrectedClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with the backward-corrected cross-entropy.

    The loss of a sample with noisy label ``y~`` is ``(T^-1 l(p))[y~]`` with
    ``l(p)_k = -log p_k``: unbiased for the clean loss, but unbounded below
    and only defined for an invertible T. A singular T (or one whose
    condition number exceeds ``criterion__max_condition``) is refused with a
    clear error before any network is built; an ill-conditioned one gives a
    warning (see :func:`~sknoisy.losses.check_invertible`). Forward
    correction is usually the better choice (Patrini et al.).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    {_T_PARAM_DOC}
    criterion : class, default=BackwardCorrectedCrossEntropy
        Built with ``transition_matrix=T`` and any ``criterion__*`` parameter
        (``criterion__max_condition``, ``criterion__warn_condition``).
    {_SHARED_PARAMS_DOC}

    Examples
    --------
    >>> from sknoisy import BackwardCorrectedClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="symmetric", rate=0.2, random_state=0)
    >>> clf = BackwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=5,
    ...                                   random_state=0).fit(X, y_noisy)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, module, *args, transition_matrix=None, criterion=BackwardCorrectedCrossEntropy, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix

    def _resolve_transition_matrix(self, X, y_enc, mask):
        T = super()._resolve_transition_matrix(X, y_enc, mask)
        criterion = self.criterion if isinstance(self.criterion, type) else type(self.criterion)
        if issubclass(criterion, BackwardCorrectedCrossEntropy):
            # Refuse a T the loss cannot use before any network is built; the
            # criterion itself warns about a merely ill-conditioned one.
            params = self.get_params_for("criterion")
            limit = {"max_condition": params["max_condition"]} if "max_condition" in params else {}
            check_invertible(T, warn_condition=None, **limit)
        return T
