"""Early-Learning Regularization: keep the network near what it predicted before it memorised the noise.

Liu et al. (NeurIPS 2020) observed that a network fitted to noisy labels
first learns the clean pattern ("early learning") and only later memorises
the wrong labels. ELR keeps, for every training row, a running average of
the network's own predictions and adds to the loss a term that pulls each
prediction towards that average, which holds the early, mostly correct
predictions while the noisy labels would pull them away. It needs neither a
transition matrix nor trusted rows, and does not assume that the noise is
the same for every input of a class.
"""

from numbers import Real

import torch

from ._targets import rows_fingerprint, target_labels, target_rows, target_weights
from .base import CrossEntropyClassifier
from .utils._param_validation import Interval

__all__ = ["EarlyLearningClassifier"]

#: Probabilities are kept in [_CLAMP, 1 - _CLAMP] in the regulariser, as the
#: authors do: ``1 - <p, t>`` then stays away from 0, so its logarithm and
#: gradient stay finite on rows the network already fits with certainty.
_CLAMP = 1e-4


class EarlyLearningClassifier(CrossEntropyClassifier):
    """A network trained with cross-entropy plus Early-Learning Regularization (ELR).

    The loss of a batch is ``CE + regularization * mean_i log(1 - <p_i, t_i>)``,
    where ``p_i`` is the network's softmax output for row ``i`` and ``t_i``
    the row's *target*: a running average of its past predictions,
    ``t_i <- beta * t_i + (1 - beta) * p_i``, updated each time the row is
    in a training batch (Liu et al., NeurIPS 2020). Minimising the term
    raises ``<p_i, t_i>``: the network keeps predicting what it predicted
    early in training, before it memorised the wrong labels. Nothing about
    the noise is assumed, so it suits noise that depends on the input.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    regularization : float >= 0, default=3.0
        The weight ``lambda`` of the regulariser; 0 is plain cross-entropy
        (the targets are still kept).
        3 is the authors' CIFAR-10 value. Mean accuracy on validation
        splits of the training rows (scikit-learn's digits and a 5-class
        ``make_classification`` set, 40% instance-dependent noise of Xia et
        al., 2 seeds each, 100 epochs), with ``beta=0.9``: 81.6% for 1,
        84.2% for 2, 83.9% for 3, 81.6% for 5; 7 (with ``beta=0.7``)
        collapsed to 23-59%: the regulariser then outweighs the labels.
    beta : float in [0, 1), default=0.9
        The weight of a row's previous target in its running average (the
        authors' CIFAR-100 value). On the validation splits above, with
        ``regularization=3``: 77.5% for 0.7 (their CIFAR-10 value), 83.9%
        for 0.9, 84.5% for 0.95 (within the spread between seeds, so the
        authors' value was kept). 0 makes the target the current prediction
        itself.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier`` (``criterion`` included: the
        regulariser is added to whatever it computes).

    Attributes
    ----------
    targets_ : torch.Tensor of shape (n_samples, n_classes)
        The rows' running targets, on the network's device, in the order of
        the rows ``fit`` was given (the target table's row ids index it).
        They start at 0 at each ``fit``. ``partial_fit`` (and ``fit`` with
        ``warm_start=True``) continues them when given the same labels as
        the call before (the same rows, as when training a few epochs at a
        time) and starts them again at 0 otherwise. They are training
        state: ``predict`` does not read them and
        :func:`~sknoisy.persistence.save_model` does not save them (a
        loaded model restarts them at 0 if trained further).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    sknoisy.CoTeachingClassifier : Small-loss selection by two networks, also without trusted rows.
    sknoisy.RobustLossClassifier : Noise-robust losses.

    Notes
    -----
    The targets average the plain softmax outputs, as in the paper's ELR
    (its ELR+ variant adds a second network, weight averaging and mixup,
    which are not done here); probabilities are clamped to
    ``[1e-4, 1 - 1e-4]`` in the regulariser, which keeps its gradient finite
    on rows fitted with certainty. The regulariser is a batch mean
    (weighted by ``sample_weight`` when given), whatever the criterion's
    reduction. Validation batches (``train_split``) neither update the
    targets nor add the regulariser: ``valid_loss`` is the criterion's.

    A row's target is updated on the network's device inside the loss, with
    no copy to the host: the per-row state costs ``n_samples * n_classes``
    floats of device memory.

    References
    ----------
    S. Liu, J. Niles-Weed, N. Razavian, C. Fernandez-Granda. Early-Learning
    Regularization Prevents Memorization of Noisy Labels. NeurIPS 2020.

    Examples
    --------
    >>> from sknoisy import EarlyLearningClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     400, n_classes=4, noise="symmetric", rate=0.4, random_state=0)
    >>> clf = EarlyLearningClassifier(MLP, max_epochs=5, random_state=0).fit(X, y_noisy)
    >>> clf.targets_.shape
    torch.Size([400, 4])
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(4)
    array([1., 1.], dtype=float32)

    Training a few epochs at a time on the same rows continues the targets
    (each row's target, from 0, gains ``1 - beta`` of the way to a
    probability vector every epoch: after 4 epochs it sums to ``1 - 0.7**4``):

    >>> clf = EarlyLearningClassifier(MLP, beta=0.7, max_epochs=2, random_state=0)
    >>> clf = clf.partial_fit(X, y_noisy).partial_fit(X, y_noisy)
    >>> len(clf.history), round(float(clf.targets_.sum(dim=1).mean()), 2)
    (4, 0.76)
    """

    # The regulariser is weighted by the table's weight column like the criterion.
    _supports_sample_weight = True

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "regularization": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, module, *args, regularization=3.0, beta=0.9, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.regularization = regularization
        self.beta = beta

    def initialize_module(self):
        super().initialize_module()
        # A new network starts from no history of predictions.
        self.targets_ = None
        return self

    def _train(self, X, y_enc, mask, routing_method, **kwargs):
        # The row ids of a call index the rows of that call's data: the
        # targets carry over only when the next call holds the same rows
        # (recognised by their labels).
        fingerprint = rows_fingerprint(y_enc)
        if getattr(self, "_targets_fingerprint", None) != fingerprint:
            self.targets_ = None
        self._targets_fingerprint = fingerprint
        self._targets_shape = (len(y_enc), len(self.classes_))
        super()._train(X, y_enc, mask, routing_method, **kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        table = torch.as_tensor(y_true, device=y_pred.device)
        loss = self._criterion_loss(y_pred, table, target_labels(table), training=training)
        rows = target_rows(table)
        if not training or rows is None:
            return loss
        if self.targets_ is None:
            self.targets_ = torch.zeros(self._targets_shape, dtype=torch.float32, device=y_pred.device)
        proba = torch.softmax(y_pred.float(), dim=1).clamp(_CLAMP, 1.0 - _CLAMP)
        with torch.no_grad():
            current = proba / proba.sum(dim=1, keepdim=True)
            target = self.beta * self.targets_[rows] + (1.0 - self.beta) * current
            self.targets_[rows] = target
        regularizer = torch.log(1.0 - (proba * target).sum(dim=1))
        weight = target_weights(table)
        if weight is not None:
            regularizer = regularizer * weight
        return loss + self.regularization * regularizer.mean()
