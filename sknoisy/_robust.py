"""Noise-robust losses as a classifier: the Active Passive Loss family.

``RobustLossClassifier`` trains a skorch network with a loss chosen by name
(Ma et al., "Normalized Loss Functions for Deep Learning with Noisy Labels",
ICML 2020, and the robust losses they compare with). It needs neither a
transition matrix nor trusted rows.
"""

from numbers import Real

import torch
from skorch.callbacks import GradientNormClipping

from .base import CrossEntropyClassifier
from .losses import DEFAULT_LOSS_PARAMS, LOSS_NAMES, make_loss
from .utils._param_validation import Interval, StrOptions

__all__ = ["RobustLossClassifier"]

#: The loss parameters exposed as constructor arguments.
_LOSS_ARGS = ("alpha", "beta", "q", "gamma")

_LOSS_DESCRIPTIONS = {
    "ce": "plain cross-entropy (no robustness)",
    "gce": "generalized cross-entropy (Zhang & Sabuncu 2018)",
    "sce": "symmetric cross-entropy, alpha CE + beta RCE (Wang et al. 2019)",
    "nce": "normalized cross-entropy (active only)",
    "nfl": "normalized focal loss (active only)",
    "ngce": "normalized generalized cross-entropy (active only)",
    "rce": "reverse cross-entropy (passive only)",
    "mae": "mean absolute error, 1 - p_y (passive only)",
}


class _GradientNormClipping(GradientNormClipping):
    """skorch's ``GradientNormClipping`` at a fraction of its per-step cost.

    The same parameters and bit for bit the same gradients as
    ``torch.nn.utils.clip_grad_norm_`` (the total L2 norm of all gradients;
    each scaled by ``min(1, max_norm / (norm + 1e-6))``), but on CPU it
    skips what dominates a small network's step: torch's grouping of the
    gradients by device and dtype, and the tensor arithmetic that ends in a
    multiplication by exactly 1 when the norm is within bounds (most steps
    of a mean-reduced loss). Other norms, half precision, and other
    devices (where the comparison would cost a synchronisation) go to
    torch's function.
    """

    def initialize(self):
        self.params_ = self.fast_ = None
        return super().initialize()

    def on_train_begin(self, net, **kwargs):
        # The parameters a fit trains are fixed once it starts (the optimizer
        # holds them too): walking the modules for them at every step would
        # cost a third of this callback's time on a small network.
        self.params_ = [param for _, param in net.get_all_learnable_params()]
        self.fast_ = self._fast_path_applies(self.params_)

    def on_train_end(self, net, **kwargs):
        self.params_ = self.fast_ = None

    def _fast_path_applies(self, params):
        # float32/64 only: the margin below is far above their rounding, not above half precision's
        return float(self.gradient_clip_norm_type) == 2.0 and all(
            param.device.type == "cpu" and param.dtype in (torch.float32, torch.float64) for param in params
        )

    def on_grad_computed(self, net, named_parameters, **kwargs):
        max_norm = self.gradient_clip_value
        if max_norm is None:
            return
        params = getattr(self, "params_", None)
        if params is None:  # a step outside fit: the parameters skorch hands over
            params = [param for _, param in named_parameters]
            fast = self._fast_path_applies(params)
        else:
            fast = self.fast_
        params = [param for param in params if param.grad is not None]
        if not params:
            return
        if not fast:
            torch.nn.utils.clip_grad_norm_(params, max_norm, self.gradient_clip_norm_type)
            return
        with torch.no_grad():
            grads = [param.grad for param in params]
            total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(grad) for grad in grads]))
            # Within bounds by a margin far above float32 rounding, torch's
            # coefficient would be exactly 1: a Python comparison settles the
            # usual step. Otherwise (NaN included) scale exactly as torch does.
            if total.item() < max_norm * (1.0 - 1e-4):
                return
            coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
            for grad in grads:
                grad.mul_(coef)


def _applicable(loss):
    """The constructor loss parameters that ``loss`` takes."""
    return tuple(name for name in _LOSS_ARGS if name in DEFAULT_LOSS_PARAMS[loss])


def _defaults_table():
    """An RST table of the per-loss defaults, built from DEFAULT_LOSS_PARAMS."""
    rows = []
    for name in LOSS_NAMES:
        params = DEFAULT_LOSS_PARAMS[name]
        shown = ", ".join(f"{key}={params[key]!r}" for key in _LOSS_ARGS if key in params) or "(none)"
        if "+" in name:
            active, passive = name.split("+")
            what = f"APL: alpha {active.upper()} + beta {passive.upper()}"
        else:
            what = _LOSS_DESCRIPTIONS[name]
        rows.append((f"``'{name}'``", shown, what))
    widths = [max(len(row[i]) for row in rows + [("loss", "defaults", "what")]) for i in range(3)]
    rule = "  ".join("=" * w for w in widths)
    header = "  ".join(h.ljust(w) for h, w in zip(("loss", "defaults", "what"), widths)).rstrip()
    lines = [rule, header, rule]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(rule)
    return "\n        ".join(lines)


class RobustLossClassifier(CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with a noise-robust loss chosen by name.

    The default, ``'nce+rce'``, is the Active Passive Loss of Ma et al.
    (ICML 2020): ``alpha * NCE + beta * RCE``, a normalised (hence robust)
    *active* loss that pushes up the probability of the labelled class,
    plus a robust *passive* loss that pushes down the others, which keeps
    the normalised loss from underfitting. The baselines GCE and SCE and
    plain cross-entropy are available too, so ``GridSearchCV`` can search
    ``loss`` alongside ``alpha`` and ``beta``. No transition matrix and no
    trusted rows are needed.

    ``predict_proba`` returns the softmax of the logits, whatever the loss.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    loss : str, default='nce+rce'
        One of {", ".join(f"``'{name}'``" for name in LOSS_NAMES)}.
    alpha, beta : float >= 0 or None, default=None
        Weights of the active and passive parts (APL) or of CE and RCE
        (SCE); not both 0. None takes the loss's default below.
    q : float in (0, 1] or None, default=None
        Exponent of GCE and NGCE. None takes the loss's default.
    gamma : float >= 0 or None, default=None
        Focusing parameter of NFL. None takes the loss's default.
    clip_grad_norm : float > 0 or None, default=5.0
        Clip the L2 norm of all gradients to this value before each step,
        as the APL authors did in every run (a callback named
        ``'grad_norm_clipping'``: skorch's ``GradientNormClipping``, giving
        the same gradients bit for bit at a fraction of its per-step cost on
        CPU). None disables clipping.
    criterion : None
        Reserved: the criterion is built from ``loss``. Any
        ``criterion__*`` parameter (e.g. ``criterion__label_min``, or
        ``criterion__detach_focal_weights=True`` for the gradient of the APL
        authors' NFL) is handed to the loss.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    loss_params_ : dict
        The parameters the criterion was built with (defaults filled in).
    criterion_ : torch.nn.Module
        The loss module.
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    sknoisy.losses.make_loss : The loss registry behind ``loss``.
    sknoisy.losses.ActivePassiveLoss : The APL criterion itself.

    Notes
    -----
    A parameter left as None takes the chosen loss's default
    (``sknoisy.losses.DEFAULT_LOSS_PARAMS``: the authors' released CIFAR-10
    settings; their MNIST settings, APL ``beta=10`` and SCE ``alpha=0.01``,
    are in ``sknoisy.losses.PUBLISHED_LOSS_PARAMS``):

        {_defaults_table()}

    Setting a parameter that the chosen loss does not take (``q`` with
    ``'nce+rce'``, say) is an error rather than silently ignored; to search
    such parameters give ``GridSearchCV`` a list of grids, one per loss.

    References
    ----------
    X. Ma, H. Huang, Y. Wang, S. Romano, S. Erfani, J. Bailey. Normalized
    Loss Functions for Deep Learning with Noisy Labels. ICML 2020.

    Examples
    --------
    >>> from sknoisy import RobustLossClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     400, n_classes=4, noise="symmetric", rate=0.4, random_state=0)
    >>> clf = RobustLossClassifier(MLP, loss="nce+rce", beta=10.0, max_epochs=5,
    ...                            random_state=0).fit(X, y_noisy)
    >>> clf.loss_params_
    {{'alpha': 1.0, 'beta': 10.0}}
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(4)
    array([1., 1.], dtype=float32)

    Searching over losses, with one grid per set of parameters a loss takes
    (``beta`` would be an error for ``'ce'`` and ``'gce'``):

    >>> from sklearn.model_selection import GridSearchCV
    >>> base = RobustLossClassifier(MLP, max_epochs=5, random_state=0)
    >>> grids = [{{"loss": ["ce", "gce"]}}, {{"loss": ["nce+rce"], "beta": [1.0, 10.0]}}]
    >>> search = GridSearchCV(base, grids, cv=2, error_score="raise").fit(X, y_noisy)
    >>> len(search.cv_results_["params"])
    4
    """

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "loss": [StrOptions(set(LOSS_NAMES))],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
        "beta": [Interval(Real, 0, None, closed="left"), None],
        "q": [Interval(Real, 0, 1, closed="right"), None],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "clip_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "criterion": [None],
    }
    _parameter_hints = {
        **CrossEntropyClassifier._parameter_hints,
        "clip_grad_norm": "(None disables clipping.)",
        "criterion": "RobustLossClassifier builds its criterion from loss; for a criterion of your own use "
        "CrossEntropyClassifier(criterion=...).",
    }
    # every loss of the registry reads its reduction, so the base's weighted reduction applies
    _supports_sample_weight = True

    def __init__(
        self,
        module,
        *args,
        loss="nce+rce",
        alpha=None,
        beta=None,
        q=None,
        gamma=None,
        clip_grad_norm=5.0,
        criterion=None,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.loss = loss
        self.alpha = alpha
        self.beta = beta
        self.q = q
        self.gamma = gamma
        self.clip_grad_norm = clip_grad_norm

    # ----------------------------------------------------------- parameters
    def _loss_params(self):
        """The criterion's kwargs (the loss's defaults filled in), once the rules across its parameters hold."""
        name = type(self).__name__
        takes = _applicable(self.loss)
        given = {arg: getattr(self, arg) for arg in _LOSS_ARGS if getattr(self, arg) is not None}
        unused = [arg for arg in given if arg not in takes]
        if unused:
            takes_text = ", ".join(takes) if takes else "none of alpha, beta, q, gamma"
            raise ValueError(
                f"{name}: loss={self.loss!r} does not use {', '.join(f'{a}={given[a]!r}' for a in unused)} "
                f"(it takes {takes_text}); leave {' and '.join(unused)} as None. To search parameters "
                "that only some losses take, give GridSearchCV a list of grids, one per loss."
            )
        extra = self.get_params_for("criterion")
        clash = sorted(set(extra) & set(_LOSS_ARGS))
        if clash:
            raise ValueError(
                f"{name}: set {', '.join(clash)} with the {name} parameter of the same name, "
                f"not criterion__{clash[0]}."
            )
        params = {key: DEFAULT_LOSS_PARAMS[self.loss][key] for key in takes}
        params.update(given)
        return {arg: float(value) for arg, value in params.items()}, extra

    # --------------------------------------------------------------- skorch
    @property
    def _default_callbacks(self):
        # skorch's get_params reads this property, so it must not raise:
        # clip_grad_norm is validated at fit, with every parameter.
        callbacks = list(super()._default_callbacks)
        if self.clip_grad_norm is not None:
            clipping = _GradientNormClipping(gradient_clip_value=self.clip_grad_norm)
            callbacks.insert(-1, ("grad_norm_clipping", clipping))
        return callbacks

    def initialize_criterion(self):
        params, extra = self._loss_params()
        try:
            self.criterion_ = make_loss(self.loss, **params, **extra)
        except TypeError as exc:
            if not extra:
                raise
            raise TypeError(
                f"{type(self).__name__}: a criterion__* parameter ({', '.join(sorted(extra))}) "
                f"is not a parameter of loss {self.loss!r}: {exc}"
            ) from exc
        self.loss_params_ = params
        return self
