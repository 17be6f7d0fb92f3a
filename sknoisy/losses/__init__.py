"""Loss functions for learning with noisy labels (PyTorch).

Every loss takes ``(logits, target)``: ``logits`` of shape ``(N, C)`` (raw
scores, *not* probabilities) and ``target`` of shape ``(N,)`` holding integer
class indices ``0..C-1``. Each comes in two forms:

* a function (``forward_corrected_cross_entropy``, ``normalized_cross_entropy``,
  ...), differentiable with respect to every tensor argument, including the
  transition matrix, so that meta-learning code can pass ``T`` as a tensor
  that requires gradients;
* a :class:`torch.nn.Module` (``ForwardCorrectedCrossEntropy``, ...) whose
  ``forward`` calls the function. Its constructor takes plain keyword
  arguments, so it is usable as a skorch ``criterion`` with ``criterion__*``
  parameters.

All take ``reduction`` in ``{'mean', 'sum', 'none'}`` (default ``'mean'``).

The package, one concept a module:

``_transition``
    Losses that use a noise transition matrix ``T`` (``T[i, j] = p(noisy = j
    | clean = i)``, rows sum to one, ``p_noisy = p_clean @ T``), all built
    on :class:`TransitionMatrixLoss`, which owns ``T``: forward and backward
    correction (Patrini et al., CVPR 2017,
    :class:`ForwardCorrectedCrossEntropy`,
    :class:`BackwardCorrectedCrossEntropy`, whose conditioning check is
    :func:`check_invertible`) and GLC's joint loss
    (:class:`GoldCorrectedCrossEntropy`).
``_robust``
    Robust losses (Ma et al., "Normalized Loss Functions for Deep Learning
    with Noisy Labels", ICML 2020, and the losses they compare with):
    :class:`NormalizedCrossEntropy` (NCE), :class:`NormalizedFocalLoss`
    (NFL), :class:`NormalizedGeneralizedCrossEntropy` (NGCE),
    :class:`ReverseCrossEntropy` (RCE), :class:`MeanAbsoluteError` (MAE),
    :class:`GeneralizedCrossEntropy` (GCE), :class:`SymmetricCrossEntropy`
    (SCE) and :class:`ActivePassiveLoss` (APL, ``alpha * active + beta *
    passive``).
``_instance``
    Forward correction through a transition matrix that depends on the
    input, ``T(x)`` (:class:`InstanceForwardLoss`), the loss of
    :class:`~sknoisy.InstanceForwardClassifier`.
``_registry``
    The robust losses by name: ``LOSS_NAMES``, ``LOSSES``, :func:`make_loss`,
    and the authors' settings ``DEFAULT_LOSS_PARAMS`` (their CIFAR-10
    configurations) and ``PUBLISHED_LOSS_PARAMS`` (per data set).
``_base``
    What they share: parameter and input checks, the reduction, the module
    bases.

Examples
--------
>>> import torch
>>> from sknoisy.losses import make_loss
>>> loss = make_loss("nce+rce")
>>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
>>> target = torch.tensor([0, 2])
>>> round(loss(logits, target).item(), 4)
4.5762
"""

# Each module's __all__ is the one list of its public names.
from . import _instance, _registry, _robust, _transition
from ._instance import *  # noqa: F403
from ._registry import *  # noqa: F403
from ._robust import *  # noqa: F403
from ._transition import *  # noqa: F403

__all__ = sorted(_instance.__all__ + _registry.__all__ + _robust.__all__ + _transition.__all__)
