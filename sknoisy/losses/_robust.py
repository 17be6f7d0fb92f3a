"""Losses robust to label noise: the Active Passive Loss family and its baselines.

Ma et al., "Normalized Loss Functions for Deep Learning with Noisy Labels"
(ICML 2020): the normalised *active* losses NCE, NFL and NGCE, the *passive*
losses RCE and MAE, their weighted sums (APL, ``alpha * active + beta *
passive``), and the robust losses they compare with, GCE (Zhang & Sabuncu
2018) and SCE (Wang et al. 2019). Each is a function of ``(logits, target)``
and a module that calls it with the parameters it was built with.
"""

import functools
import math

import torch
import torch.nn.functional as F

from ._base import (
    _PARAM_CHECKS,
    _check_gamma,
    _check_inputs,
    _check_member,
    _check_open_unit,
    _check_q,
    _check_reduction,
    _check_weights,
    _FunctionalLoss,
    _pick,
    _reduce,
)

__all__ = [
    "ActivePassiveLoss",
    "GeneralizedCrossEntropy",
    "MeanAbsoluteError",
    "NormalizedCrossEntropy",
    "NormalizedFocalLoss",
    "NormalizedGeneralizedCrossEntropy",
    "ReverseCrossEntropy",
    "SymmetricCrossEntropy",
    "active_passive_loss",
    "generalized_cross_entropy",
    "mean_absolute_error_loss",
    "normalized_cross_entropy",
    "normalized_focal_loss",
    "normalized_generalized_cross_entropy",
    "reverse_cross_entropy",
    "symmetric_cross_entropy",
]

ACTIVE_LOSSES = ("nce", "nfl", "ngce")
PASSIVE_LOSSES = ("rce", "mae")


# --------------------------------------------------------------------------
# the functions
# --------------------------------------------------------------------------


def normalized_cross_entropy(logits, target, reduction="mean"):
    """Normalized cross-entropy (NCE): ``-log p_y / sum_k -log p_k``.

    Robust to label noise (Ma et al., 2020): summed over all labels it equals
    1 for every input. Values lie in ``[0, 1]``; the gradient flows through
    numerator and denominator. Needs at least 2 classes.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import normalized_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> [round(normalized_cross_entropy(logits, torch.tensor([k])).item(), 4) for k in range(3)]
    [0.0308, 0.3938, 0.5753]
    """
    target = _check_inputs(logits, target, min_classes=2)
    _check_reduction(reduction)
    neg_log_proba = -F.log_softmax(logits, dim=1)
    # The denominator is at least C log C > 0 for C >= 2, so no guard is needed.
    loss = _pick(neg_log_proba, target) / neg_log_proba.sum(dim=1)
    return _reduce(loss, reduction)


def normalized_focal_loss(
    logits, target, gamma=0.5, eps=1e-7, detach_denominator=False, reduction="mean", *, detach_focal_weights=False
):
    """Normalized focal loss (NFL): ``FL(y) / sum_k FL(k)``.

    ``FL(k) = -(1 - p_k)^gamma log p_k``. ``1 - p_k`` is floored at ``eps``
    before the power, because the derivative of ``(1 - p)^gamma`` is
    infinite at ``p = 1`` for ``gamma < 1`` (reached by confident logits in
    float32). With ``gamma=0`` this is :func:`normalized_cross_entropy`.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    gamma : float, default=0.5
        Focusing parameter, ``gamma >= 0``.
    eps : float, default=1e-7
        Floor on ``1 - p_k``.
    detach_denominator : bool, default=False
        Stop the gradient through the whole normaliser ``sum_k FL(k)``. This
        is *not* what the APL authors' released code does (see
        ``detach_focal_weights``). The default differentiates the whole
        normalised loss, as for NCE.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    detach_focal_weights : bool, default=False
        Stop the gradient through the focal weights ``(1 - p_k)^gamma``, in
        the numerator and in the normaliser alike, while the ``log p_k``
        factors keep theirs: this is what the APL authors' released code does
        (it computes the weights from detached probabilities).

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import normalized_focal_loss
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(normalized_focal_loss(logits, torch.tensor([0])).item(), 4)
    0.0129
    """
    target = _check_inputs(logits, target, min_classes=2)
    gamma = _check_gamma(gamma)
    eps = _check_open_unit(eps, "eps")
    _check_reduction(reduction)
    log_proba = F.log_softmax(logits, dim=1)
    # -expm1(log p) is 1 - p without cancellation when p is close to 1.
    weight = (-torch.expm1(log_proba)).clamp(min=eps) ** gamma
    if detach_focal_weights:
        weight = weight.detach()
    focal = -weight * log_proba
    denominator = focal.sum(dim=1)
    if detach_denominator:
        denominator = denominator.detach()
    loss = _pick(focal, target) / denominator
    return _reduce(loss, reduction)


def normalized_generalized_cross_entropy(logits, target, q=0.7, eps=1e-7, reduction="mean"):
    """Normalized generalized cross-entropy (NGCE).

    ``(1 - p_y^q) / (C - sum_k p_k^q)`` with ``p`` clamped to ``[eps, 1]``.
    Summed over all labels it equals 1 for every input.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    q : float, default=0.7
        Exponent in ``(0, 1]``.
    eps : float, default=1e-7
        Floor on the probabilities.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import normalized_generalized_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(normalized_generalized_cross_entropy(logits, torch.tensor([0])).item(), 4)
    0.0628
    """
    target = _check_inputs(logits, target, min_classes=2)
    q = _check_q(q)
    eps = _check_open_unit(eps, "eps")
    _check_reduction(reduction)
    n_classes = logits.shape[1]
    # Clamping log p at log(eps) is clamping p to [eps, 1] (log p <= 0 already);
    # working in log space gives 1 - p^q as -expm1(q log p), exact near p = 1.
    log_proba = F.log_softmax(logits, dim=1).clamp(min=math.log(eps))
    numerator = -torch.expm1(q * _pick(log_proba, target))
    # sum_k p_k^q < C for C >= 2, so the denominator is positive.
    denominator = n_classes - torch.exp(q * log_proba).sum(dim=1)
    loss = numerator / denominator
    return _reduce(loss, reduction)


def reverse_cross_entropy(logits, target, label_min=1e-4, reduction="mean"):
    """Reverse cross-entropy (RCE): ``-sum_k p_k log q_k``.

    ``q`` is the one-hot label clamped to ``[label_min, 1]``, so the loss
    equals ``-log(label_min) * (1 - p_y)`` (about ``9.21 * (1 - p_y)``):
    a scaled MAE. Summed over all labels it is the constant
    ``-log(label_min) * (C - 1)``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    label_min : float, default=1e-4
        Floor on the one-hot label before its log.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import reverse_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(reverse_cross_entropy(logits, torch.tensor([0])).item(), 4)
    1.4387
    """
    target = _check_inputs(logits, target)
    label_min = _check_open_unit(label_min, "label_min")
    _check_reduction(reduction)
    # With the one-hot label clamped to [label_min, 1], -sum_k p_k log q_k has
    # the closed form -log(label_min) * (1 - p_y); computing it from the picked
    # log-probability avoids a (n, C) one-hot and product (2x faster per step).
    log_p_y = _pick(F.log_softmax(logits, dim=1), target)
    loss = -math.log(label_min) * -torch.expm1(log_p_y)
    return _reduce(loss, reduction)


def mean_absolute_error_loss(logits, target, reduction="mean"):
    """Mean absolute error as used for noisy labels (MAE): ``1 - p_y``.

    The L1 distance between ``softmax(logits)`` and the one-hot label is
    ``2 - 2 p_y``; like the APL authors, sknoisy drops the factor 2 (only a
    scale). Summed over all labels it is the constant ``C - 1``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import mean_absolute_error_loss
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(mean_absolute_error_loss(logits, torch.tensor([0])).item(), 4)
    0.1562
    """
    target = _check_inputs(logits, target)
    _check_reduction(reduction)
    loss = -torch.expm1(_pick(F.log_softmax(logits, dim=1), target))
    return _reduce(loss, reduction)


def generalized_cross_entropy(logits, target, q=0.7, reduction="mean"):
    """Generalized cross-entropy (GCE, Zhang & Sabuncu 2018): ``(1 - p_y^q) / q``.

    Interpolates between cross-entropy (``q -> 0``) and MAE (``q = 1``).

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    q : float, default=0.7
        Exponent in ``(0, 1]``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import generalized_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(generalized_cross_entropy(logits, torch.tensor([0])).item(), 4)
    0.1601
    """
    target = _check_inputs(logits, target)
    q = _check_q(q)
    _check_reduction(reduction)
    # p^q = exp(q log p) needs no clamp and stays exact near p = 1.
    loss = -torch.expm1(q * _pick(F.log_softmax(logits, dim=1), target)) / q
    return _reduce(loss, reduction)


def symmetric_cross_entropy(logits, target, alpha=0.1, beta=1.0, label_min=1e-4, reduction="mean"):
    """Symmetric cross-entropy (SCE, Wang et al. 2019): ``alpha * CE + beta * RCE``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    alpha : float, default=0.1
        Weight of the cross-entropy, ``>= 0``.
    beta : float, default=1.0
        Weight of the reverse cross-entropy, ``>= 0``.
    label_min : float, default=1e-4
        Floor on the one-hot label in RCE.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import symmetric_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(symmetric_cross_entropy(logits, torch.tensor([0])).item(), 4)
    1.4557
    """
    target = _check_inputs(logits, target)
    alpha, beta = _check_weights(alpha, beta)
    _check_reduction(reduction)
    loss = alpha * F.cross_entropy(logits, target, reduction="none") + beta * reverse_cross_entropy(
        logits, target, label_min=label_min, reduction="none"
    )
    return _reduce(loss, reduction)


def active_passive_loss(
    logits,
    target,
    active="nce",
    passive="rce",
    alpha=1.0,
    beta=1.0,
    gamma=0.5,
    q=0.7,
    eps=1e-7,
    label_min=1e-4,
    detach_denominator=False,
    reduction="mean",
    *,
    detach_focal_weights=False,
):
    """Active passive loss (APL, Ma et al. 2020): ``alpha * active + beta * passive``.

    A normalised (active) loss, robust but prone to underfitting, plus a
    robust passive loss that also pushes down the probabilities of the other
    classes.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores.
    target : torch.Tensor of shape (n_samples,)
        Integer class indices.
    active : {'nce', 'nfl', 'ngce'}, default='nce'
        The active (normalised) loss.
    passive : {'rce', 'mae'}, default='rce'
        The passive loss.
    alpha : float, default=1.0
        Weight of the active loss, ``>= 0``.
    beta : float, default=1.0
        Weight of the passive loss, ``>= 0``; not both zero.
    gamma : float, default=0.5
        NFL focusing parameter (used when ``active='nfl'``).
    q : float, default=0.7
        NGCE exponent (used when ``active='ngce'``).
    eps : float, default=1e-7
        Numerical floor for NFL and NGCE.
    label_min : float, default=1e-4
        One-hot floor for RCE.
    detach_denominator : bool, default=False
        NFL only: stop the gradient through its whole normaliser (see
        :func:`normalized_focal_loss`).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    detach_focal_weights : bool, default=False
        NFL only: stop the gradient through the focal weights
        ``(1 - p_k)^gamma``, as the APL authors' released code does.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import active_passive_loss
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(active_passive_loss(logits, torch.tensor([0]), "nce", "mae").item(), 4)
    0.187
    """
    target = _check_inputs(logits, target, min_classes=2)
    _check_member(active, ACTIVE_LOSSES, "active")
    _check_member(passive, PASSIVE_LOSSES, "passive")
    alpha, beta = _check_weights(alpha, beta)
    _check_reduction(reduction)
    if active == "nce":
        active_loss = normalized_cross_entropy(logits, target, reduction="none")
    elif active == "nfl":
        active_loss = normalized_focal_loss(
            logits,
            target,
            gamma=gamma,
            eps=eps,
            detach_denominator=detach_denominator,
            detach_focal_weights=detach_focal_weights,
            reduction="none",
        )
    else:
        active_loss = normalized_generalized_cross_entropy(logits, target, q=q, eps=eps, reduction="none")
    if passive == "rce":
        passive_loss = reverse_cross_entropy(logits, target, label_min=label_min, reduction="none")
    else:
        passive_loss = mean_absolute_error_loss(logits, target, reduction="none")
    return _reduce(alpha * active_loss + beta * passive_loss, reduction)

# --------------------------------------------------------------------------
# NCE+RCE with a hand-written gradient (what the default APL module computes)
# --------------------------------------------------------------------------


def _nce_rce_reference(logits, target, alpha, beta, scale):
    """Per-row ``alpha * NCE + beta * RCE`` through autograd (the fused function's reference)."""
    log_p = F.log_softmax(logits, dim=1)
    log_p_y = _pick(log_p, target)
    return alpha * log_p_y / log_p.sum(dim=1) - beta * scale * torch.expm1(log_p_y)


class _FusedNCERCE(torch.autograd.Function):
    """``alpha * NCE + beta * RCE`` as one autograd node, reduced as asked.

    With ``l = log_softmax(z)``, ``S = sum_k l_k`` (< 0) and
    ``A = -log(label_min)``, a row costs ``alpha * l_y / S + beta * A * (1 - p_y)``
    and its gradient with respect to ``z`` is
    ``(e_y - p) * (alpha / S - beta * A * p_y) - (alpha * l_y / S**2) * (1 - C * p)``
    (``dl_y/dz = e_y - p``, ``dS/dz = 1 - C p``, ``dp_y/dz = p_y (e_y - p)``):
    a few tensor operations where autograd records about ten nodes, which
    matters for small networks whose step is dominated by per-op overhead.
    A backward that builds a graph (``create_graph=True``, e.g. for
    meta-learning) differentiates the reference formula instead, so second
    derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, logits, target, alpha, beta, scale, reduction):
        log_p = F.log_softmax(logits, dim=1)
        log_p_y = _pick(log_p, target)
        total = log_p.sum(dim=1)
        loss = alpha * log_p_y / total - beta * scale * torch.expm1(log_p_y)
        ctx.save_for_backward(logits, target, log_p, log_p_y, total)
        ctx.constants = (alpha, beta, scale, reduction)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output):
        logits, target, log_p, log_p_y, total = ctx.saved_tensors
        alpha, beta, scale, reduction = ctx.constants
        n_samples, n_classes = log_p.shape
        if reduction == "none":
            weight = grad_output.unsqueeze(1)
        elif reduction == "mean":
            weight = grad_output / n_samples
        else:
            weight = grad_output
        if torch.is_grad_enabled():
            # create_graph: a differentiable gradient, from the reference formula
            with torch.enable_grad():
                rows = _nce_rce_reference(logits, target, alpha, beta, scale)
                grad_rows = weight.squeeze(1) if reduction == "none" else weight.expand_as(rows)
                (grad,) = torch.autograd.grad(rows, logits, grad_rows, create_graph=True)
            return grad, None, None, None, None, None
        p = log_p.exp()
        a = (alpha / total - beta * scale * log_p_y.exp()).unsqueeze(1)  # coefficient of (e_y - p)
        b = (alpha * log_p_y / total.square()).unsqueeze(1)  # coefficient of (1 - C p)
        grad = p.mul(n_classes * b - a).sub_(b)
        grad.scatter_add_(1, target.unsqueeze(1), a)
        return grad.mul_(weight), None, None, None, None, None


def _fused_nce_rce(logits, target, alpha=1.0, beta=1.0, label_min=1e-4, reduction="mean"):
    """``alpha * NCE + beta * RCE``: the value and gradient of :func:`active_passive_loss`, in one node."""
    target = _check_inputs(logits, target, min_classes=2)
    _check_reduction(reduction)
    scale = -math.log(_check_open_unit(label_min, "label_min"))
    return _FusedNCERCE.apply(logits, target, float(alpha), float(beta), scale, reduction)


# --------------------------------------------------------------------------
# the modules (skorch criteria): each calls its function with its parameters
# --------------------------------------------------------------------------


class NormalizedCrossEntropy(_FunctionalLoss):
    """Normalized cross-entropy loss (NCE), a robust active loss.

    See :func:`normalized_cross_entropy` for the formula.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import NormalizedCrossEntropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(NormalizedCrossEntropy()(logits, torch.tensor([1])).item(), 4)
    0.3938
    """

    _function = staticmethod(normalized_cross_entropy)


class NormalizedFocalLoss(_FunctionalLoss):
    """Normalized focal loss (NFL), a robust active loss.

    See :func:`normalized_focal_loss` for the formula.

    Parameters
    ----------
    gamma : float, default=0.5
        Focusing parameter, ``gamma >= 0``.
    eps : float, default=1e-7
        Floor on ``1 - p_k``.
    detach_denominator : bool, default=False
        Stop the gradient through the whole normaliser (not what the
        authors' code does: see ``detach_focal_weights``).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    detach_focal_weights : bool, default=False
        Stop the gradient through the focal weights ``(1 - p_k)^gamma`` in
        numerator and normaliser, as the APL authors' released code does.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import NormalizedFocalLoss
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(NormalizedFocalLoss(gamma=0.5)(logits, torch.tensor([0])).item(), 4)
    0.0129
    """

    _function = staticmethod(normalized_focal_loss)

    def __init__(self, gamma=0.5, eps=1e-7, detach_denominator=False, reduction="mean", *, detach_focal_weights=False):
        super().__init__(reduction)
        self._store_params(
            gamma=gamma,
            eps=eps,
            detach_denominator=detach_denominator,
            detach_focal_weights=detach_focal_weights,
        )


class NormalizedGeneralizedCrossEntropy(_FunctionalLoss):
    """Normalized generalized cross-entropy loss (NGCE), a robust active loss.

    See :func:`normalized_generalized_cross_entropy` for the formula.

    Parameters
    ----------
    q : float, default=0.7
        Exponent in ``(0, 1]``. (The authors' released MNIST and CIFAR-10
        configurations use 0.1, CIFAR-100 0.7.)
    eps : float, default=1e-7
        Floor on the probabilities.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import NormalizedGeneralizedCrossEntropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(NormalizedGeneralizedCrossEntropy(q=0.7)(logits, torch.tensor([0])).item(), 4)
    0.0628
    """

    _function = staticmethod(normalized_generalized_cross_entropy)

    def __init__(self, q=0.7, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        self._store_params(q=q, eps=eps)


class ReverseCrossEntropy(_FunctionalLoss):
    """Reverse cross-entropy loss (RCE), a robust passive loss.

    See :func:`reverse_cross_entropy` for the formula.

    Parameters
    ----------
    label_min : float, default=1e-4
        Floor on the one-hot label before its log.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import ReverseCrossEntropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(ReverseCrossEntropy()(logits, torch.tensor([0])).item(), 4)
    1.4387
    """

    _function = staticmethod(reverse_cross_entropy)

    def __init__(self, label_min=1e-4, reduction="mean"):
        super().__init__(reduction)
        self._store_params(label_min=label_min)


class MeanAbsoluteError(_FunctionalLoss):
    """Mean absolute error loss (MAE, ``1 - p_y``), a robust passive loss.

    See :func:`mean_absolute_error_loss` (the true L1 distance is twice this).

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import MeanAbsoluteError
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(MeanAbsoluteError()(logits, torch.tensor([0])).item(), 4)
    0.1562
    """

    _function = staticmethod(mean_absolute_error_loss)


class GeneralizedCrossEntropy(_FunctionalLoss):
    """Generalized cross-entropy loss (GCE, Zhang & Sabuncu 2018).

    See :func:`generalized_cross_entropy` for the formula.

    Parameters
    ----------
    q : float, default=0.7
        Exponent in ``(0, 1]``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import GeneralizedCrossEntropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(GeneralizedCrossEntropy(q=0.7)(logits, torch.tensor([0])).item(), 4)
    0.1601
    """

    _function = staticmethod(generalized_cross_entropy)

    def __init__(self, q=0.7, reduction="mean"):
        super().__init__(reduction)
        self._store_params(q=q)


class SymmetricCrossEntropy(_FunctionalLoss):
    """Symmetric cross-entropy loss (SCE, Wang et al. 2019): ``alpha * CE + beta * RCE``.

    Parameters
    ----------
    alpha : float, default=0.1
        Weight of the cross-entropy (authors: 0.01 MNIST, 0.1 CIFAR-10, 6.0 CIFAR-100).
    beta : float, default=1.0
        Weight of the reverse cross-entropy (authors: 1.0; 0.1 for CIFAR-100).
    label_min : float, default=1e-4
        Floor on the one-hot label in RCE.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import SymmetricCrossEntropy
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(SymmetricCrossEntropy(alpha=0.1, beta=1.0)(logits, torch.tensor([0])).item(), 4)
    1.4557
    """

    _function = staticmethod(symmetric_cross_entropy)

    def __init__(self, alpha=0.1, beta=1.0, label_min=1e-4, reduction="mean"):
        super().__init__(reduction)
        self._store_params(alpha=alpha, beta=beta, label_min=label_min)


class ActivePassiveLoss(_FunctionalLoss):
    """Active passive loss (APL, Ma et al., ICML 2020): ``alpha * active + beta * passive``.

    Parameters
    ----------
    active : {'nce', 'nfl', 'ngce'}, default='nce'
        The active (normalised) loss.
    passive : {'rce', 'mae'}, default='rce'
        The passive loss.
    alpha : float, default=1.0
        Weight of the active loss, ``>= 0``.
    beta : float, default=1.0
        Weight of the passive loss, ``>= 0``; not both zero. The authors used
        ``alpha=1, beta=10`` on MNIST, ``alpha=1, beta=1`` on CIFAR-10 and
        ``alpha=10, beta=0.1`` (with RCE) on CIFAR-100; see
        ``PUBLISHED_LOSS_PARAMS``.
    gamma : float, default=0.5
        NFL focusing parameter (used only when ``active='nfl'``).
    q : float, default=0.7
        NGCE exponent (used only when ``active='ngce'``).
    eps : float, default=1e-7
        Numerical floor for NFL and NGCE.
    label_min : float, default=1e-4
        One-hot floor for RCE.
    detach_denominator : bool, default=False
        NFL only: stop the gradient through its whole normaliser (not what
        the authors' code does: see ``detach_focal_weights``).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    detach_focal_weights : bool, default=False
        NFL only: stop the gradient through the focal weights
        ``(1 - p_k)^gamma``, as the APL authors' released code does.

    Notes
    -----
    ``'nce'`` + ``'rce'`` (the default, and ``RobustLossClassifier``'s) is
    computed as one autograd node with a hand-written gradient: the values
    and gradients of :func:`active_passive_loss` (second derivatives too),
    at a fraction of the per-step overhead that matters for small networks.

    See Also
    --------
    active_passive_loss : The functional form.
    make_loss : Build a loss by name, e.g. ``make_loss('nfl+mae')``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import ActivePassiveLoss
    >>> criterion = ActivePassiveLoss(active="nce", passive="rce", alpha=1.0, beta=1.0)
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(criterion(logits, torch.tensor([0])).item(), 4)
    1.4695

    As a skorch criterion:

    >>> from skorch import NeuralNetClassifier
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Linear(4, 3), criterion=ActivePassiveLoss,
    ...     criterion__active="nfl", criterion__passive="mae", criterion__beta=10.0)
    """

    _function = staticmethod(active_passive_loss)
    _param_checks = {
        **_PARAM_CHECKS,
        "active": functools.partial(_check_member, valid=ACTIVE_LOSSES, name="active"),
        "passive": functools.partial(_check_member, valid=PASSIVE_LOSSES, name="passive"),
    }
    _repr_params = ("active", "passive", "alpha", "beta", "gamma", "q")

    def __init__(
        self,
        active="nce",
        passive="rce",
        alpha=1.0,
        beta=1.0,
        gamma=0.5,
        q=0.7,
        eps=1e-7,
        label_min=1e-4,
        detach_denominator=False,
        reduction="mean",
        *,
        detach_focal_weights=False,
    ):
        super().__init__(reduction)
        self._store_params(
            active=active,
            passive=passive,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
            q=q,
            eps=eps,
            label_min=label_min,
            detach_denominator=detach_denominator,
            detach_focal_weights=detach_focal_weights,
        )

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        if self.active == "nce" and self.passive == "rce":
            # the same values and gradients as active_passive_loss, in one autograd node
            return _fused_nce_rce(logits, target, self.alpha, self.beta, self.label_min, self.reduction)
        return super().forward(logits, target)
