"""The trusted rows' network and ELR's, averaged: a method with trusted rows for input-dependent noise.

When annotators err on the ambiguous items, a network of the trusted rows
alone is right where the noisy labels are wrong, and a network trained on
every row with Early-Learning Regularization is right where the few trusted
rows leave it unsure; their probabilities, averaged, beat both (issue 20,
``benchmarks/trusted_rows_tries.py``). Part of the trusted-rows family of
:mod:`sknoisy._trusted`, in its own module because it is also an ELR.

Layering: above :mod:`sknoisy._elr` and :mod:`sknoisy._trusted`, below the
classifier registry.
"""

import copy
import math
from numbers import Real

import torch

from ._elr import EarlyLearningClassifier
from ._loss_correction import check_trusted_rows
from ._trusted import _warn_classes_without_trusted_rows, fit_trusted_net
from .utils._param_validation import Interval

__all__ = ["TrustedBlendClassifier"]

#: The trusted network's share of the averaged probabilities (see TrustedBlendClassifier).
DEFAULT_TRUSTED_WEIGHT = 0.5
#: The trusted network's optimizer steps, as a share of those of a full fit over every row: alone it
#: scored the same with half (+0.1 / +0.0 points on the tabular set / MNIST), the blend +0.3 on the mean of
#: six settings, for half the cost (benchmarks/results/trusted_net_steps.md)
TRUSTED_STEPS_FRACTION = 0.5


class TrustedBlendClassifier(EarlyLearningClassifier):
    __doc__ = f"""ELR on every row, its probabilities averaged with a network of the trusted rows; needs trusted rows.

    ``fit(X, y, trusted=mask)`` trains two networks with this estimator's
    settings:

    1. the *trusted network*: plain cross-entropy on the trusted rows alone,
       for half as many optimizer steps as ``max_epochs`` over every row take
       (:class:`~sknoisy.TrustedOnlyClassifier` with ``match_steps=True``
       and half the ``max_epochs``: as accurate alone, and the blend's
       cost over ELR's halved; ``benchmarks/results/trusted_net_steps.md``);
    2. the *ELR network*: every row, with Early-Learning Regularization
       (Liu et al., NeurIPS 2020; :class:`~sknoisy.EarlyLearningClassifier`,
       whose parameters it takes).

    ``predict_proba`` returns ``w * p_trusted + (1 - w) * p_elr``, with
    ``w = trusted_weight``. Neither network assumes class-conditional noise:
    the trusted network never sees a noisy label, and ELR holds each row's
    early prediction against a wrong label whoever gave it. They err
    differently: the trusted network where its few rows leave it unsure,
    ELR where the annotators' confusions pull it. When the noise is
    class-conditional and there are trusted rows, GLC or MLC usually do better
    (:class:`~sknoisy.AutoNoisyClassifier` chooses among them).

    *Measured* (``benchmarks/trusted_rows_tries.py``, validation splits of
    the training rows, the test split never loaded): the MNIST subset and a
    6-class tabular set, 40% noise, 20 trusted rows per class, MLP(128),
    20 epochs, 10 development seeds, the trusted network then trained for a
    full fit's steps (with half, the blend's default: -0.7 to +1.4 points per
    setting, ``benchmarks/results/trusted_net_steps.md``); mean validation
    accuracy, points over the trusted rows alone:

    ==============================  =================  ================
    method                          annotator-like     Xia et al.
                                    tabular / MNIST    tabular / MNIST
    ==============================  =================  ================
    GLC                             +1.3 / +0.6        +12.8 / +5.7
    ELR                             +1.2 / +3.5        +8.7 / +2.6
    this blend, w = 0.3             +2.3 / +4.5        +9.8 / +4.8
    this blend, w = 0.4             +3.0 / +4.5        +9.0 / +4.9
    **this blend, w = 0.5**         +4.3 / +4.0        +6.5 / +3.9
    this blend, w = 0.6             +3.7 / +2.6        +4.3 / +2.5
    this blend, w = 0.7             +2.6 / +1.7        +2.8 / +1.8
    ==============================  =================  ================

    Under annotator-like noise (the rows a weak model finds ambiguous take
    its most plausible wrong class) it was above the trusted rows alone in
    20 of 20 runs with ``w = 0.5``, the default: the best mean under that
    noise, where the blend is meant to be chosen, and the best worst
    setting of the four (+3.9). Under Xia et al.'s noise, which a
    class-level ``T`` describes better, GLC is the better choice. Hence a
    candidate of :class:`~sknoisy.AutoNoisyClassifier`, not a default.
    On the test split of ``benchmarks/instance_noise.py`` (annotator-like
    noise at 40%, 20 trusted rows per class, seeds 0-4) it was the best
    method on both sets: 86.3% on MNIST and 69.9% on the tabular set, 4.8
    and 4.0 points above the trusted rows alone (by 1.8 to 7.1 in each of
    the 10 runs).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected. Both
        networks are built from it (the trusted one from its own seed).
    trusted_weight : float in [0, 1], default={DEFAULT_TRUSTED_WEIGHT!r}
        ``w``, the trusted network's share of the predicted probabilities
        (1: the trusted rows alone; 0: ELR alone).
    regularization, beta
        ELR's, as in :class:`~sknoisy.EarlyLearningClassifier`.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``; the trusted network uses the same
        ones (but not the ``callbacks``, as every stage-1 net).

    Attributes
    ----------
    module_ : torch.nn.Module
        The ELR network.
    trusted_module_ : torch.nn.Module
        The trusted network, registered with skorch like ``module_`` (moved
        to ``device`` with it, saved by :func:`~sknoisy.save_model` and
        skorch's ``save_params`` as ``f_trusted_module``), but not among the
        optimizer's parameters: it is trained once, before the ELR network.
    n_trusted_ : int
        The number of trusted rows the trusted network was trained on.
    targets_, classes_, n_features_in_, history_
        As in :class:`~sknoisy.EarlyLearningClassifier` (``history_`` is the
        ELR network's).

    Notes
    -----
    The average is taken wherever the network is evaluated: in
    ``predict_proba`` and on the validation rows of a ``train_split``
    (``valid_loss`` and ``valid_acc`` are the blend's), never in a training
    step. ``sample_weight`` weights both networks' rows. ``partial_fit``
    trains the trusted network on its first call only; ``fit`` with
    ``warm_start=True`` trains a new one and continues the ELR network.
    A class without trusted rows is one the trusted network never predicts:
    the blend still can, through ELR. A fit costs about one fit of ELR and
    one of :class:`~sknoisy.TrustedOnlyClassifier`.

    References
    ----------
    S. Liu, J. Niles-Weed, N. Razavian, C. Fernandez-Granda. Early-Learning
    Regularization Prevents Memorization of Noisy Labels. NeurIPS 2020.

    See Also
    --------
    TrustedOnlyClassifier : the trusted rows alone, the baseline this method must beat.
    EarlyLearningClassifier : ELR alone, without trusted rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import TrustedBlendClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, _ = make_noisy_classification(400, n_classes=3, rate=0.4, random_state=0)
    >>> trusted = np.arange(400) < 60
    >>> y = np.where(trusted, y_clean, y_noisy)
    >>> clf = TrustedBlendClassifier(MLP, max_epochs=5, random_state=0).fit(X, y, trusted=trusted)
    >>> clf.n_trusted_, clf.predict_proba(X[:2]).shape
    (60, (2, 3))

    With ``trusted_weight=1`` it predicts as the trusted network alone:

    >>> import torch
    >>> alone = clf.set_params(trusted_weight=1.0).predict_proba(X[:2])
    >>> with torch.no_grad():
    ...     trusted_net = torch.softmax(clf.trusted_module_.eval()(torch.as_tensor(X[:2], dtype=torch.float32)), 1)
    >>> bool(np.allclose(alone, trusted_net.numpy(), atol=1e-6))
    True
    """

    # ELR's loss reads the table's weights; the trusted network gets the trusted rows' weights
    _supports_sample_weight = True

    _parameter_constraints = {
        **EarlyLearningClassifier._parameter_constraints,
        "trusted_weight": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, module, *args, trusted_weight=DEFAULT_TRUSTED_WEIGHT, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.trusted_weight = trusted_weight

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        check_trusted_rows(self, y_enc, mask, purpose="train the trusted network")
        _warn_classes_without_trusted_rows(
            self, y_enc, mask, "the trusted network never predicts them (the blend does, through ELR)."
        )
        self.n_trusted_ = int(mask.sum())
        # its module is handed to the registered one in _train, after initialize (which fit may skip)
        self._fitted_trusted_net = fit_trusted_net(
            self, X, y_enc, mask, sample_weight, steps_fraction=TRUSTED_STEPS_FRACTION
        )

    # --------------------------------------------------------------- skorch
    def initialize_module(self):
        super().initialize_module()
        # Registered here, where skorch accepts new modules; _train puts the trained
        # network in its place. A copy, not a second build: no draw from the seeded RNG.
        self.trusted_module_ = copy.deepcopy(self.module_)
        return self

    def get_all_learnable_params(self):
        # the trusted network is trained before, on its own rows; the optimizer trains ELR's
        frozen = {id(param) for param in self.trusted_module_.parameters()}
        for name, param in super().get_all_learnable_params():
            if id(param) not in frozen:
                yield name, param

    def _train(self, X, y_enc, mask, routing_method, **kwargs):
        fitted = getattr(self, "_fitted_trusted_net", None)
        if fitted is not None:
            self.trusted_module_ = fitted.module_.to(self.device)
            self._fitted_trusted_net = None
        super()._train(X, y_enc, mask, routing_method, **kwargs)

    def infer(self, x, **fit_params):
        logits = super().infer(x, **fit_params)
        if self.module_.training:
            return logits
        if not isinstance(logits, torch.Tensor):
            raise ValueError(
                f"{type(self).__name__} averages two networks' probabilities, so the module must return a tensor "
                f"of logits, got {type(logits).__name__}."
            )
        trusted_logits = self._infer_with(self.trusted_module_, x, **fit_params)
        weight = float(self.trusted_weight)
        # log(w p_trusted + (1 - w) p_elr): logits whose softmax is the average. In float64, then rounded
        # back: torch's elementwise float32 kernels round a row's values differently by its position in
        # the batch (vectorised body, scalar tail), which made predict_proba depend on the row order
        blended = torch.logaddexp(
            torch.log_softmax(trusted_logits.double(), dim=1) + _log(weight),
            torch.log_softmax(logits.double(), dim=1) + _log(1.0 - weight),
        )
        return blended.float()


def _log(weight):
    return math.log(weight) if weight > 0 else -math.inf
