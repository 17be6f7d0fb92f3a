"""The registry of robust losses by name, with the APL authors' published settings.

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
"""

import functools
import types

from torch import nn

from . import _robust

__all__ = ["DEFAULT_LOSS_PARAMS", "LOSSES", "LOSS_NAMES", "PUBLISHED_LOSS_PARAMS", "make_loss"]

_SINGLE_LOSSES = {
    "ce": nn.CrossEntropyLoss,
    "gce": _robust.GeneralizedCrossEntropy,
    "sce": _robust.SymmetricCrossEntropy,
    "nce": _robust.NormalizedCrossEntropy,
    "nfl": _robust.NormalizedFocalLoss,
    "ngce": _robust.NormalizedGeneralizedCrossEntropy,
    "rce": _robust.ReverseCrossEntropy,
    "mae": _robust.MeanAbsoluteError,
}
_APL_NAMES = tuple(f"{a}+{p}" for a in _robust.ACTIVE_LOSSES for p in _robust.PASSIVE_LOSSES)

#: The names :func:`make_loss` understands: single losses, then the active-passive pairs.
LOSS_NAMES = tuple(_SINGLE_LOSSES) + _APL_NAMES

#: Read-only mapping from each name of :data:`LOSS_NAMES` to a callable returning a fresh loss module.
LOSSES = types.MappingProxyType(
    {
        **_SINGLE_LOSSES,
        **{
            name: functools.partial(_robust.ActivePassiveLoss, active=name.split("+")[0], passive=name.split("+")[1])
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
#: The APL authors' released settings per data set (``'mnist'``, ``'cifar10'``, ``'cifar100'``).
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

#: Per-loss default parameters: the APL authors' released CIFAR-10 settings.
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

