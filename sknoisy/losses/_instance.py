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
def _diagonal_excluded(n_classes, device, dtype):
    """``-inf`` on the diagonal, 0 elsewhere: added to scores, it gives the diagonal probability 0 in a softmax.

    Built once per size, device and dtype (it is read on every training batch); an addition where a
    ``masked_fill`` took 7 times its time on a (128, 10, 10) batch (a copy and a mask per call).
    """
    # a normal tensor even when first built under inference_mode: autograd may save it for backward
    with torch.inference_mode(False):
        return torch.zeros(n_classes, n_classes, dtype=dtype, device=device).fill_diagonal_(-math.inf)


@functools.lru_cache(maxsize=1)
def _cpu_vector_bytes():
    """The width in bytes of the CPU vectors torch's kernels use (64 with AVX-512, else 32)."""
    return 64 if "AVX512" in torch.backends.cpu.get_cpu_capability() else 32


def _softmax_last(x):
    """``torch.softmax(x, dim=-1)``, written out on the CPU from 4 entries to one vector of them.

    There (16 float32 with AVX-512, 8 with AVX2) it is computed as torch's softmax computes it
    (shift by the largest entry, exp, normalise), in separate operations: torch's kernel over so
    short a last dimension leaves its vectorised path, and took 1.3-2.9 times as long as these
    operations on the (128, C, C) flip scores from 5 to 15 classes (the whole instance-forward
    loss, forward and backward, 1.15 times as long at 10); from one vector on, and below 4
    entries, torch's kernel is the faster or as fast (``benchmarks/flip_softmax.py``).
    """
    n = x.shape[-1]
    if x.device.type != "cpu" or n < 4 or n * x.element_size() >= _cpu_vector_bytes():
        return torch.softmax(x, dim=-1)
    # the shift is detached: the softmax does not depend on it, so autograd need not differentiate it
    exp = (x - x.detach().amax(dim=-1, keepdim=True)).exp()
    return exp / exp.sum(dim=-1, keepdim=True)


def _flip_targets(flip_scores):
    """``softmax_{j != c}(s_c)`` for every row and clean class ``c``: the diagonal gets probability 0."""
    return _softmax_last(flip_scores + _diagonal_excluded(flip_scores.shape[-1], flip_scores.device,
                                                          flip_scores.dtype))


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
    scale = -math.log(_check_open_unit(label_min, "label_min"))
    return _FusedInstanceForward.apply(logits, scores, target, rate, ce_weight, scale, eps, reduction)


def _instance_forward_reference(logits, scores, target, rate, ce_weight, scale, eps):
    """Per-row loss through autograd: the fused node's reference, differentiated for a graph of its gradient."""
    p = _softmax_last(logits)
    flipped = p * rate
    # p @ T(x) without forming T(x): the kept mass plus the flipped mass spread over the targets
    noisy = p - flipped + (flipped.unsqueeze(2) * _flip_targets(scores)).sum(dim=1)
    log_noisy = noisy.clamp_min(eps).log()
    # NCE+RCE read log q as logits; q sums to one (up to the clamp at eps), so log q is its own log-softmax
    log_q_y = _pick(log_noisy, target)
    return log_q_y / log_noisy.sum(dim=1) - scale * torch.expm1(log_q_y) - ce_weight * log_q_y


class _FusedInstanceForward(torch.autograd.Function):
    """The instance-forward loss as one autograd node, its gradient written out.

    With ``p = softmax(z)``, ``A = softmax_{j != c}(s_c)`` per clean class,
    ``q = (1 - r) * p + sum_c p_c r_c A[c]`` (a distribution: no log-softmax
    is needed to read ``log q`` as logits), ``l = log q``,
    ``S = sum_k l_k`` and ``a = -log(label_min)``, a row costs
    ``l_y / S - a * (exp(l_y) - 1) - w * l_y`` (NCE + RCE on ``log q``
    plus ``w`` times its cross-entropy). Backward: ``dL/dl = e_y (1/S - a
    q_y - w) - l_y / S^2``, through the clamp and the log to ``g_q``;
    with ``u_c = sum_j A[c, j] g_q[j]``, ``g_p = g_q + r (u - g_q)``,
    ``g_z = p (g_p - <p, g_p>)``, ``g_s[c, j] = p_c r_c A[c, j] (g_q[j] - u_c)``
    and ``g_r = sum_rows p (u - g_q)``. Autograd through the formula records
    about thirty nodes: written out, the loss took 0.92-0.95 times their time
    on a (128, 10) batch and 0.55-0.72 times on a (128, 100) one (two runs
    of the loss table of ``benchmarks/speed.py``), and the classifier's
    epoch 0.87 times in an interleaved comparison. A backward that builds
    a graph differentiates the reference formula instead, so second
    derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, logits, scores, target, rate, ce_weight, scale, eps, reduction):
        p = _softmax_last(logits)
        flip = _flip_targets(scores)
        flipped = p * rate
        noisy = torch.bmm(flipped.unsqueeze(1), flip).squeeze(1).add_(p).sub_(flipped)
        kept = noisy >= eps
        log_q = noisy.clamp_min_(eps).log()
        log_q_y = log_q.gather(1, target.unsqueeze(1)).squeeze(1)
        total = log_q.sum(dim=1)
        loss = (log_q_y / total).sub_(torch.expm1(log_q_y), alpha=scale)
        if ce_weight:
            loss = loss.sub_(log_q_y, alpha=ce_weight)
        ctx.save_for_backward(logits, scores, target, rate, p, flip, noisy, kept, log_q_y, total)
        ctx.constants = (ce_weight, scale, eps, reduction)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output):
        logits, scores, target, rate, p, flip, noisy, kept, log_q_y, total = ctx.saved_tensors
        ce_weight, scale, eps, reduction = ctx.constants
        n_rows, n_classes = p.shape
        if reduction == "none":
            weight = grad_output.unsqueeze(1)
        else:
            weight = grad_output / n_rows if reduction == "mean" else grad_output
        needs = (ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[3])
        if torch.is_grad_enabled():
            # create_graph: a differentiable gradient, from the reference formula
            inputs = [x for x, need in zip((logits, scores, rate), needs) if need]
            with torch.enable_grad():
                rows = _instance_forward_reference(logits, scores, target, rate, ce_weight, scale, eps)
                grad_rows = weight.squeeze(1) if reduction == "none" else weight.expand_as(rows)
                grads = iter(torch.autograd.grad(rows, inputs, grad_rows, create_graph=True))
            grad_z, grad_s, grad_r = (next(grads) if need else None for need in needs)
            return grad_z, grad_s, None, grad_r, None, None, None, None
        # dL/dl with l = log q: e_y (1/S - a q_y - w) - l_y / S^2
        on_target = total.reciprocal().sub_(log_q_y.exp(), alpha=scale).sub_(ce_weight)
        # (repeat cost twice as much as filling a new tensor)
        grad_log = torch.empty_like(p).copy_((log_q_y / total.square()).unsqueeze(1)).neg_()
        grad_log.scatter_add_(1, target.unsqueeze(1), on_target.unsqueeze(1))
        # through the clamp and the log: zero where the clamp held q at eps
        grad_noisy = grad_log.div_(noisy).mul_(kept).mul_(weight)
        spread = torch.bmm(flip, grad_noisy.unsqueeze(2)).squeeze(2)  # u_c = sum_j A[c, j] g_q[j]
        shift = spread - grad_noisy
        grad_z = grad_s = grad_r = None
        if needs[0]:
            grad_p = grad_noisy + rate * shift
            grad_z = p * (grad_p - (p * grad_p).sum(dim=1, keepdim=True))
        if needs[1]:
            # in place on one (N, C, C) buffer: at 100 classes these products are most of the loss's time
            grad_s = (grad_noisy.unsqueeze(1) - spread.unsqueeze(2)).mul_(flip).mul_((p * rate).unsqueeze(2))
        if needs[2]:
            grad_r = (p * shift).sum(dim=0)
        return grad_z, grad_s, None, grad_r, None, None, None, None


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
