"""Forward correction through a transition matrix that depends on the input, ``T(x)``.

Xia et al. (NeurIPS 2020) model a row's noise as a flip rate and a flip
target that depend on the row. Here the rate stays one per class, ``q_c``,
and the target depends on the row:
``T(x)[c] = (1 - q_c) e_c + q_c softmax_{j != c}(s_c(x))``, where the scores
``s(x)``, one row of ``C`` scores per clean class, come from a small head on
the network's own features. The noisy posterior ``softmax(f(x)) @ T(x)`` is
scored by NCE+RCE (Ma et al., ICML 2020) plus a little cross-entropy: the
robust part keeps the network from fitting the labels that ``T(x)`` cannot
explain, the cross-entropy speeds up early learning.
"""

import functools
import math

import numpy as np
import torch

from ._base import _check_inputs, _check_non_negative, _check_open_unit, _check_reduction, _Loss, _pick, _reduce
from ._robust import _fused_nce_rce

__all__ = ["InstanceForwardLoss", "instance_forward_loss", "instance_transition_matrices"]


def _flip_rate_like(flip_rate, logits):
    rate = torch.as_tensor(flip_rate, dtype=logits.dtype, device=logits.device)
    n_classes = logits.shape[1]
    if rate.ndim == 0:
        rate = rate.expand(n_classes)
    if rate.shape != (n_classes,):
        raise ValueError(
            f"flip_rate must be a number or hold one rate per class ({n_classes}), got shape {tuple(rate.shape)}."
        )
    return rate


def _check_flip_scores(flip_scores, logits):
    n_rows, n_classes = logits.shape
    expected = (n_rows, n_classes, n_classes)
    if not isinstance(flip_scores, torch.Tensor) or flip_scores.shape not in (expected, (n_rows, n_classes**2)):
        shape = tuple(flip_scores.shape) if isinstance(flip_scores, torch.Tensor) else type(flip_scores).__name__
        raise ValueError(
            f"flip_scores must be a tensor of shape {expected} (or {(n_rows, n_classes**2)}), one row of scores "
            f"per clean class for each of the {n_rows} rows, got {shape}."
        )
    return flip_scores.reshape(expected)


@functools.lru_cache(maxsize=16)
def _diagonal(n_classes, device):
    """The boolean identity, built once per size and device (it is read on every training batch)."""
    # a normal tensor even when first built under inference_mode: autograd saves the mask for backward
    with torch.inference_mode(False):
        return torch.eye(n_classes, dtype=torch.bool, device=device)


def _flip_targets(flip_scores):
    """``softmax_{j != c}(s_c)`` for every row and clean class ``c``: the diagonal gets probability 0."""
    diagonal = _diagonal(flip_scores.shape[-1], flip_scores.device)
    return torch.softmax(flip_scores.masked_fill(diagonal, -math.inf), dim=-1)


def instance_transition_matrices(flip_scores, flip_rate):
    """The rows' transition matrices ``T(x)[c] = (1 - q_c) e_c + q_c softmax_{j != c}(s_c(x))``.

    Parameters
    ----------
    flip_scores : torch.Tensor of shape (N, C, C) or (N, C * C)
        Row ``c`` of a row's scores ranks the wrong classes a clean ``c``
        flips to; its diagonal entry is ignored.
    flip_rate : float or array-like of shape (C,)
        ``q_c``, the probability that a row of clean class ``c`` is flipped.

    Returns
    -------
    T : torch.Tensor of shape (N, C, C)
        Row-stochastic, ``T[n, c, c] = 1 - q_c``.

    Examples
    --------
    >>> import torch
    >>> T = instance_transition_matrices(torch.zeros(1, 3, 3), 0.4)
    >>> T[0]
    tensor([[0.6000, 0.2000, 0.2000],
            [0.2000, 0.6000, 0.2000],
            [0.2000, 0.2000, 0.6000]])
    """
    n_classes = flip_scores.shape[-1] if flip_scores.ndim == 3 else math.isqrt(flip_scores.shape[-1])
    scores = flip_scores.reshape(-1, n_classes, n_classes)
    rate = _flip_rate_like(flip_rate, scores[:, 0]).unsqueeze(1)
    eye = torch.eye(n_classes, dtype=scores.dtype, device=scores.device)
    return (1.0 - rate) * eye + rate * _flip_targets(scores)


def instance_forward_loss(
    logits, flip_scores, target, flip_rate, ce_weight=0.3, label_min=1e-4, eps=1e-7, reduction="mean"
):
    """NCE+RCE plus ``ce_weight`` cross-entropy of the noisy posterior ``softmax(logits) @ T(x)``.

    ``T(x)`` is :func:`instance_transition_matrices` of ``flip_scores`` and
    ``flip_rate``. Differentiable with respect to ``logits``, ``flip_scores``
    and a tensor ``flip_rate``.

    Parameters
    ----------
    logits : torch.Tensor of shape (N, C)
        The network's scores of the clean classes.
    flip_scores : torch.Tensor of shape (N, C, C) or (N, C * C)
        See :func:`instance_transition_matrices`.
    target : torch.Tensor of shape (N,)
        The noisy labels, class indices.
    flip_rate : float or array-like of shape (C,)
        The flip rate of each clean class.
    ce_weight : float >= 0, default=0.3
        The weight of the cross-entropy ``-log q_y`` next to NCE+RCE.
    label_min : float in (0, 1), default=1e-4
        RCE's stand-in for log 0 (as :func:`~sknoisy.losses.reverse_cross_entropy`).
    eps : float in (0, 1), default=1e-7
        The noisy probabilities are clamped at ``eps`` before their logarithm.
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Returns
    -------
    loss : torch.Tensor

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    >>> loss = instance_forward_loss(logits, torch.zeros(2, 3, 3), torch.tensor([0, 2]), 0.2)
    >>> loss.shape, bool(loss > 0)
    (torch.Size([]), True)
    """
    target = _check_inputs(logits, target, min_classes=2)
    _check_reduction(reduction)
    ce_weight = _check_non_negative(ce_weight, "ce_weight")
    eps = _check_open_unit(eps, "eps")
    scores = _check_flip_scores(flip_scores, logits)
    rate = _flip_rate_like(flip_rate, logits)
    p = torch.softmax(logits, dim=1)
    flipped = p * rate
    # p @ T(x) without forming T(x): the kept mass plus the flipped mass spread over the targets
    noisy = p - flipped + torch.bmm(flipped.unsqueeze(1), _flip_targets(scores)).squeeze(1)
    log_noisy = noisy.clamp_min(eps).log()
    # log_softmax(log q) = log q, since the rows of q sum to one: NCE+RCE read log-probabilities as logits
    losses = _fused_nce_rce(log_noisy, target, label_min=label_min, reduction="none")
    if ce_weight:
        losses = losses - ce_weight * _pick(log_noisy, target)
    return _reduce(losses, reduction)


class InstanceForwardLoss(_Loss):
    """Module form of :func:`instance_forward_loss`: ``loss(logits, flip_scores, target)``.

    Parameters
    ----------
    flip_rate : float or array-like of shape (n_classes,)
        The flip rate of each clean class (a buffer: moved with the module).
    ce_weight : float >= 0, default=0.3
    label_min : float in (0, 1), default=1e-4
    eps : float in (0, 1), default=1e-7
    reduction : {'mean', 'sum', 'none'}, default='mean'

    Examples
    --------
    >>> import torch
    >>> loss = InstanceForwardLoss(flip_rate=[0.1, 0.2, 0.3])
    >>> value = loss(torch.randn(4, 3), torch.zeros(4, 3, 3), torch.tensor([0, 1, 2, 0]))
    >>> value.shape
    torch.Size([])
    """

    _repr_params = ("ce_weight", "label_min", "eps")

    def __init__(self, flip_rate, ce_weight=0.3, label_min=1e-4, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        # checked in numpy: the module may be built on the meta device (sknoisy.load_model's size probe)
        rate = np.asarray(flip_rate.detach().cpu() if isinstance(flip_rate, torch.Tensor) else flip_rate, dtype=float)
        if rate.ndim > 1 or not np.all((rate >= 0) & (rate < 1)):
            raise ValueError(f"flip_rate must hold rates in [0, 1), one per class or one for all, got {flip_rate!r}.")
        self.register_buffer("flip_rate", torch.as_tensor(rate, dtype=torch.float32))
        self.ce_weight = _check_non_negative(ce_weight, "ce_weight")
        self.label_min = _check_open_unit(label_min, "label_min")
        self.eps = _check_open_unit(eps, "eps")

    def forward(self, logits, flip_scores, target):
        """Return the loss of ``logits`` and ``flip_scores`` against the noisy ``target``."""
        return instance_forward_loss(
            logits, flip_scores, target, self.flip_rate.to(logits.dtype), ce_weight=self.ce_weight,
            label_min=self.label_min, eps=self.eps, reduction=self.reduction,
        )
