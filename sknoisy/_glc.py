"""Gold Loss Correction, GLC (Hendrycks, Mazeika, Wilson and Gimpel, NeurIPS 2018).

With a small trusted (clean) subset, GLC estimates the noise transition
matrix from the trusted rows and trains on every row:

1. stage 1: a network trained with plain cross-entropy on the **untrusted**
   rows only (noisy labels), so that its softmax models ``p(noisy | x)``;
2. ``T_hat[i] = mean of p(noisy | x)`` over the trusted rows of clean class
   ``i`` (:func:`sknoisy.transition.estimate_gold`);
3. stage 2: a fresh network trained on all rows with a joint loss:
   cross-entropy on the trusted rows, forward-corrected cross-entropy with
   ``T_hat`` on the untrusted rows, summed and divided by the batch size.
"""

import warnings

import numpy as np
import torch
from torch.utils.data import Subset

from .base import LABEL, TRUSTED, CrossEntropyClassifier, _is_lazy, _seed_from
from .losses import GoldCorrectedCrossEntropy
from .transition import estimate_anchor, estimate_gold
from .utils._validation import check_transition_matrix

__all__ = ["GLCClassifier"]

# Patrini's ``filter_outlier``: the anchor of a class is the sample at the
# 97th percentile of its noisy-class probability, not the most confident one.
_ANCHOR_QUANTILE = 0.97


def _rows(X, mask):
    """The rows of ``X`` selected by ``mask``, without reading a lazy X into memory."""
    idx = np.flatnonzero(mask)
    if _is_lazy(X) or isinstance(X, np.memmap):
        # a Dataset or a memmap may be larger than memory: select, do not copy
        return Subset(X, idx)
    return X[idx]


def _gold_transition_matrix(proba_trusted, y_trusted, proba_untrusted, classes):
    """GLC's T-hat, with anchor rows for the classes that have no trusted row.

    ``estimate_gold`` would give such a class the identity row ("no noise");
    the anchor row of Patrini's estimator, computed from the stage-1
    probabilities of the untrusted rows, is an actual estimate of that row
    from the same noisy data. It falls back to the identity row (with a
    warning from ``estimate_anchor``) when no sample has a positive
    probability of the class.
    """
    n_classes = len(classes)
    missing = np.setdiff1d(np.arange(n_classes), y_trusted)
    if missing.size == 0:
        return estimate_gold(proba_trusted, y_trusted)
    with warnings.catch_warnings():
        # The identity rows estimate_gold warns about are replaced just below.
        warnings.filterwarnings("ignore", message="No trusted sample", category=UserWarning)
        T = estimate_gold(proba_trusted, y_trusted)
    warnings.warn(
        f"GLCClassifier: no trusted row of class(es) {classes[missing].tolist()}; their rows of "
        "transition_matrix_ are anchor-point estimates (97th percentile) from the stage-1 "
        "probabilities of the untrusted rows instead of gold estimates. Add trusted rows of "
        "every class for a gold estimate.",
        UserWarning,
        stacklevel=3,
    )
    T[missing] = estimate_anchor(proba_untrusted, quantile=_ANCHOR_QUANTILE)[missing]
    return check_transition_matrix(T, n_classes)


class GLCClassifier(CrossEntropyClassifier):
    """Neural network trained with Gold Loss Correction (GLC); needs trusted rows.

    Gold Loss Correction (Hendrycks et al., NeurIPS 2018) in three steps, all
    inside ``fit(X, y, trusted=mask)``:

    1. stage 1: a network with this estimator's settings is trained with
       plain cross-entropy on the **untrusted** rows only (it never sees the
       trusted rows), so its softmax estimates ``p(noisy | x)``; it keeps
       the epoch with the best loss on a held-out 20% of those (noisy) rows,
       since a net fitted to zero loss gives over-confident probabilities;
    2. ``transition_matrix_[i]`` is the mean stage-1 probability vector of
       the trusted rows whose (clean) label is ``i``
       (:func:`sknoisy.transition.estimate_gold`); the stage-1 network is
       then dropped;
    3. stage 2: a fresh network is trained on all rows with
       :class:`GoldCorrectedCrossEntropy`: cross-entropy on trusted rows,
       forward-corrected cross-entropy with ``transition_matrix_`` on
       untrusted rows, summed and divided by the batch size.

    ``predict_proba`` returns the clean probabilities softmax(f(x)).

    Special cases:

    * no trusted row (``trusted`` None or all False), or trusted rows of a
      single class: ``ValueError`` (T cannot be estimated);
    * a class without trusted rows: a ``UserWarning`` and its row of T is
      the anchor-point estimate from the stage-1 probabilities of the
      untrusted rows (never NaN, unlike the authors' code);
    * every row trusted: a ``UserWarning``; there is no noisy row to
      correct, so stage 1 is skipped, ``transition_matrix_`` is the identity
      and the training is plain cross-entropy.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
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
        The gold estimate ``T_hat`` used for training, rows and columns in the
        order of ``classes_``.
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
    """

    def __init__(self, module, *args, criterion=GoldCorrectedCrossEntropy, **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)

    # ------------------------------------------------------------- stages
    def _check_trusted_rows(self, y_enc, mask):
        n_trusted = int(mask.sum())
        if n_trusted == 0:
            raise ValueError(
                f"{type(self).__name__} needs trusted rows: pass fit(X, y, trusted=mask) with a boolean mask "
                "marking the rows whose label is known to be correct (inside GridSearchCV or a "
                "Pipeline, enable metadata routing and call set_fit_request(trusted=True))."
            )
        trusted_classes = np.unique(y_enc[mask])
        if trusted_classes.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs trusted rows of at least 2 classes to estimate the transition "
                f"matrix, but all {n_trusted} trusted rows have the label "
                f"{self.classes_[trusted_classes].tolist()[0]!r}."
            )

    def _prepare_training(self, X, y_enc, mask):
        self._check_trusted_rows(y_enc, mask)
        n_classes = len(self.classes_)
        if mask.all():
            warnings.warn(
                f"{type(self).__name__}: every row is trusted, so there is no noisy row to correct; stage 1 is "
                "skipped, transition_matrix_ is the identity and training is plain cross-entropy.",
                UserWarning,
                stacklevel=3,
            )
            T = np.eye(n_classes)
        else:
            untrusted = ~mask
            stage1 = self._make_plain_net(random_state=_seed_from(self.random_state))
            # partial_fit fixes the stage-1 classes to all of them, so its
            # probabilities have n_classes columns even when the untrusted
            # rows lack a class.
            stage1.partial_fit(_rows(X, untrusted), y_enc[untrusted], classes=np.arange(n_classes))
            proba_trusted = stage1.predict_proba(_rows(X, mask))
            y_trusted = y_enc[mask]
            proba_untrusted = None
            if np.unique(y_trusted).size < n_classes:
                proba_untrusted = stage1.predict_proba(_rows(X, untrusted))
            T = _gold_transition_matrix(proba_trusted, y_trusted, proba_untrusted, self.classes_)
            del stage1  # kept nowhere: it would double the memory of the fitted model
        self.transition_matrix_ = check_transition_matrix(T, n_classes)
        if getattr(self, "initialized_", False) and hasattr(self.criterion_, "set_transition_matrix"):
            # warm_start keeps the initialised criterion; give it the new estimate.
            self.criterion_.set_transition_matrix(self.transition_matrix_)

    # ------------------------------------------------------------- skorch
    def initialize_criterion(self):
        T = getattr(self, "transition_matrix_", None)
        if T is None:
            raise ValueError(
                f"{type(self).__name__} estimates its transition matrix from the trusted rows in fit; "
                "call fit(X, y, trusted=mask) instead of initialize()."
            )
        kwargs = self.get_params_for("criterion")
        kwargs["transition_matrix"] = T
        criterion = self.criterion
        if not isinstance(criterion, type) and hasattr(criterion, "forward"):
            criterion = type(criterion)
        self.criterion_ = criterion(**kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        return self.criterion_(y_pred, y_true[:, LABEL], y_true[:, TRUSTED].bool())
