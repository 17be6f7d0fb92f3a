"""What every loss shares: parameter and input checks, the reduction, the module base.

The checks are cheap and host-side only: a range check on the *values* of a
tensor would force a device synchronisation per batch, so none is made.
"""

import inspect
import math
import numbers

import torch
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------
# parameter checks
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


def _check_non_negative(value, name):
    value = _check_real(value, name)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value!r}.")
    return value


def _check_gamma(gamma):
    return _check_non_negative(gamma, "gamma")


def _check_weights(alpha, beta):
    alpha = _check_non_negative(alpha, "alpha")
    beta = _check_non_negative(beta, "beta")
    if alpha == 0 and beta == 0:
        raise ValueError("alpha and beta cannot both be 0: the loss would be identically zero.")
    return alpha, beta


def _check_member(value, valid, name):
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {value!r}.")
    return value


# --------------------------------------------------------------------------
# inputs and outputs
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# the module bases
# --------------------------------------------------------------------------


class _Loss(nn.Module):
    """Common pieces: the reduction and a readable repr of ``_repr_params``."""

    _repr_params = ()

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def extra_repr(self):
        params = [f"{name}={getattr(self, name)!r}" for name in self._repr_params]
        return ", ".join(params + [f"reduction={self.reduction!r}"])


# How each parameter of the robust losses is checked, by name: a loss module
# validates its parameters once, at construction, with the function's checks.
_PARAM_CHECKS = {
    "q": _check_q,
    "gamma": _check_gamma,
    "eps": lambda value: _check_open_unit(value, "eps"),
    "label_min": lambda value: _check_open_unit(value, "label_min"),
    "alpha": lambda value: _check_non_negative(value, "alpha"),
    "beta": lambda value: _check_non_negative(value, "beta"),
    "detach_denominator": bool,
    "detach_focal_weights": bool,
}


class _FunctionalLoss(_Loss):
    """A loss module whose ``forward`` is its loss function, called with its parameters.

    A subclass names the function (``_function``); one with parameters hands
    them to :meth:`_store_params`, which checks each as ``_param_checks``
    says and stores it as an attribute of the same name. The parameters
    passed to the function are those of the subclass's ``__init__``.
    """

    _function = None
    _params = ()
    _param_checks = _PARAM_CHECKS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        signature = inspect.signature(cls.__init__).parameters
        cls._params = tuple(name for name in signature if name not in ("self", "reduction"))

    def _store_params(self, **params):
        checked = {name: self._param_checks[name](value) for name, value in params.items()}
        if "alpha" in checked and "beta" in checked:
            _check_weights(checked["alpha"], checked["beta"])
        for name, value in checked.items():
            setattr(self, name, value)

    @property
    def _repr_params(self):
        return self._params

    def forward(self, logits, target):
        """Return the loss of ``logits`` against ``target``."""
        params = {name: getattr(self, name) for name in self._params}
        return type(self)._function(logits, target, **params, reduction=self.reduction)
