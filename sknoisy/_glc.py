"""Gold Loss Correction, GLC (Hendrycks, Mazeika, Wilson and Gimpel, NeurIPS 2018).

With a small trusted (clean) subset, GLC estimates the noise transition
matrix from the trusted rows and trains on every row:

1. stage 1 and ``T_hat``: ``TransitionMatrixEstimator(method='gold')``
   trains a network with plain cross-entropy on the **untrusted** rows only
   (noisy labels), so that its softmax models ``p(noisy | x)``, and averages
   those probabilities over the trusted rows of each clean class;
2. stage 2: a fresh network trained on all rows with a joint loss:
   cross-entropy on the trusted rows, forward-corrected cross-entropy with
   ``T_hat`` on the untrusted rows, summed and divided by the batch size.

Stage 1 is the transformer's gold path, the one place where the gold estimate
(and its fallback for classes without trusted rows) is written.
"""

import warnings

import numpy as np
import torch

from ._loss_correction import (
    _NOT_VOLMIN_HINT,
    _WARM_UP_CONSTRAINTS,
    _WARM_UP_DOC,
    DEFAULT_WARM_UP_EPOCHS,
    _transition_matrix_constraints,
    _TransitionMatrixMixin,
)
from ._targets import split_target_table
from .base import CrossEntropyClassifier
from .losses import GoldCorrectedCrossEntropy
from .transition import TRANSITION_METHODS

__all__ = ["GLCClassifier"]


class GLCClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with Gold Loss Correction (GLC); needs trusted rows.

    Gold Loss Correction (Hendrycks et al., NeurIPS 2018), inside
    ``fit(X, y, trusted=mask)``:

    1. stage 1: with the default ``transition_matrix``, a network with this
       estimator's settings is trained with plain cross-entropy on the
       **untrusted** rows only (it never sees the trusted rows), so its
       softmax estimates ``p(noisy | x)``; it keeps the epoch with the best
       loss on a held-out 20% of those (noisy) rows, since a net fitted to
       zero loss gives over-confident probabilities;
    2. ``transition_matrix_[i]`` is the mean stage-1 probability vector of
       the trusted rows whose (clean) label is ``i``
       (:func:`sknoisy.transition.estimate_gold`); the stage-1 network is
       then dropped. Steps 1 and 2 are
       ``TransitionMatrixEstimator(method='gold')``, fitted with
       ``refit=False``;
    3. stage 2: a fresh network is trained on all rows with
       :class:`~sknoisy.losses.GoldCorrectedCrossEntropy`: cross-entropy on
       trusted rows, forward-corrected cross-entropy with
       ``transition_matrix_`` on untrusted rows, summed and divided by the
       batch size.

    ``predict_proba`` returns the clean probabilities softmax(f(x)).

    Special cases:

    * no trusted row (``trusted`` None or all False), or trusted rows of a
      single class: ``ValueError`` (the trusted rows are what GLC is for);
    * a class without trusted rows: a ``UserWarning`` and its row of T is
      the anchor-point estimate (97th percentile) from the stage-1
      probabilities of the untrusted rows (never NaN, unlike the authors'
      code);
    * every row trusted: a ``UserWarning``; there is no noisy row to
      correct, so T is not estimated, ``transition_matrix_`` is the
      identity and the training is plain cross-entropy;
    * ``fit(..., sample_weight=w)``: each row's term of the joint loss (stage
      2) is weighted by its weight; the stage-1 estimate of T is not.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    transition_matrix : None, str, estimator or array-like of shape (n_classes, n_classes), default=None
        Where the ``T`` of the joint loss comes from, as for
        :class:`~sknoisy.ForwardCorrectedClassifier`:

        * None: ``'gold'``, GLC's own estimate (steps 1 and 2 above);
        * a method name of :class:`~sknoisy.TransitionMatrixEstimator`
          ({", ".join(repr(name) for name in TRANSITION_METHODS)}): that
          estimator with its default settings. The methods that need trusted
          rows ({", ".join(repr(m.name) for m in TRANSITION_METHODS.values() if m.needs_trusted)})
          train stage 1 on the untrusted rows; the others use out-of-fold
          probabilities of every row;
        * an (unfitted) estimator such as
          ``TransitionMatrixEstimator(method='gold', quantile=0.9)``: cloned
          and fitted with ``trusted=mask`` and ``refit=False``; when its own
          ``estimator`` is None, stage 1 is this network trained with plain
          cross-entropy. Its parameters are reachable by a grid search as
          ``clf__transition_matrix__method`` (pass an estimator, not None,
          for that, exactly as for the forward-corrected classifier);
        * an array: ``T[i, j] = p(noisy=j | clean=i)`` in the order of
          ``classes_``, used as given (no stage 1).
    {_WARM_UP_DOC}
    criterion : class, default=GoldCorrectedCrossEntropy
        Built with ``transition_matrix=transition_matrix_`` and any
        ``criterion__*`` parameter; called as ``criterion(logits, labels,
        trusted)``. Stage 1 always uses plain cross-entropy.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``; stage 1 uses the same ones.

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The ``T_hat`` used for training, rows and columns in the order of
        ``classes_``.
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator when T was estimated (with ``refit=False``: it
        keeps ``transition_matrix_`` but not the stage-1 network).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier` (of stage 2).

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import make_noisy_classification
    >>> from sknoisy import GLCClassifier
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     400, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> trusted = np.arange(400) < 80
    >>> y = np.where(trusted, y_clean, y_noisy)   # trusted rows carry clean labels
    >>> clf = GLCClassifier(MLP, max_epochs=5, random_state=0).fit(X, y, trusted=trusted)
    >>> clf.transition_matrix_.shape
    (3, 3)
    >>> bool(np.allclose(clf.transition_matrix_.sum(axis=1), 1.0))
    True
    >>> clf.transition_matrix_estimator_.method
    'gold'
    """

    _default_transition_method = "gold"
    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        **_transition_matrix_constraints(),
        **_WARM_UP_CONSTRAINTS,
    }
    _parameter_hints = {**CrossEntropyClassifier._parameter_hints, **_NOT_VOLMIN_HINT}
    # get_loss reduces through _criterion_loss, which weights each row
    _supports_sample_weight = True

    def __init__(
        self,
        module,
        *args,
        transition_matrix=None,
        warm_up_epochs=DEFAULT_WARM_UP_EPOCHS,
        criterion=GoldCorrectedCrossEntropy,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix
        self.warm_up_epochs = warm_up_epochs

    def _resolve_transition_matrix(self, X, y_enc, mask):
        self._check_trusted_rows(y_enc, mask, purpose="estimate the transition matrix")
        if mask.all():
            warnings.warn(
                f"{type(self).__name__}: every row is trusted, so there is no noisy row to correct; stage 1 is "
                "skipped, transition_matrix_ is the identity and training is plain cross-entropy.",
                UserWarning,
                stacklevel=5,  # the caller of fit
            )
            self.transition_matrix_estimator_ = None
            return np.eye(len(self.classes_))
        # The estimator sees the user's labels (classes_ is sorted, as its own
        # encoder sorts them, so T's rows keep the order of classes_): its
        # warnings then name the classes as the user knows them.
        return super()._resolve_transition_matrix(X, self.classes_[y_enc], mask)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        table = torch.as_tensor(y_true, device=y_pred.device)
        labels, trusted = split_target_table(table)
        # weighted by the table's sample_weight column when fit got one
        return self._criterion_loss(y_pred, table, labels, trusted, training=training)
