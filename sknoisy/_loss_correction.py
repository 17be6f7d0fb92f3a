"""Loss correction with a noise transition matrix T (Patrini et al., CVPR 2017).

``ForwardCorrectedClassifier`` and ``BackwardCorrectedClassifier`` train a
skorch network with the forward- or backward-corrected cross-entropy. T is
given, or estimated with Patrini's recipe: a plain cross-entropy stage,
T-hat from its out-of-fold probabilities, then a fresh network trained with
the corrected loss.
"""

import numpy as np
from sklearn.base import clone

from .base import CrossEntropyClassifier, _seed_from
from .losses import BackwardCorrectedCrossEntropy, ForwardCorrectedCrossEntropy
from .transition import TransitionMatrixEstimator

__all__ = ["ForwardCorrectedClassifier", "BackwardCorrectedClassifier"]


class _TransitionMatrixMixin:
    """Resolve the ``transition_matrix`` parameter into ``transition_matrix_``.

    The parameter may be an array, a method name of
    :class:`~sknoisy.TransitionMatrixEstimator`, an (unfitted) estimator, or
    None for the default method ('anchor'). An estimator whose own
    ``estimator`` is None gets this classifier's network trained with plain
    cross-entropy, which is Patrini's recipe.
    """

    _default_transition_method = "anchor"

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

    def _build_criterion(self):
        kwargs = self.get_params_for("criterion")
        kwargs["transition_matrix"] = self._criterion_transition_matrix()
        criterion = self.criterion
        if not isinstance(criterion, type) and hasattr(criterion, "forward"):
            criterion = type(criterion)
        return criterion(**kwargs)

    def initialize_criterion(self):
        # a criterion already built (and checked) for this fit is used as is,
        # so T is validated and, for backward correction, inverted only once
        prebuilt = self.__dict__.pop("_criterion_for_fit", ())
        self.criterion_ = prebuilt[0] if prebuilt else self._build_criterion()
        return self

    def _prepare_training(self, X, y_enc, mask):
        self.transition_matrix_ = self._resolve_transition_matrix(X, y_enc, mask)


_T_PARAM_DOC = """transition_matrix : array-like of shape (n_classes, n_classes), str, estimator or None, default=None
        The noise transition matrix, ``T[i, j] = p(noisy=j | clean=i)``, rows
        and columns in the order of ``classes_``. An array is used as given.
        A string names a method of :class:`~sknoisy.TransitionMatrixEstimator`
        ('anchor', 'dual_t', 'gold', 'confusion'); an estimator is cloned and
        fitted; None means 'anchor'. When estimated and the estimator's own
        ``estimator`` is None, the out-of-fold probabilities come from this
        network trained with plain cross-entropy (Patrini's recipe), and T
        is estimated before a fresh network is trained with the corrected
        loss."""


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
    **kwargs
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
        As in :class:`~sknoisy.CrossEntropyClassifier`.

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

    _correction_params = ("transition_matrix",)

    def __init__(self, module, *args, transition_matrix=None, criterion=ForwardCorrectedCrossEntropy, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix


class BackwardCorrectedClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with the backward-corrected cross-entropy.

    The loss of a sample with noisy label ``y~`` is ``(T^-1 l(p))[y~]`` with
    ``l(p)_k = -log p_k``: unbiased for the clean loss, but unbounded below
    and only defined for an invertible T. A singular T is refused with a
    clear error before training; an ill-conditioned one gives a warning
    (see :class:`~sknoisy.losses.BackwardCorrectedCrossEntropy`). Forward
    correction is usually the better choice (Patrini et al.).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    {_T_PARAM_DOC}
    criterion : class, default=BackwardCorrectedCrossEntropy
        Built with ``transition_matrix=T`` and any ``criterion__*`` parameter.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The T used for training.
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator when T was estimated.

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

    _correction_params = ("transition_matrix",)

    def __init__(self, module, *args, transition_matrix=None, criterion=BackwardCorrectedCrossEntropy, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix

    def _prepare_training(self, X, y_enc, mask):
        super()._prepare_training(X, y_enc, mask)
        # Refuse a singular T now, before any epoch runs, with the loss's own
        # check; initialize_criterion then uses this criterion (one SVD per fit).
        # (held in a tuple: skorch only lets initialize_* set torch modules)
        self._criterion_for_fit = (self._build_criterion(),)
