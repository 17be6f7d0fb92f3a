"""Losses that use a noise transition matrix T: forward, backward and gold correction.

:class:`VolMinCrossEntropy` is the forward correction whose T is a learned
parameter (VolMinNet).

``T[i, j] = p(noisy = j | clean = i)``, rows sum to one, and the forward
noise model is ``p_noisy = p_clean @ T``. Every criterion here subclasses
:class:`TransitionMatrixLoss`, which owns T: its validation, the float32
buffer ``T`` (it follows ``.to(device)``), the ``transition_matrix``
property and :meth:`~TransitionMatrixLoss.set_transition_matrix`, which a
classifier calls whenever its T changes.
"""

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import lapack

from ..utils._validation import check_transition_matrix
from ._base import _check_inputs, _check_non_negative, _check_open_unit, _check_real, _check_reduction, _Loss, _reduce

__all__ = [
    "BackwardCorrectedCrossEntropy",
    "EstimatedTransitionBackwardWarning",
    "ForwardCorrectedCrossEntropy",
    "GoldCorrectedCrossEntropy",
    "TransitionMatrixLoss",
    "VolMinCrossEntropy",
    "backward_corrected_cross_entropy",
    "check_invertible",
    "warn_backward_with_estimated_T",
    "forward_corrected_cross_entropy",
    "gold_corrected_cross_entropy",
]

# A transition matrix this badly conditioned is singular for all practical
# purposes: its computed inverse is dominated by rounding error.
_SINGULAR_CONDITION = 1e12
# Backward correction's default thresholds, shared by check_invertible and
# BackwardCorrectedCrossEntropy.
_MAX_CONDITION = 1e6
_WARN_CONDITION = 1e2


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


def _as_float64(matrix):
    """An array-like or tensor (of any device, with or without grad) as float64 numpy."""
    if isinstance(matrix, torch.Tensor):
        return matrix.detach().cpu().to(torch.float64).numpy()
    return matrix


def _validated_transition_matrix(transition_matrix, n_classes=None):
    """Validate ``T`` (array-like or tensor) and return it as float64 numpy."""
    return check_transition_matrix(_as_float64(transition_matrix), n_classes=n_classes)


# --------------------------------------------------------------------------
# the base of every T-using criterion
# --------------------------------------------------------------------------


class TransitionMatrixLoss(_Loss):
    """Base of the criteria that use a noise transition matrix T.

    It validates ``T`` with
    :func:`sknoisy.utils._validation.check_transition_matrix` and stores it
    as the float32 buffer ``T``; :meth:`set_transition_matrix` (or assigning
    ``transition_matrix``) replaces it in place with the same checks. A
    subclass writes ``forward`` and, when it keeps tensors derived from
    ``T`` (an inverse, say), overrides :meth:`_buffers_for`.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``.
    eps : float, default=1e-7
        Numerical floor of the subclass's loss, in ``(0, 1)``.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Attributes
    ----------
    T : torch.Tensor of shape (n_classes, n_classes)
        The transition matrix buffer; also available as ``transition_matrix``.
    n_classes : int
        The number of classes.

    Examples
    --------
    A criterion that scores the noisy label by its probability under the
    noise model (a scaled forward correction):

    >>> import torch
    >>> from sknoisy.losses import TransitionMatrixLoss
    >>> class NoisyProbabilityLoss(TransitionMatrixLoss):
    ...     def forward(self, logits, target):
    ...         noisy = torch.softmax(logits, dim=1) @ self.T
    ...         return 1 - noisy.gather(1, target[:, None]).mean()
    >>> criterion = NoisyProbabilityLoss([[0.8, 0.2], [0.3, 0.7]])
    >>> criterion
    NoisyProbabilityLoss(n_classes=2, eps=1e-07, reduction='mean')
    >>> criterion.set_transition_matrix([[1.0, 0.0], [0.0, 1.0]])
    >>> criterion.transition_matrix
    tensor([[1., 0.],
            [0., 1.]])
    """

    _repr_params = ("n_classes", "eps")

    def __init__(self, transition_matrix, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        self.eps = _check_open_unit(eps, "eps")
        T = _validated_transition_matrix(transition_matrix)
        self.n_classes = T.shape[0]
        for name, value in self._buffers_for(T).items():
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))

    def _buffers_for(self, T):
        """The buffers to hold for a validated float64 ``T``, by name.

        Everything that can fail is computed here, before any buffer changes,
        so that a refused matrix leaves the criterion as it was.
        """
        return {"T": T}

    @property
    def transition_matrix(self):
        """The transition matrix buffer (a tensor of shape (C, C))."""
        return self.T

    @transition_matrix.setter
    def transition_matrix(self, value):
        self.set_transition_matrix(value)

    def set_transition_matrix(self, transition_matrix):
        """Validate a new transition matrix and copy it into the buffer in place.

        The buffers keep their device and dtype, so an optimizer or a skorch
        net holding this criterion sees the new matrix at once.

        Parameters
        ----------
        transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
            The new matrix; same number of classes as before.

        Returns
        -------
        None
        """
        T = _validated_transition_matrix(transition_matrix, n_classes=self.n_classes)
        buffers = self._buffers_for(T)
        with torch.no_grad():
            for name, value in buffers.items():
                getattr(self, name).copy_(torch.as_tensor(value))


# --------------------------------------------------------------------------
# forward correction
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
    return _forward_corrected_loss(logits, target, T, eps, reduction)


#: Up to this many classes the forward-corrected loss takes the whole product ``p @ T``
#: (5 tensor operations, where on small batches each operation's fixed cost dominates):
#: measured on a batch of 128, forward + backward, 0.8x the gather's time at C = 10-50,
#: 1.2x at C = 100, 1.9x at C = 200. Above, it gathers the target's column of T,
#: O(batch x C) instead of O(batch x C^2) (the product cost 42x cross-entropy at C = 1000).
_PRODUCT_MAX_CLASSES = 64


def _forward_corrected_loss(logits, target, T, eps, reduction, trusted=None):
    """``-log(clamp((softmax(logits) @ T)[target], eps, 1))`` per row, reduced; checked inputs.

    Rows flagged in ``trusted`` (GLC) cost the plain cross-entropy instead.
    Both ways of computing it give the same value and gradient up to float
    rounding (tested).
    """
    # With trusted rows, their cross-entropy needs the log-probabilities: one log-softmax then gives
    # the probabilities too (exp), where a softmax and a log-softmax took 1.2x the loss's time.
    log_p = None if trusted is None else F.log_softmax(logits, dim=1)
    p = torch.softmax(logits, dim=1) if log_p is None else log_p.exp()
    if logits.shape[1] <= _PRODUCT_MAX_CLASSES:
        log_noisy = torch.log((p @ T).clamp(min=eps, max=1.0))
        if trusted is not None:
            log_noisy = torch.where(trusted.unsqueeze(1), log_p, log_noisy)
        return F.nll_loss(log_noisy, target, reduction=reduction)
    # Only the target's column of T is needed: (p @ T)[y] = sum_k p_k T[k, y].
    columns = T.t().index_select(0, target)
    loss = -torch.log((p * columns).sum(dim=1).clamp(min=eps, max=1.0))
    if trusted is not None:
        loss = torch.where(trusted, F.nll_loss(log_p, target, reduction="none"), loss)
    return _reduce(loss, reduction)


class ForwardCorrectedCrossEntropy(TransitionMatrixLoss):
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

    def forward(self, logits, target):
        """Return the forward-corrected loss of ``logits`` against noisy ``target``."""
        return forward_corrected_cross_entropy(logits, target, self.T, eps=self.eps, reduction=self.reduction)


# --------------------------------------------------------------------------
# forward correction with a learned T (VolMinNet)
# --------------------------------------------------------------------------


def _volmin_logits(T):
    """Off-diagonal logits ``W`` with ``rownorm(I + sigmoid(W) * (1 - I)) == T``.

    ``T[i, j] / T[i, i] = sigmoid(W[i, j])``, so every off-diagonal entry
    must be below its row's diagonal entry.
    """
    diagonal = np.diag(T)
    off = ~np.eye(T.shape[0], dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = T / diagonal[:, None]
    bad = np.nonzero(off & ~(ratio < 1))
    if bad[0].size:
        i, j = int(bad[0][0]), int(bad[1][0])
        raise ValueError(
            "VolMinCrossEntropy parameterises T as rownorm(I + sigmoid(W) * (1 - I)), so every off-diagonal "
            f"entry must be below its row's diagonal entry; T[{i}, {j}] = {T[i, j]:.4g} >= T[{i}, {i}] = "
            f"{T[i, i]:.4g}. Start from a diagonally larger matrix (e.g. the default initial T)."
        )
    # a zero off-diagonal entry gets a very negative (finite) logit
    ratio = np.clip(ratio, 1e-6, None)
    logits = np.log(ratio) - np.log1p(-np.where(off, ratio, 0.0))
    return np.where(off, logits, 0.0)


def _volume_gradient(T, weight):
    """``G`` with ``sum(T * G) == weight * log|det T|`` and ``d sum(T * G) / dW`` that of the volume.

    ``G = weight * T^-T + a`` with ``a = weight * (log|det T| - C) / C``:
    ``sum(T * T^-T) = trace(T T^-1) = C`` and every row of T sums to one, so
    the sum has the volume's value, and its gradient with respect to T is
    ``weight * T^-T`` (the volume's) plus a constant per row, which the
    softmax that makes T from ``W`` cancels. One tensor operation then
    carries both the value and the gradient of the penalty. T is detached;
    the factorisation runs in float64 without autograd: on the CPU one LAPACK
    LU in numpy (a tenth of torch's call overhead for 10 x 10), elsewhere
    torch on T's device with no host synchronisation.
    """
    n_classes = T.shape[0]
    if T.device.type == "cpu":
        T_host = T.numpy()
        LU, pivots, info = lapack.dgetrf(T_host.astype(np.float64))
        if info == 0:
            inverse, info = lapack.dgetri(LU, pivots)
        if info != 0:
            _raise_singular_volmin()
        log_det = np.log(np.abs(LU.diagonal())).sum()
        G = weight * inverse.T + weight * (log_det - n_classes) / n_classes
        return torch.from_numpy(G.astype(T_host.dtype, copy=False))
    try:
        T64 = T.to(torch.float64)
        log_det = torch.linalg.slogdet(T64).logabsdet
        G = weight * torch.linalg.inv(T64).mT + weight * (log_det - n_classes) / n_classes
    except torch.linalg.LinAlgError as exc:
        _raise_singular_volmin(exc)
    return G.to(T.dtype)


def _raise_singular_volmin(cause=None):
    raise ValueError(
        "VolMinCrossEntropy's learned transition matrix became singular (log|det T| = -inf); lower the "
        "volume weight (ForwardCorrectedClassifier's volmin_lambda) or T's learning rate (volmin_lr)."
    ) from cause


class VolMinCrossEntropy(ForwardCorrectedCrossEntropy):
    """Forward-corrected cross-entropy with a learned T and a volume penalty (VolMinNet).

    ``loss = -log((softmax(f(x)) @ T)[y~]) + volume_weight * log|det T|``
    (Li et al., ICML 2021), with T a learnable parameter of this criterion:
    ``T = rownorm(I + sigmoid(W) * (1 - I))``, the paper's
    parameterisation, which keeps T row-stochastic with every off-diagonal
    entry below its row's diagonal one. Minimising the log-determinant
    (the volume of the simplex spanned by T's rows) while fitting the noisy
    labels finds T without anchor points, under the paper's "sufficiently
    scattered" assumption on the clean posteriors.

    The parameter ``W`` is an ``nn.Parameter``, so a skorch net whose
    criterion this is optimises it with the network (skorch hands every
    learnable parameter of its criterion to the optimizer).
    :class:`~sknoisy.ForwardCorrectedClassifier` builds it for
    ``transition_matrix='volmin'``.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        The initial T: row-stochastic, every off-diagonal entry below its
        row's diagonal entry.
    volume_weight : float >= 0, default=1e-4
        lambda, the weight of ``log|det T|`` (the paper's 1e-4).
    eps : float, default=1e-7
        Floor on the noisy probability before the log.
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses. The volume term is part of
        every sample's loss, so 'mean' adds it once and 'sum' once per
        sample (as summing the 'none' losses would).

    Attributes
    ----------
    transition_logits : torch.nn.Parameter of shape (n_classes, n_classes)
        ``W`` (its diagonal is unused and stays at zero).
    T : torch.Tensor of shape (n_classes, n_classes)
        The current T, computed from ``W`` (differentiable); also available,
        detached, as ``transition_matrix``.
    n_classes : int
        The number of classes.

    See Also
    --------
    ForwardCorrectedCrossEntropy : The forward correction with a fixed T.

    References
    ----------
    X. Li, T. Liu, B. Han, G. Niu and M. Sugiyama, "Provably End-to-end
    Label-noise Learning without Anchor Points", ICML 2021.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import VolMinCrossEntropy
    >>> criterion = VolMinCrossEntropy([[0.8, 0.2], [0.3, 0.7]], volume_weight=0.1)
    >>> criterion.transition_matrix
    tensor([[0.8000, 0.2000],
            [0.3000, 0.7000]])
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> loss = criterion(logits, torch.tensor([0, 1]))
    >>> round(loss.item(), 4)  # 0.4353 + 0.1 * log(0.5)
    0.366
    >>> loss.backward()
    >>> criterion.transition_logits.grad.shape
    torch.Size([2, 2])
    """

    _repr_params = ("n_classes", "volume_weight", "eps")

    def __init__(self, transition_matrix, volume_weight=1e-4, eps=1e-7, reduction="mean"):
        self.volume_weight = _check_non_negative(volume_weight, "volume_weight")
        super().__init__(transition_matrix, eps=eps, reduction=reduction)
        logits = _volmin_logits(_validated_transition_matrix(transition_matrix))
        self.transition_logits = torch.nn.Parameter(torch.as_tensor(logits, dtype=torch.float32))

    def _buffers_for(self, T):
        # T is no buffer here but a function of the parameter W; refuse a T that W cannot represent now
        _volmin_logits(T)
        return {"_off_diagonal": (~np.eye(T.shape[0], dtype=bool)).astype(np.float32)}

    @property
    def T(self):
        # rownorm(I + sigmoid(W) * off) as softmax(logsigmoid(W) * off): the diagonal's exp(0) is the 1, and
        # three operations per batch instead of six (a small network's step pays each one's fixed cost)
        return torch.softmax(F.logsigmoid(self.transition_logits) * self._off_diagonal, dim=1)

    @property
    def transition_matrix(self):
        """The current T, detached (a tensor of shape (C, C))."""
        return self.T.detach()

    @transition_matrix.setter
    def transition_matrix(self, value):
        self.set_transition_matrix(value)

    def set_transition_matrix(self, transition_matrix):
        """Restart the learned T from ``transition_matrix`` (in place; the parameter keeps its identity).

        Parameters
        ----------
        transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
            Row-stochastic, every off-diagonal entry below its row's
            diagonal entry.

        Returns
        -------
        None
        """
        T = _validated_transition_matrix(transition_matrix, n_classes=self.n_classes)
        logits = _volmin_logits(T)
        with torch.no_grad():
            self.transition_logits.copy_(torch.as_tensor(logits))

    def forward(self, logits, target):
        """Return the forward-corrected loss with the learned T plus the volume penalty."""
        T = self.T
        loss = forward_corrected_cross_entropy(logits, target, T, eps=self.eps, reduction=self.reduction)
        if self.volume_weight:
            # every row's loss carries the term: 'sum' adds it once per row, as 'none' then a sum would
            weight = self.volume_weight * (target.shape[0] if self.reduction == "sum" else 1)
            # the penalty's value and its exact gradient (d log|det T| / dT = T^-T) in one product with T, from one
            # LU: against torch's slogdet through autograd this about halved the criterion's cost over the given-T
            # correction (benchmarks/fused_loss_tries.py). T stepped on every k-th batch only, to save the cost,
            # lost up to 21 points on validation splits (benchmarks/results/volmin_step_every_tries.md).
            loss = loss + (T * _volume_gradient(T.detach(), weight)).sum()
        return loss


# --------------------------------------------------------------------------
# backward correction
# --------------------------------------------------------------------------


def _check_condition_threshold(value, name):
    if value is None:
        return None
    value = _check_real(value, name)
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (a condition number is never below 1) or None, got {value!r}.")
    return value


def check_invertible(
    transition_matrix, *, max_condition=_MAX_CONDITION, warn_condition=_WARN_CONDITION, return_condition=False
):
    """Invert a transition matrix for backward correction, refusing a singular one.

    Conditioning is judged by the 2-norm condition number (one SVD):

    * ``T`` singular (rank below ``C``, or condition number above ``1e12``):
      :class:`ValueError`, whatever the thresholds below;
    * condition number above ``max_condition``: :class:`ValueError`
      (``None`` disables this check);
    * condition number above ``warn_condition``: :class:`UserWarning`
      (``None`` disables the warning).

    For reference, symmetric noise at rate ``r`` over ``C`` classes has
    condition number ``1 / |1 - r C / (C - 1)|`` (10 classes: 2.25 at
    ``r=0.5``, 9 at ``r=0.8``, infinite at ``r=0.9``).

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        The matrix ``T``, used as given (validate it first with
        :func:`sknoisy.check_transition_matrix`).
    max_condition : float >= 1 or None, default=1e6
        Refuse ``T`` whose condition number exceeds this.
    warn_condition : float >= 1 or None, default=1e2
        Warn when the condition number exceeds this.
    return_condition : bool, default=False
        Also return the condition number.

    Returns
    -------
    inverse : ndarray of shape (n_classes, n_classes), float64
        ``T^{-1}``.
    condition_number : float
        Only when ``return_condition`` is True.

    Raises
    ------
    ValueError
        If ``T`` is singular or its condition number exceeds
        ``max_condition``, or a threshold is below 1.

    Examples
    --------
    >>> from sknoisy.losses import check_invertible
    >>> inverse, condition = check_invertible([[0.8, 0.2], [0.3, 0.7]], return_condition=True)
    >>> inverse
    array([[ 1.4, -0.4],
           [-0.6,  1.6]])
    >>> round(condition, 3)
    2.027
    >>> check_invertible([[0.5, 0.5], [0.5, 0.5]])
    Traceback (most recent call last):
        ...
    ValueError: transition matrix is singular (rank 1 < 2 classes, ...); ... use forward correction ...
    """
    max_condition = _check_condition_threshold(max_condition, "max_condition")
    warn_condition = _check_condition_threshold(warn_condition, "warn_condition")
    T = np.asarray(_as_float64(transition_matrix), dtype=np.float64)
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise ValueError(f"transition matrix must be a square 2-D array, got shape {T.shape}.")
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
    if max_condition is not None and cond > max_condition:
        raise ValueError(
            f"transition matrix is too ill-conditioned for backward correction (condition number "
            f"{cond:.3g} > max_condition={max_condition:.3g}): its inverse has huge entries of both "
            "signs and training would diverge. Use forward correction (ForwardCorrectedCrossEntropy), "
            "or raise max_condition to train anyway."
        )
    if warn_condition is not None and cond > warn_condition:
        warnings.warn(
            f"transition matrix is ill-conditioned (condition number {cond:.3g} > "
            f"warn_condition={warn_condition:.3g}); the backward-corrected loss is unbounded below "
            "and training may diverge. Forward correction is more robust.",
            UserWarning,
            stacklevel=2,
        )
    inverse = np.linalg.inv(T)
    return (inverse, cond) if return_condition else inverse


class EstimatedTransitionBackwardWarning(UserWarning):
    """Backward correction with an estimated transition matrix: expect it to fall below plain cross-entropy."""


def warn_backward_with_estimated_T(transition_matrix, *, source="estimated", stacklevel=2):
    """Warn that backward correction with an estimated T is unreliable, whatever T's conditioning.

    Backward correction multiplies the vector of per-label losses by
    ``T^{-1}``, so an error in an estimated T reaches the loss amplified by
    the inverse; forward correction only multiplies probabilities by T. On
    sknoisy's MNIST benchmark ``benchmarks/results/volmin.md`` (uniform,
    flip-random and flip-to-one noise at 20% and 40%, validation split)
    backward correction with the anchor estimate fell below plain
    cross-entropy in 5 of the 6 settings (by 2.6 to 6.8 points) and below
    forward correction with the same estimate in all 6 (by 4.5 to 9
    points); in ``benchmarks/results/mlc_protocol.md`` it fell below
    cross-entropy in 11 of 12. No property of the matrix tells those
    estimates apart from the true matrices with which backward correction
    beats cross-entropy: the failing estimates have condition numbers 1.6
    to 3.3 (far below :func:`check_invertible`'s warning at 100), the
    true flip-to-one matrices where it works 1.9 and 6.6, and no
    threshold on the smallest singular value, the smallest diagonal entry,
    the row separation or the largest absolute row sum of the inverse
    separates them either. The criterion is therefore the matrix's provenance (it was
    estimated), not a threshold; the message gives the smallest singular
    value, the smallest diagonal entry and the largest absolute row sum of
    ``T^{-1}`` (the factor by which an error in the per-label losses can
    grow) for the record.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        The estimated T (invertible: call :func:`check_invertible` first).
    source : str, default="estimated"
        How T was obtained, for the message (e.g. "estimated with method 'anchor'").
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`.

    Returns
    -------
    None

    Warns
    -----
    EstimatedTransitionBackwardWarning
        Always: calling this function is the decision that T is estimated.

    Examples
    --------
    >>> import pytest
    >>> from sknoisy.losses import EstimatedTransitionBackwardWarning, warn_backward_with_estimated_T
    >>> with pytest.warns(EstimatedTransitionBackwardWarning, match="use forward correction"):
    ...     warn_backward_with_estimated_T([[0.8, 0.2], [0.3, 0.7]])
    """
    T = np.asarray(_as_float64(transition_matrix), dtype=np.float64)
    singular = np.linalg.svd(T, compute_uv=False)
    amplification = float(np.abs(np.linalg.inv(T)).sum(axis=1).max())
    warnings.warn(
        f"backward correction with an {source} transition matrix is unreliable: the loss is multiplied by "
        "T^-1, which amplifies the estimate's errors (this matrix: smallest singular value "
        f"{singular[-1]:.3g}, smallest diagonal entry {np.diag(T).min():.3g}, largest absolute row sum of "
        f"T^-1 {amplification:.3g}); in sknoisy's benchmarks backward correction with an estimated T fell "
        "below plain cross-entropy in 5 of 6 noise settings and below forward correction with the same "
        "estimate in all 6, however well-behaved the estimate. "
        "Prefer ForwardCorrectedClassifier (use forward correction with the same estimate, or "
        "transition_matrix='volmin'), or pass a known T as an array.",
        EstimatedTransitionBackwardWarning,
        stacklevel=stacklevel,
    )


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
        but no conditioning check: :func:`check_invertible` does it, and
        :class:`BackwardCorrectedCrossEntropy` calls it once). Give exactly
        one of ``transition_matrix`` and ``inverse_transition_matrix``.
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


class BackwardCorrectedCrossEntropy(TransitionMatrixLoss):
    """Backward-corrected cross-entropy loss (Patrini et al., CVPR 2017).

    ``loss(x, y~) = (T^{-1} l(p))[y~]`` with ``l(p)_k = -log p_k``: an
    unbiased estimate of the clean cross-entropy from noisy labels. It needs
    an invertible ``T``, and the loss is unbounded below (``T^{-1}`` has
    negative entries), so a badly conditioned ``T`` makes training diverge;
    forward correction is more robust in practice.

    ``T^{-1}`` is computed once, in float64, at construction (and by
    :meth:`set_transition_matrix`) by :func:`check_invertible`, which
    refuses a singular ``T`` (or one whose condition number exceeds
    ``max_condition``) and warns above ``warn_condition``; it is stored as
    the float32 buffer ``T_inv``.

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
    check_invertible : The conditioning check.
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

    def __init__(
        self,
        transition_matrix,
        eps=1e-7,
        reduction="mean",
        max_condition=_MAX_CONDITION,
        warn_condition=_WARN_CONDITION,
    ):
        # read by _buffers_for while the base validates and stores T
        self.max_condition = _check_condition_threshold(max_condition, "max_condition")
        self.warn_condition = _check_condition_threshold(warn_condition, "warn_condition")
        super().__init__(transition_matrix, eps=eps, reduction=reduction)

    def _buffers_for(self, T):
        T_inv, self.condition_number = check_invertible(
            T, max_condition=self.max_condition, warn_condition=self.warn_condition, return_condition=True
        )
        return {"T": T, "T_inv": T_inv}

    def forward(self, logits, target):
        """Return the backward-corrected loss of ``logits`` against noisy ``target``."""
        return backward_corrected_cross_entropy(
            logits, target, eps=self.eps, reduction=self.reduction, inverse_transition_matrix=self.T_inv
        )


# --------------------------------------------------------------------------
# gold correction: clean labels on trusted rows, forward correction elsewhere
# --------------------------------------------------------------------------


def gold_corrected_cross_entropy(logits, target, trusted, transition_matrix, eps=1e-7, reduction="mean"):
    """GLC's joint loss: cross-entropy on trusted rows, forward correction on the others.

    Row ``i`` costs ``CE(logits_i, y_i)`` when it is trusted (its label is
    clean) and ``-log((softmax(logits_i) @ T)[y_i])`` otherwise
    (Hendrycks et al., 2018); with ``reduction='mean'`` the loss is their sum
    divided by the batch size.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Raw scores of the clean classes.
    target : torch.Tensor of shape (n_samples,)
        Labels, integer class indices: clean on trusted rows, noisy elsewhere.
    trusted : torch.Tensor of shape (n_samples,)
        Boolean (or 0/1) mask of the trusted rows.
    transition_matrix : torch.Tensor or array-like of shape (n_classes, n_classes)
        ``T[i, j] = p(noisy = j | clean = i)``, as in
        :func:`forward_corrected_cross_entropy` (a tensor keeps its graph).
    eps : float, default=1e-7
        Floor on the noisy probability before the log (forward part only).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or shape ``(n_samples,)`` when ``reduction='none'``.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.losses import gold_corrected_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> target = torch.tensor([0, 1])
    >>> T = [[0.8, 0.2], [0.3, 0.7]]
    >>> loss = gold_corrected_cross_entropy(logits, target, torch.tensor([True, False]), T, reduction="none")
    >>> loss.round(decimals=4)
    tensor([0.1269, 0.5700])
    """
    target = _check_inputs(logits, target)
    eps = _check_open_unit(eps, "eps")
    _check_reduction(reduction)
    T = _matrix_like(transition_matrix, logits, "transition_matrix")
    if not isinstance(trusted, torch.Tensor):
        raise TypeError(f"trusted must be a boolean torch.Tensor, got {type(trusted).__name__}.")
    if tuple(trusted.shape) != tuple(target.shape):
        raise ValueError(
            f"trusted must have shape {tuple(target.shape)} to match target, got shape {tuple(trusted.shape)}."
        )
    if trusted.dtype != torch.bool:
        trusted = trusted != 0
    # One vectorised selection: no Python loop and no host synchronisation.
    return _forward_corrected_loss(logits, target, T, eps, reduction, trusted=trusted)


class GoldCorrectedCrossEntropy(TransitionMatrixLoss):
    """GLC's joint loss: cross-entropy on trusted rows, forward correction on the others.

    For a batch of ``n`` rows the loss is ``(sum over trusted rows of
    CE(logits, y) + sum over untrusted rows of -log((softmax(logits) @ T)[y]))
    / n`` (Hendrycks et al., 2018): the trusted labels are clean and need no
    correction, the untrusted ones are pushed through the noise model. It is
    called as ``criterion(logits, target, trusted)``.

    Parameters
    ----------
    transition_matrix : array-like or torch.Tensor of shape (n_classes, n_classes)
        Row-stochastic ``T[i, j] = p(noisy = j | clean = i)``; validated once
        and stored as the float32 buffer ``T`` (it follows ``.to(device)``).
    eps : float, default=1e-7
        Floor on the noisy probability before the log (forward part only).
    reduction : {'mean', 'sum', 'none'}, default='mean'
        How to reduce the per-sample losses.

    See Also
    --------
    gold_corrected_cross_entropy : The functional form.

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

    def forward(self, logits, target, trusted):
        """Joint loss of ``logits`` against ``target``; ``trusted`` is a boolean tensor."""
        return gold_corrected_cross_entropy(logits, target, trusted, self.T, eps=self.eps, reduction=self.reduction)
