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

Conventions: ``T[i, j] = p(noisy = j | clean = i)``, rows sum to one, and the
forward noise model is ``p_noisy = p_clean @ T``.

Loss correction (Patrini et al., CVPR 2017):
:class:`ForwardCorrectedCrossEntropy`, :class:`BackwardCorrectedCrossEntropy`.

Robust losses (Ma et al., "Normalized Loss Functions for Deep Learning with
Noisy Labels", ICML 2020, and the losses they compare with):
:class:`NormalizedCrossEntropy` (NCE), :class:`NormalizedFocalLoss` (NFL),
:class:`NormalizedGeneralizedCrossEntropy` (NGCE),
:class:`ReverseCrossEntropy` (RCE), :class:`MeanAbsoluteError` (MAE),
:class:`GeneralizedCrossEntropy` (GCE), :class:`SymmetricCrossEntropy` (SCE)
and :class:`ActivePassiveLoss` (APL, ``alpha * active + beta * passive``).

Registry:

``LOSS_NAMES``
    The names understood by :func:`make_loss`: ``'ce'``, ``'gce'``,
    ``'sce'``, ``'nce'``, ``'nfl'``, ``'ngce'``, ``'rce'``, ``'mae'`` and the
    six active-passive pairs ``'nce+rce'``, ``'nce+mae'``, ``'nfl+rce'``,
    ``'nfl+mae'``, ``'ngce+rce'``, ``'ngce+mae'``.
``LOSSES``
    A read-only mapping from each name to a callable returning a fresh loss
    module (a class, or a :func:`functools.partial` of
    :class:`ActivePassiveLoss` with ``active`` and ``passive`` fixed).
``DEFAULT_LOSS_PARAMS``
    Per-loss default parameters: the settings of the APL authors' released
    CIFAR-10 configurations (APL ``alpha=1, beta=1``; GCE ``q=0.7``; SCE
    ``alpha=0.1, beta=1``; NGCE inside APL ``q=0.1``; NFL ``gamma=0.5``).
``PUBLISHED_LOSS_PARAMS``
    The authors' released settings per data set (``'mnist'``,
    ``'cifar10'``, ``'cifar100'``, symmetric-noise configurations), e.g.
    MNIST APL ``alpha=1, beta=10``; CIFAR-100 NCE+RCE ``alpha=10, beta=0.1``.
    The authors also clipped the gradient norm at 5 in every run.

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

import functools
import math
import numbers
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .utils._validation import check_transition_matrix

__all__ = [
    "ActivePassiveLoss",
    "BackwardCorrectedCrossEntropy",
    "DEFAULT_LOSS_PARAMS",
    "ForwardCorrectedCrossEntropy",
    "GoldCorrectedCrossEntropy",
    "GeneralizedCrossEntropy",
    "LOSSES",
    "LOSS_NAMES",
    "MeanAbsoluteError",
    "NormalizedCrossEntropy",
    "NormalizedFocalLoss",
    "NormalizedGeneralizedCrossEntropy",
    "PUBLISHED_LOSS_PARAMS",
    "ReverseCrossEntropy",
    "SymmetricCrossEntropy",
    "active_passive_loss",
    "backward_corrected_cross_entropy",
    "forward_corrected_cross_entropy",
    "generalized_cross_entropy",
    "make_loss",
    "mean_absolute_error_loss",
    "normalized_cross_entropy",
    "normalized_focal_loss",
    "normalized_generalized_cross_entropy",
    "reverse_cross_entropy",
    "symmetric_cross_entropy",
]

_REDUCTIONS = ("mean", "sum", "none")
ACTIVE_LOSSES = ("nce", "nfl", "ngce")
PASSIVE_LOSSES = ("rce", "mae")

# A transition matrix this badly conditioned is singular for all practical
# purposes: its computed inverse is dominated by rounding error.
_SINGULAR_CONDITION = 1e12


# --------------------------------------------------------------------------
# parameter and input checks (cheap, host-side only: no GPU synchronisation)
# --------------------------------------------------------------------------


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, _REDUCTIONS))}; got {reduction!r}.")
    return reduction


def _check_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return value


def _check_open_unit(value, name):
    """A value strictly between 0 and 1 (eps-like floors)."""
    value = _check_real(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}.")
    return value


def _check_q(q):
    q = _check_real(q, "q")
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q!r}.")
    return q


def _check_gamma(gamma):
    gamma = _check_real(gamma, "gamma")
    if gamma < 0:
        raise ValueError(f"gamma must be non-negative, got {gamma!r}.")
    return gamma


def _check_weights(alpha, beta):
    alpha = _check_real(alpha, "alpha")
    beta = _check_real(beta, "beta")
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha!r}.")
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta!r}.")
    if alpha == 0 and beta == 0:
        raise ValueError("alpha and beta cannot both be 0: the loss would be identically zero.")
    return alpha, beta


def _check_inputs(logits, target, min_classes=1):
    """Check shapes and dtypes; return ``target`` as int64."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}.")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor of class indices, got {type(target).__name__}.")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n_samples, n_classes), got shape {tuple(logits.shape)}.")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating point tensor, got dtype {logits.dtype}.")
    if target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape ({logits.shape[0]},) to match logits of shape "
            f"{tuple(logits.shape)}, got shape {tuple(target.shape)}."
        )
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            f"target must hold integer class indices 0..C-1, got dtype {target.dtype} "
            "(these losses take class indices, not probabilities or one-hot rows)."
        )
    if logits.shape[1] < min_classes:
        raise ValueError(f"this loss needs at least {min_classes} classes, got logits of shape {tuple(logits.shape)}.")
    # Range checks on the values of target would force a device-to-host sync
    # per batch; an out-of-range index still fails loudly inside gather.
    return target.long()


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _pick(values, target):
    """``values[i, target[i]]`` for every row i."""
    return values.gather(1, target.unsqueeze(1)).squeeze(1)


def _matrix_like(matrix, logits, name):
    """``matrix`` as a tensor on the device and dtype of ``logits``.

    Tensors keep their autograd graph (``.to`` is differentiable).
    """
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.to(device=logits.device, dtype=logits.dtype)
    else:
        try:
            matrix = torch.as_tensor(np.asarray(matrix, dtype=np.float64), device=logits.device).to(logits.dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric (C, C) array or tensor, got {type(matrix).__name__}.") from exc
    n_classes = logits.shape[1]
    if tuple(matrix.shape) != (n_classes, n_classes):
        raise ValueError(
            f"{name} has shape {tuple(matrix.shape)} but logits have {n_classes} classes; "
            f"expected shape ({n_classes}, {n_classes})."
        )
    return matrix


def _validated_transition_matrix(transition_matrix, n_classes=None):
    """Validate ``T`` (array-like or tensor) and return it as float64 numpy."""
    if isinstance(transition_matrix, torch.Tensor):
        transition_matrix = transition_matrix.detach().cpu().to(torch.float64).numpy()
    return check_transition_matrix(transition_matrix, n_classes=n_classes)


class _Loss(nn.Module):
    """Common pieces: the reduction and a readable repr."""

    _repr_params = ()

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def extra_repr(self):
        params = [f"{name}={getattr(self, name)!r}" for name in self._repr_params]
        return ", ".join(params + [f"reduction={self.reduction!r}"])


# --------------------------------------------------------------------------
# loss correction with a known transition matrix
# --------------------------------------------------------------------------


def forward_corrected_cross_entropy(logits, target, transition_matrix, eps=1e-7, reduction="mean"):
    """Forward-corrected cross-entropy: ``-log((softmax(logits) @ T)[target])``.

    The clean-class probabilities are pushed through the noise model
    ``p_noisy = p_clean @ T`` and scored against the noisy label
    (Patrini et al., 2017). The noisy probability is clamped to
    ``[eps, 1]`` before the log, so the loss never exceeds ``-log(eps)``
    (about 16.1 for the default) and its gradient is zero for a sample
    whose noisy probability is below ``eps``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores of the clean classes.
    target : torch.Tensor of shape (n_samples,)
        Noisy labels, integer class indices.
    transition_matrix : torch.Tensor or array-like of shape (n_classes, n_classes)
        ``T[i, j] = p(noisy = j | clean = i)``. A tensor keeps its autograd
        graph, so the loss is differentiable with respect to ``T``. Its values
        are *not* checked here (that would cost a host synchronisation per
        batch); :class:`ForwardCorrectedCrossEntropy` checks them once.
    eps : float, default=1e-7
        Floor on the noisy probability before the log.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import forward_corrected_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> T = torch.tensor([[0.8, 0.2], [0.3, 0.7]], requires_grad=True)
    >>> loss = forward_corrected_cross_entropy(logits, target, T)
    >>> round(loss.item(), 4)
    0.4353
    >>> loss.backward()
    >>> T.grad.shape
    torch.Size([2, 2])
    """
    target = _check_inputs(logits, target)
    eps = _check_open_unit(eps, "eps")
    _check_reduction(reduction)
    T = _matrix_like(transition_matrix, logits, "transition_matrix")
    # Only the target's column of T is needed: (p @ T)[y] = sum_k p_k T[k, y].
    # Gathering it is O(batch x C) where the full product is O(batch x C^2)
    # (42x the cost of cross-entropy at C = 1000, 2.3x gathered).
    columns = T.t().index_select(0, target)
    noisy_proba_of_target = (torch.softmax(logits, dim=1) * columns).sum(dim=1)
    loss = -torch.log(noisy_proba_of_target.clamp(min=eps, max=1.0))
    return _reduce(loss, reduction)


class ForwardCorrectedCrossEntropy(_Loss):
    """Forward-corrected cross-entropy loss (Patrini et al., CVPR 2017).

    ``loss(x, y~) = -log((softmax(f(x)) @ T)[y~])``: the network predicts
    clean-class scores, the known (or estimated) noise transition matrix maps
    them to noisy-label probabilities, and those are scored against the noisy
    label. With ``T`` the identity this is the ordinary cross-entropy.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``. Validated with
        :func:`sknoisy.utils._validation.check_transition_matrix` and stored
        as the float32 buffer ``T`` (it follows ``.to(device)``).
    eps : float, default=1e-7
        Floor on the noisy probability before the log.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Attributes
    ----------
    T : torch.Tensor of shape (n_classes, n_classes)
        The transition matrix buffer; also available as ``transition_matrix``.
    n_classes : int
        The number of classes.

    See Also
    --------
    forward_corrected_cross_entropy : The functional form.
    BackwardCorrectedCrossEntropy : The backward correction.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import ForwardCorrectedCrossEntropy
    >>> criterion = ForwardCorrectedCrossEntropy([[0.8, 0.2], [0.3, 0.7]])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> round(criterion(logits, target).item(), 4)
    0.4353
    >>> criterion.set_transition_matrix([[1.0, 0.0], [0.0, 1.0]])
    >>> round(criterion(logits, target).item(), 4)
    0.2201
    """

    _repr_params = ("n_classes", "eps")

    def __init__(self, transition_matrix, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        self.eps = _check_open_unit(eps, "eps")
        T = _validated_transition_matrix(transition_matrix)
        self.n_classes = T.shape[0]
        self.register_buffer("T", torch.as_tensor(T, dtype=torch.float32))

    @property
    def transition_matrix(self):
        """The transition matrix buffer (a tensor of shape (C, C))."""
        return self.T

    @transition_matrix.setter
    def transition_matrix(self, value):
        self.set_transition_matrix(value)

    def set_transition_matrix(self, transition_matrix):
        """Validate a new transition matrix and copy it into the buffer in place.

        The buffer keeps its device and dtype, so an optimizer or a skorch net
        holding this criterion sees the new matrix at once.

        Parameters
        ----------
        transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
            The new matrix; same number of classes as before.

        Returns
        -------
        None
        """
        T = _validated_transition_matrix(transition_matrix, n_classes=self.n_classes)
        with torch.no_grad():
            self.T.copy_(torch.as_tensor(T))

    def forward(self, logits, target):
        """Return the forward-corrected loss of ``logits`` against noisy ``target``."""
        return forward_corrected_cross_entropy(logits, target, self.T, eps=self.eps, reduction=self.reduction)


def backward_corrected_cross_entropy(
    logits, target, transition_matrix=None, eps=1e-7, reduction="mean", *, inverse_transition_matrix=None
):
    """Backward-corrected cross-entropy: ``(T^{-1} l(p))[target]``.

    ``l(p)_k = -log p_k`` is the vector of cross-entropy losses for every
    possible label; multiplying by ``T^{-1}`` makes the loss unbiased: for a
    clean label ``y`` and noisy labels drawn from ``T[y]``,
    ``E[(T^{-1} l)[y~]] = l_y``. ``T^{-1}`` has negative entries, so the loss
    is unbounded below and can be negative. ``l`` is computed with
    ``log_softmax`` and capped at ``-log(eps)`` (about 16.1), which keeps the
    loss finite for any logits without a per-batch finiteness check.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores of the clean classes.
    target : torch.Tensor of shape (n_samples,)
        Noisy labels, integer class indices.
    transition_matrix : torch.Tensor or array-like of shape (n_classes, n_classes), default=None
        ``T``; inverted here with :func:`torch.linalg.inv` (differentiable,
        but no conditioning check: :class:`BackwardCorrectedCrossEntropy`
        checks once). Give exactly one of ``transition_matrix`` and
        ``inverse_transition_matrix``.
    eps : float, default=1e-7
        The per-label losses are capped at ``-log(eps)``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    inverse_transition_matrix : torch.Tensor or array-like of shape (n_classes, n_classes), default=None
        A precomputed ``T^{-1}``.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import backward_corrected_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> T = torch.tensor([[0.8, 0.2], [0.3, 0.7]])
    >>> round(backward_corrected_cross_entropy(logits, target, T).item(), 4)
    -0.4799
    """
    target = _check_inputs(logits, target)
    eps = _check_open_unit(eps, "eps")
    _check_reduction(reduction)
    if (transition_matrix is None) == (inverse_transition_matrix is None):
        raise ValueError("give exactly one of transition_matrix and inverse_transition_matrix.")
    if inverse_transition_matrix is None:
        T_inv = torch.linalg.inv(_matrix_like(transition_matrix, logits, "transition_matrix"))
    else:
        T_inv = _matrix_like(inverse_transition_matrix, logits, "inverse_transition_matrix")
    per_label = (-F.log_softmax(logits, dim=1)).clamp(max=-math.log(eps))
    loss = (T_inv[target] * per_label).sum(dim=1)
    return _reduce(loss, reduction)


def _check_condition_threshold(value, name):
    if value is None:
        return None
    value = _check_real(value, name)
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (a condition number is never below 1) or None, got {value!r}.")
    return value


class BackwardCorrectedCrossEntropy(_Loss):
    """Backward-corrected cross-entropy loss (Patrini et al., CVPR 2017).

    ``loss(x, y~) = (T^{-1} l(p))[y~]`` with ``l(p)_k = -log p_k``: an
    unbiased estimate of the clean cross-entropy from noisy labels. It needs
    an invertible ``T``, and the loss is unbounded below (``T^{-1}`` has
    negative entries), so a badly conditioned ``T`` makes training diverge;
    forward correction is more robust in practice.

    ``T^{-1}`` is computed once, in float64, at construction (and by
    :meth:`set_transition_matrix`) and stored as the float32 buffer
    ``T_inv``. Conditioning is checked with 2-norm condition numbers:

    * ``T`` singular (rank below ``C``, or condition number above ``1e12``):
      :class:`ValueError`, whatever the thresholds below;
    * condition number above ``max_condition``: :class:`ValueError`
      (``None`` disables this check);
    * condition number above ``warn_condition``: :class:`UserWarning`
      (``None`` disables the warning).

    For reference, symmetric noise at rate ``r`` over ``C`` classes has
    condition number ``1 / |1 - r C / (C - 1)|`` (10 classes: 2.25 at
    ``r=0.5``, 9 at ``r=0.8``, infinite at ``r=0.9``).

    The per-label losses are capped at ``-log(eps)`` so the loss stays
    finite without a per-batch finiteness check (which would force a
    device synchronisation).

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``.
    eps : float, default=1e-7
        The per-label losses ``-log p_k`` are capped at ``-log(eps)``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.
    max_condition : float or None, default=1e6
        Refuse ``T`` whose condition number exceeds this.
    warn_condition : float or None, default=1e2
        Warn when the condition number exceeds this.

    Attributes
    ----------
    T : torch.Tensor of shape (n_classes, n_classes)
        The transition matrix buffer; also available as ``transition_matrix``.
    T_inv : torch.Tensor of shape (n_classes, n_classes)
        Its inverse.
    condition_number : float
        The 2-norm condition number of ``T``.
    n_classes : int
        The number of classes.

    See Also
    --------
    backward_corrected_cross_entropy : The functional form.
    ForwardCorrectedCrossEntropy : The forward correction.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import BackwardCorrectedCrossEntropy
    >>> criterion = BackwardCorrectedCrossEntropy([[0.8, 0.2], [0.3, 0.7]])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> round(criterion(logits, target).item(), 4)
    -0.4799
    >>> BackwardCorrectedCrossEntropy([[0.5, 0.5], [0.5, 0.5]])
    Traceback (most recent call last):
        ...
    ValueError: transition matrix is singular (rank 1 < 2 classes, ...); ... use forward correction ...
    """

    _repr_params = ("n_classes", "eps", "max_condition", "warn_condition")

    def __init__(self, transition_matrix, eps=1e-7, reduction="mean", max_condition=1e6, warn_condition=1e2):
        super().__init__(reduction)
        self.eps = _check_open_unit(eps, "eps")
        self.max_condition = _check_condition_threshold(max_condition, "max_condition")
        self.warn_condition = _check_condition_threshold(warn_condition, "warn_condition")
        T = _validated_transition_matrix(transition_matrix)
        self.n_classes = T.shape[0]
        T_inv, self.condition_number = self._invert(T)
        self.register_buffer("T", torch.as_tensor(T, dtype=torch.float32))
        self.register_buffer("T_inv", torch.as_tensor(T_inv, dtype=torch.float32))

    def _invert(self, T):
        n_classes = T.shape[0]
        # One SVD gives both the rank (numpy's matrix_rank tolerance) and the
        # 2-norm condition number; C = 1000 makes a second one noticeable.
        singular_values = np.linalg.svd(T, compute_uv=False)
        tol = singular_values[0] * n_classes * np.finfo(np.float64).eps
        rank = int((singular_values > tol).sum())
        with np.errstate(divide="ignore"):
            cond = float(singular_values[0] / singular_values[-1])
        if rank < n_classes or not np.isfinite(cond) or cond > _SINGULAR_CONDITION:
            if rank < n_classes:
                cond = math.inf
            raise ValueError(
                f"transition matrix is singular (rank {rank} < {n_classes} classes, condition number {cond:.3g}); "
                "backward correction needs an invertible T; use forward correction "
                "(ForwardCorrectedCrossEntropy) instead."
            )
        if self.max_condition is not None and cond > self.max_condition:
            raise ValueError(
                f"transition matrix is too ill-conditioned for backward correction (condition number "
                f"{cond:.3g} > max_condition={self.max_condition:.3g}): its inverse has huge entries of both "
                "signs and training would diverge. Use forward correction (ForwardCorrectedCrossEntropy), "
                "or raise max_condition to train anyway."
            )
        if self.warn_condition is not None and cond > self.warn_condition:
            warnings.warn(
                f"transition matrix is ill-conditioned (condition number {cond:.3g} > "
                f"warn_condition={self.warn_condition:.3g}); the backward-corrected loss is unbounded below "
                "and training may diverge. Forward correction is more robust.",
                UserWarning,
                stacklevel=3,
            )
        return np.linalg.inv(T), cond

    @property
    def transition_matrix(self):
        """The transition matrix buffer (a tensor of shape (C, C))."""
        return self.T

    @transition_matrix.setter
    def transition_matrix(self, value):
        self.set_transition_matrix(value)

    def set_transition_matrix(self, transition_matrix):
        """Validate and invert a new transition matrix; update both buffers in place.

        Parameters
        ----------
        transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
            The new matrix; same number of classes as before.

        Returns
        -------
        None
        """
        T = _validated_transition_matrix(transition_matrix, n_classes=self.n_classes)
        T_inv, cond = self._invert(T)
        self.condition_number = cond
        with torch.no_grad():
            self.T.copy_(torch.as_tensor(T))
            self.T_inv.copy_(torch.as_tensor(T_inv))

    def forward(self, logits, target):
        """Return the backward-corrected loss of ``logits`` against noisy ``target``."""
        return backward_corrected_cross_entropy(
            logits, target, eps=self.eps, reduction=self.reduction, inverse_transition_matrix=self.T_inv
        )


# --------------------------------------------------------------------------
# robust losses: normalised (active), passive, and the earlier robust losses
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


def normalized_focal_loss(logits, target, gamma=0.5, eps=1e-7, detach_denominator=False, reduction="mean"):
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
        Stop the gradient through the normaliser ``sum_k FL(k)``, as the
        authors' released code does. The default differentiates the whole
        normalised loss, as for NCE.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

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


def _check_member(value, valid, name):
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}.")
    return value


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
        NFL only: stop the gradient through its normaliser.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

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
            logits, target, gamma=gamma, eps=eps, detach_denominator=detach_denominator, reduction="none"
        )
    else:
        active_loss = normalized_generalized_cross_entropy(logits, target, q=q, eps=eps, reduction="none")
    if passive == "rce":
        passive_loss = reverse_cross_entropy(logits, target, label_min=label_min, reduction="none")
    else:
        passive_loss = mean_absolute_error_loss(logits, target, reduction="none")
    return _reduce(alpha * active_loss + beta * passive_loss, reduction)


class NormalizedCrossEntropy(_Loss):
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

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return normalized_cross_entropy(logits, target, reduction=self.reduction)


class NormalizedFocalLoss(_Loss):
    """Normalized focal loss (NFL), a robust active loss.

    See :func:`normalized_focal_loss` for the formula.

    Parameters
    ----------
    gamma : float, default=0.5
        Focusing parameter, ``gamma >= 0``.
    eps : float, default=1e-7
        Floor on ``1 - p_k``.
    detach_denominator : bool, default=False
        Stop the gradient through the normaliser (the authors' code does).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import NormalizedFocalLoss
    >>> logits = torch.tensor([[2.0, 0.0, -1.0]])
    >>> round(NormalizedFocalLoss(gamma=0.5)(logits, torch.tensor([0])).item(), 4)
    0.0129
    """

    _repr_params = ("gamma", "eps", "detach_denominator")

    def __init__(self, gamma=0.5, eps=1e-7, detach_denominator=False, reduction="mean"):
        super().__init__(reduction)
        self.gamma = _check_gamma(gamma)
        self.eps = _check_open_unit(eps, "eps")
        self.detach_denominator = bool(detach_denominator)

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return normalized_focal_loss(
            logits,
            target,
            gamma=self.gamma,
            eps=self.eps,
            detach_denominator=self.detach_denominator,
            reduction=self.reduction,
        )


class NormalizedGeneralizedCrossEntropy(_Loss):
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

    _repr_params = ("q", "eps")

    def __init__(self, q=0.7, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        self.q = _check_q(q)
        self.eps = _check_open_unit(eps, "eps")

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return normalized_generalized_cross_entropy(logits, target, q=self.q, eps=self.eps, reduction=self.reduction)


class ReverseCrossEntropy(_Loss):
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

    _repr_params = ("label_min",)

    def __init__(self, label_min=1e-4, reduction="mean"):
        super().__init__(reduction)
        self.label_min = _check_open_unit(label_min, "label_min")

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return reverse_cross_entropy(logits, target, label_min=self.label_min, reduction=self.reduction)


class MeanAbsoluteError(_Loss):
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

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return mean_absolute_error_loss(logits, target, reduction=self.reduction)


class GeneralizedCrossEntropy(_Loss):
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

    _repr_params = ("q",)

    def __init__(self, q=0.7, reduction="mean"):
        super().__init__(reduction)
        self.q = _check_q(q)

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return generalized_cross_entropy(logits, target, q=self.q, reduction=self.reduction)


class SymmetricCrossEntropy(_Loss):
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

    _repr_params = ("alpha", "beta", "label_min")

    def __init__(self, alpha=0.1, beta=1.0, label_min=1e-4, reduction="mean"):
        super().__init__(reduction)
        self.alpha, self.beta = _check_weights(alpha, beta)
        self.label_min = _check_open_unit(label_min, "label_min")

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return symmetric_cross_entropy(
            logits, target, alpha=self.alpha, beta=self.beta, label_min=self.label_min, reduction=self.reduction
        )


class ActivePassiveLoss(_Loss):
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
        NFL only: stop the gradient through its normaliser.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

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
    ):
        super().__init__(reduction)
        self.active = _check_member(active, ACTIVE_LOSSES, "active")
        self.passive = _check_member(passive, PASSIVE_LOSSES, "passive")
        self.alpha, self.beta = _check_weights(alpha, beta)
        self.gamma = _check_gamma(gamma)
        self.q = _check_q(q)
        self.eps = _check_open_unit(eps, "eps")
        self.label_min = _check_open_unit(label_min, "label_min")
        self.detach_denominator = bool(detach_denominator)

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        return active_passive_loss(
            logits,
            target,
            active=self.active,
            passive=self.passive,
            alpha=self.alpha,
            beta=self.beta,
            gamma=self.gamma,
            q=self.q,
            eps=self.eps,
            label_min=self.label_min,
            detach_denominator=self.detach_denominator,
            reduction=self.reduction,
        )


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

_SINGLE_LOSSES = {
    "ce": nn.CrossEntropyLoss,
    "gce": GeneralizedCrossEntropy,
    "sce": SymmetricCrossEntropy,
    "nce": NormalizedCrossEntropy,
    "nfl": NormalizedFocalLoss,
    "ngce": NormalizedGeneralizedCrossEntropy,
    "rce": ReverseCrossEntropy,
    "mae": MeanAbsoluteError,
}
_APL_NAMES = tuple(f"{a}+{p}" for a in ACTIVE_LOSSES for p in PASSIVE_LOSSES)

LOSS_NAMES = tuple(_SINGLE_LOSSES) + _APL_NAMES

LOSSES = types.MappingProxyType(
    {
        **_SINGLE_LOSSES,
        **{
            name: functools.partial(ActivePassiveLoss, active=name.split("+")[0], passive=name.split("+")[1])
            for name in _APL_NAMES
        },
    }
)


def _frozen(table):
    return types.MappingProxyType({key: types.MappingProxyType(dict(value)) for key, value in table.items()})


def _apl_params(alpha, beta, q_ngce):
    return {
        "nce+rce": {"alpha": alpha[0], "beta": beta[0]},
        "nce+mae": {"alpha": alpha[1], "beta": beta[1]},
        "nfl+rce": {"alpha": alpha[0], "beta": beta[0], "gamma": 0.5},
        "nfl+mae": {"alpha": alpha[1], "beta": beta[1], "gamma": 0.5},
        "ngce+rce": {"alpha": alpha[0], "beta": beta[0], "q": q_ngce},
        "ngce+mae": {"alpha": alpha[1], "beta": beta[1], "q": q_ngce},
    }


# The authors' released symmetric-noise configurations (Ma et al. 2020).
# (alpha, beta) are given as (with RCE, with MAE).
PUBLISHED_LOSS_PARAMS = types.MappingProxyType(
    {
        "mnist": _frozen(
            {
                "gce": {"q": 0.7},
                "sce": {"alpha": 0.01, "beta": 1.0},
                **_apl_params(alpha=(1.0, 1.0), beta=(10.0, 10.0), q_ngce=0.1),
            }
        ),
        "cifar10": _frozen(
            {
                "gce": {"q": 0.7},
                "sce": {"alpha": 0.1, "beta": 1.0},
                **_apl_params(alpha=(1.0, 1.0), beta=(1.0, 1.0), q_ngce=0.1),
            }
        ),
        "cifar100": _frozen(
            {
                "gce": {"q": 0.7},
                "sce": {"alpha": 6.0, "beta": 0.1},
                **_apl_params(alpha=(10.0, 10.0), beta=(0.1, 1.0), q_ngce=0.7),
            }
        ),
    }
)

DEFAULT_LOSS_PARAMS = _frozen(
    {
        "ce": {},
        "nce": {},
        "nfl": {"gamma": 0.5},
        "ngce": {"q": 0.1},
        "rce": {},
        "mae": {},
        **PUBLISHED_LOSS_PARAMS["cifar10"],
    }
)


def make_loss(name, **params):
    """Build a fresh loss module by name.

    Parameters
    ----------
    name : str
        One of ``LOSS_NAMES``: ``'ce'``, ``'gce'``, ``'sce'``, ``'nce'``,
        ``'nfl'``, ``'ngce'``, ``'rce'``, ``'mae'``, or an active-passive pair
        such as ``'nce+rce'``.
    **params
        Keyword arguments of the loss class (e.g. ``alpha``, ``beta``,
        ``q``, ``gamma``, ``reduction``). Nothing is filled in from
        ``DEFAULT_LOSS_PARAMS``: pass ``**DEFAULT_LOSS_PARAMS[name]`` to use
        the authors' settings.

    Returns
    -------
    loss : torch.nn.Module
        The loss; ``'ce'`` gives :class:`torch.nn.CrossEntropyLoss`.

    Raises
    ------
    ValueError
        For an unknown name, or ``active``/``passive`` given with an
        active-passive name (the name fixes them).

    Examples
    --------
    >>> from sknoisy.losses import make_loss, DEFAULT_LOSS_PARAMS
    >>> make_loss("nfl+mae", **DEFAULT_LOSS_PARAMS["nfl+mae"])
    ActivePassiveLoss(active='nfl', passive='mae', alpha=1.0, beta=1.0, gamma=0.5, q=0.7, reduction='mean')
    >>> make_loss("gce", q=0.5)
    GeneralizedCrossEntropy(q=0.5, reduction='mean')
    """
    if not isinstance(name, str) or name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names are {', '.join(map(repr, LOSS_NAMES))}.")
    if name in _APL_NAMES:
        fixed = sorted({"active", "passive"} & set(params))
        if fixed:
            raise ValueError(
                f"loss {name!r} fixes {' and '.join(fixed)}; use ActivePassiveLoss directly to choose them."
            )
    return LOSSES[name](**params)


class GoldCorrectedCrossEntropy(nn.Module):
    """GLC's joint loss: cross-entropy on trusted rows, forward correction on the others.

    For a batch of ``n`` rows the loss is ``(sum over trusted rows of
    CE(logits, y) + sum over untrusted rows of -log((softmax(logits) @ T)[y]))
    / n`` (Hendrycks et al., 2018): the trusted labels are clean and need no
    correction, the untrusted ones are pushed through the noise model.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``; validated once
        and stored as the float32 buffer ``T`` (it follows ``.to(device)``).
    eps : float, default=1e-7
        Floor on the noisy probability before the log (forward part only).

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import GoldCorrectedCrossEntropy
    >>> loss = GoldCorrectedCrossEntropy([[0.8, 0.2], [0.3, 0.7]])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> round(loss(logits, target, torch.tensor([True, True])).item(), 4)
    0.2201
    >>> round(loss(logits, target, torch.tensor([False, False])).item(), 4)
    0.4353
    """

    def __init__(self, transition_matrix, eps=1e-7):
        super().__init__()
        if isinstance(transition_matrix, torch.Tensor):
            transition_matrix = transition_matrix.detach().cpu().double().numpy()
        T = check_transition_matrix(transition_matrix)
        if not 0.0 < float(eps) < 1.0:
            raise ValueError(f"eps must be in (0, 1), got {eps!r}.")
        self.eps = float(eps)
        self.n_classes = T.shape[0]
        self.register_buffer("T", torch.as_tensor(T, dtype=torch.float32))

    def set_transition_matrix(self, transition_matrix):
        """Validate a new transition matrix and copy it into the buffer in place.

        Parameters
        ----------
        transition_matrix : array-like of shape (n_classes, n_classes)

        Returns
        -------
        None
        """
        T = check_transition_matrix(transition_matrix, self.n_classes)
        with torch.no_grad():
            self.T.copy_(torch.as_tensor(T))

    def forward(self, logits, target, trusted):
        """Joint loss of ``logits`` against ``target``; ``trusted`` is a boolean tensor."""
        clean = F.cross_entropy(logits, target, reduction="none")
        corrected = forward_corrected_cross_entropy(logits, target, self.T, eps=self.eps, reduction="none")
        # One vectorised selection: no Python loop and no host synchronisation.
        return torch.where(trusted, clean, corrected).mean()

    def extra_repr(self):
        return f"n_classes={self.n_classes}, eps={self.eps!r}"
