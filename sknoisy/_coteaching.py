"""Co-teaching: two networks, each training the other on the rows it finds easy.

Han et al. (NeurIPS 2018): a network fitted to noisy labels fits the clean
rows first, so early in training the rows with the smallest loss are mostly
correctly labelled. Two networks, started from different weights, each pick
the small-loss rows of every batch and hand them to the *other* network to
train on; their different errors keep one network's mistakes from
reinforcing themselves. No transition matrix and no trusted rows are
needed, and nothing assumes the noise is the same for every input of a class.
"""

import copy
import math
from numbers import Integral, Real

import torch

from ._targets import split_target_table, target_weights
from .base import CrossEntropyClassifier
from .utils._param_validation import Interval

__all__ = ["CoTeachingClassifier"]


def _reinitialized_copy(module):
    """A copy of ``module`` whose layers draw new initial weights (for a module given as an instance)."""
    twin = copy.deepcopy(module)
    for layer in twin.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
    return twin


class CoTeachingClassifier(CrossEntropyClassifier):
    """Two networks trained by Co-teaching: each learns from the rows the other finds clean.

    In every training batch each network computes every row's loss and keeps
    the ``1 - r(t)`` fraction of rows with the smallest loss; the first
    network is then trained on the rows the second one kept, and the second
    on the rows the first one kept (Han et al., NeurIPS 2018). The fraction
    forgotten, ``r(t) = forget_rate * min(t / ramp_epochs, 1)`` at epoch
    ``t`` (counted from 0), starts at 0, while every row is still fitted by
    its clean pattern, and reaches ``forget_rate`` after ``ramp_epochs``
    epochs, before the networks memorise the wrong labels. Rows of ``fit``'s
    ``trusted`` mask rank first, so both networks always train on them.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected. Both
        networks are built from it, each with its own initial weights (an
        instance is copied, and the copy's layers reset their parameters).
    forget_rate : float in [0, 1), default=0.4
        The fraction of each batch a network drops once the ramp is over.
        The paper sets it to the noise rate; when you know the rate (or an
        estimate of it, e.g. ``1 - trace`` of
        :class:`~sknoisy.TransitionMatrixEstimator`'s T weighted by the
        class priors), pass it. On validation splits of the training rows
        (scikit-learn's digits and a 5-class ``make_classification`` set,
        40% instance-dependent noise of Xia et al., 2 seeds each, 100
        epochs) 0.4 reached 83.3% (mean) against 79.4% for 0.3 and 76.9%
        for 0.2, with the default ramp.
    ramp_epochs : int >= 1, default=40
        The epochs over which the forget rate grows to ``forget_rate``. The
        paper's 10 epochs were of about 470 batches each; on the small
        data sets above (8 to 12 batches an epoch) a 10-epoch ramp let
        the networks drop whole classes before they had learned them
        (mean validation accuracy at 0.4: 75.9% with a 10-epoch ramp,
        78.4% with 20, 83.3% with 40). What matters is that the networks
        fit the clean pattern before they drop rows: with many batches
        an epoch, use fewer ramp epochs; with fewer ``max_epochs`` than
        ``ramp_epochs``, the rate never reaches ``forget_rate``.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``. The ``criterion`` must take a
        ``reduction`` attribute (every torch and sknoisy loss does): rows are
        ranked by their own loss.

    Attributes
    ----------
    module_ : torch.nn.Module
        The first network: ``predict_proba`` and ``predict`` use it (see
        Notes).
    module2_ : torch.nn.Module
        The second network, registered with skorch like ``module_``: it is
        moved to ``device`` with it, trained by the same optimizer (one
        ``optimizer_`` holds both networks' parameters) and listed in
        skorch's ``save_params`` / ``load_params`` components (as
        ``f_module2``). It is training state: prediction does not read it.
    classes_, n_features_in_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    sknoisy.EarlyLearningClassifier : Early-learning regularization, also without trusted rows.

    Notes
    -----
    ``predict_proba`` uses the first network only (the paper reports each
    network on its own): both networks end up of similar accuracy (averaging
    their probabilities changed the validation accuracy by -0.8 to +1.4
    points in the settings above), and one network is what
    :func:`~sknoisy.persistence.save_model` keeps. A training step
    costs about two steps of :class:`~sknoisy.CrossEntropyClassifier`.

    ``train_loss`` is the sum of the two networks' losses on the rows they
    were trained on (so each network gets the gradient of its own loss).
    The selection happens in skorch's ``get_loss`` hook, which receives both
    networks' logits stacked (shape ``(2, batch, n_classes)``, also what
    training callbacks see as ``y_pred``), so it works with skorch's own
    train steps, ``AccelerateMixin``'s included.
    ``valid_loss`` (with a ``train_split``) is the first network's loss on
    every validation row. The small-loss rows are chosen on the device
    (``torch.topk``), with no copy to the host; the forget rate of an epoch
    is known on the host from the epoch count. ``sample_weight`` weights
    the kept rows' losses (rows are ranked by their unweighted loss).

    References
    ----------
    B. Han, Q. Yao, X. Yu, G. Niu, M. Xu, W. Hu, I. Tsang, M. Sugiyama.
    Co-teaching: Robust Training of Deep Neural Networks with Extremely Noisy
    Labels. NeurIPS 2018.

    Examples
    --------
    >>> from sknoisy import CoTeachingClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     400, n_classes=4, noise="symmetric", rate=0.4, random_state=0)
    >>> clf = CoTeachingClassifier(MLP, forget_rate=0.4, ramp_epochs=10, max_epochs=5,
    ...                            random_state=0).fit(X, y_noisy)
    >>> clf.predict_proba(X[:2]).shape
    (2, 4)
    >>> clf.forget_rate_at(0), clf.forget_rate_at(5), clf.forget_rate_at(30)
    (0.0, 0.2, 0.4)
    """

    # The kept rows' losses are weighted by the table's weight column.
    _supports_sample_weight = True

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "forget_rate": [Interval(Real, 0, 1, closed="left")],
        "ramp_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, module, *args, forget_rate=0.4, ramp_epochs=40, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.forget_rate = forget_rate
        self.ramp_epochs = ramp_epochs

    def forget_rate_at(self, epoch):
        """The fraction of each batch the networks drop at ``epoch`` (counted from 0).

        Parameters
        ----------
        epoch : int >= 0

        Returns
        -------
        rate : float
        """
        return float(self.forget_rate) * min(epoch / self.ramp_epochs, 1.0)

    # --------------------------------------------------------------- skorch
    def initialize_module(self):
        super().initialize_module()
        first = self.module_
        # The second network: built the way the first was, so from the
        # seeded RNG's next draws, hence other initial weights.
        super().initialize_module()
        second = self.module_
        if second is first:  # a module instance, handed back as it is
            second = _reinitialized_copy(first)
        self.module_ = first
        # set inside initialize_module: skorch registers it as a module
        # (prefixes_, device moves, optimizer parameters, save_params)
        self.module2_ = second
        return self

    def initialize_criterion(self):
        super().initialize_criterion()
        if getattr(self.criterion_, "reduction", None) not in ("mean", "sum", "none"):
            raise ValueError(
                f"{type(self).__name__} ranks rows by their own loss, so its criterion needs a 'reduction' "
                f"attribute (every torch and sknoisy loss has one); {type(self.criterion_).__name__} has none."
            )
        return self

    def _row_losses(self, logits, labels):
        reduction = self.criterion_.reduction
        self.criterion_.reduction = "none"
        try:
            return self.criterion_(logits, labels)
        finally:
            self.criterion_.reduction = reduction

    def infer(self, x, **fit_params):
        logits = super().infer(x, **fit_params)
        if not self.module_.training:
            return logits
        # A training batch: both networks' logits, stacked, so that get_loss
        # (the hook every train step calls, AccelerateMixin's included) sees both.
        if not isinstance(logits, torch.Tensor):
            raise ValueError(
                f"{type(self).__name__} ranks rows by their loss under each network, so the module must return "
                f"a tensor of logits, got {type(logits).__name__}."
            )
        return torch.stack([logits, self._infer_with(self.module2_, x, **fit_params)])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (training and y_pred.ndim == 3):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        logits1, logits2 = y_pred
        table = torch.as_tensor(y_true, device=logits1.device)
        labels, trusted = split_target_table(table)
        losses1 = self._row_losses(logits1, labels)
        losses2 = self._row_losses(logits2, labels)
        n_rows = labels.shape[0]
        # history holds a row for the epoch under way (skorch adds it when the epoch begins)
        n_keep = max(1, math.ceil((1.0 - self.forget_rate_at(max(len(self.history) - 1, 0))) * n_rows))
        weight = target_weights(table)
        # each network learns from the rows the other ranks as small-loss; a trusted row ranks first
        rank1, rank2 = (losses.detach().masked_fill(trusted, -math.inf) for losses in (losses1, losses2))
        return self._kept_mean(losses1, rank2, n_keep, weight) + self._kept_mean(losses2, rank1, n_keep, weight)

    @staticmethod
    def _kept_mean(losses, ranking, n_keep, weight):
        """Mean of ``losses`` over the ``n_keep`` rows with the smallest ``ranking`` loss."""
        if n_keep < ranking.shape[0]:
            kept = torch.topk(ranking.detach(), n_keep, largest=False, sorted=False).indices
            losses = losses[kept]
            weight = None if weight is None else weight[kept]
        if weight is not None:
            losses = losses * weight.to(losses.dtype)
        return losses.mean()
