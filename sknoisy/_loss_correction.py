"""Loss correction with a noise transition matrix T (Patrini et al., CVPR 2017).

``ForwardCorrectedClassifier`` and ``BackwardCorrectedClassifier`` train a
skorch network with the forward- or backward-corrected cross-entropy. T is
given, or estimated with Patrini's recipe: a plain cross-entropy stage,
T-hat from its out-of-fold probabilities, then a fresh network trained with
the corrected loss.

:class:`_TransitionMatrixMixin` is the T lifecycle every T-using classifier
shares: the ``transition_matrix`` parameter is resolved into
``transition_matrix_`` at each ``fit``, the criterion (a
:class:`~sknoisy.losses.TransitionMatrixLoss`) is built with it, and a
criterion that outlives a fit (``warm_start``) is given every new T.
"""

from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import HasMethods
from skorch.utils import to_device

from ._targets import target_labels, target_weights
from ._stage1 import resolve_transition_matrix
from .base import CrossEntropyClassifier, with_own_param_group
from .losses import (
    BackwardCorrectedCrossEntropy,
    ForwardCorrectedCrossEntropy,
    VolMinCrossEntropy,
    check_invertible,
    warn_backward_with_estimated_T,
)
from .transition import DEFAULT_TRANSITION_METHOD, TRANSITION_METHODS
from .utils._param_validation import Interval, StrOptions
from .utils._random import seed_from as _seed_from

__all__ = ["ForwardCorrectedClassifier", "BackwardCorrectedClassifier"]


def _transition_method_names():
    """The method names of :data:`~sknoisy.transition.TRANSITION_METHODS`, for docstrings."""
    without = ", ".join(repr(m.name) for m in TRANSITION_METHODS.values() if not m.needs_trusted)
    with_trusted = ", ".join(repr(m.name) for m in TRANSITION_METHODS.values() if m.needs_trusted)
    return f"{without}; with trusted rows, {with_trusted}"


def check_trusted_rows(estimator, y_enc, mask, *, purpose, where=None):
    """Refuse data without trusted rows of at least 2 classes (for methods that learn from them).

    ``purpose`` says what they are for ("estimate the transition matrix");
    ``where`` names the part of the data checked, when it is not all of the
    training data. The error names ``estimator``'s class and its classes.
    """
    name = type(estimator).__name__
    if not mask.any():
        raise ValueError(
            f"{name} needs trusted rows: pass fit(X, y, trusted=mask) with a boolean mask marking the "
            f"rows whose label is known to be correct, to {purpose} (inside GridSearchCV or a Pipeline, "
            "enable metadata routing and call set_fit_request(trusted=True))"
            + (f"; {where} has none." if where else ".")
        )
    classes = np.unique(y_enc[mask])
    if classes.size < 2:
        rows = f"all {int(mask.sum())} trusted rows" + (f" of {where}" if where else "")
        raise ValueError(
            f"{name} needs trusted rows of at least 2 classes to {purpose}, but {rows} have the "
            f"label {estimator.classes_[classes[0]].tolist()!r}."
        )


def warm_up_cross_entropy(criterion, y_pred, table):
    """The plain cross-entropy of a warm-up batch, weighted by the table's weights, reduced as ``criterion`` is."""
    losses = F.cross_entropy(y_pred, target_labels(table), reduction="none")
    weight = target_weights(table)
    if weight is not None:
        losses = losses * weight
    return losses.sum() if getattr(criterion, "reduction", "mean") == "sum" else losses.mean()


class _TransitionMatrixMixin:
    """Resolve the ``transition_matrix`` parameter into ``transition_matrix_`` and keep the criterion on it.

    The parameter may be an array, a method name of
    :class:`~sknoisy.TransitionMatrixEstimator`, an (unfitted) estimator, or
    None for ``_default_transition_method``. An estimator whose own
    ``estimator`` is None gets this classifier's network trained with plain
    cross-entropy, which is Patrini's recipe.

    The criterion is built with ``transition_matrix=T`` and any
    ``criterion__*`` parameter. When ``fit`` resolves a new T for a net that
    stays initialised (``warm_start``), the criterion's
    ``set_transition_matrix`` (every
    :class:`~sknoisy.losses.TransitionMatrixLoss` has one) is given it; a
    criterion without one is rebuilt.
    """

    _default_transition_method = DEFAULT_TRANSITION_METHOD
    # every T criterion reads its reduction, so the base's weighted reduction applies
    _supports_sample_weight = True

    def _resolve_transition_matrix(self, X, y_enc, mask):
        spec = self.transition_matrix
        # 'volmin' here is refused by the parameter constraints of the classes that need T before training
        T, self.transition_matrix_estimator_ = resolve_transition_matrix(
            spec, X, y_enc, mask, net=self, default_method=self._default_transition_method,
            n_classes=len(self.classes_), random_state=_seed_from(self.random_state),
        )
        return self._check_transition_matrix(T)

    def _criterion_transition_matrix(self):
        """The T handed to the criterion: fitted, or given as an array."""
        T = getattr(self, "transition_matrix_", None)
        if T is not None:
            return T
        spec = self.transition_matrix
        if spec is not None and not isinstance(spec, str) and not hasattr(spec, "fit"):
            return np.asarray(spec, dtype=np.float64)
        raise ValueError(
            f"{type(self).__name__} estimates its transition matrix in fit; call fit before "
            "initialize(), or pass transition_matrix as an array."
        )

    def _warming_up(self, training):
        """Whether a training batch's loss falls in the first ``warm_up_epochs`` epochs of the net's history."""
        epochs = getattr(self, "warm_up_epochs", 0)
        return bool(epochs) and bool(training) and len(self.history) <= epochs

    def _criterion_loss(self, y_pred, table, *criterion_args, training=False):
        # the validation loss stays the corrected one
        if not self._warming_up(training):
            return super()._criterion_loss(y_pred, table, *criterion_args, training=training)
        # Plain cross-entropy first: from a random network the corrected loss can settle on a
        # merged pair of classes when T has a 2-cycle (see warm_up_epochs); the (noisy) majority
        # label of each class separates them first.
        return warm_up_cross_entropy(self.criterion_, y_pred, table)

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        kwargs["transition_matrix"] = self._criterion_transition_matrix()
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _check_trusted_rows(self, y_enc, mask, *, purpose, where=None):
        """Refuse data without trusted rows of at least 2 classes (see :func:`check_trusted_rows`)."""
        check_trusted_rows(self, y_enc, mask, purpose=purpose, where=where)

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        # sample_weight weights stage 2's loss (the base reduces the criterion's
        # per-row losses with it); T is estimated from unweighted rows.
        self.transition_matrix_ = self._resolve_transition_matrix(X, y_enc, mask)
        if getattr(self, "initialized_", False):
            # A net that stays initialised (warm_start, or partial_fit after
            # initialize()) keeps its criterion: give it the new T. (When fit
            # re-initialises, the criterion is rebuilt with it anyway.)
            if hasattr(self.criterion_, "set_transition_matrix"):
                self.criterion_.set_transition_matrix(self.transition_matrix_)
            else:
                self.initialize_criterion()
                self.criterion_ = to_device(self.criterion_, self.device)


_T_PARAM_DOC = f"""transition_matrix : array-like of shape (n_classes, n_classes), str, estimator or None, default=None
        The noise transition matrix, ``T[i, j] = p(noisy=j | clean=i)``, rows
        and columns in the order of ``classes_``. An array is used as given.
        A string names a method of :class:`~sknoisy.TransitionMatrixEstimator`:
        {_transition_method_names()}.
        An estimator is cloned and fitted; None means
        {DEFAULT_TRANSITION_METHOD!r} (measured best, ``benchmarks/results/t_estimation.md``). When
        estimated and the estimator's own ``estimator`` is None, the
        out-of-fold probabilities come from this network trained with plain
        cross-entropy (Patrini's recipe), and T is estimated before a fresh
        network is trained with the corrected loss. Every ``fit`` resolves T
        again and hands it to the criterion, with ``warm_start`` too."""

#: epochs of plain cross-entropy before the correction (measured in benchmarks/warm_up.py)
DEFAULT_WARM_UP_EPOCHS = 2


def _transition_matrix_constraints(*extra_names):
    """The constraints of a ``transition_matrix`` parameter: an array, a method name (or ``extra_names``), an
    estimator, or None."""
    names = StrOptions({*TRANSITION_METHODS, *extra_names})
    return {"transition_matrix": ["array-like", names, HasMethods(["fit", "get_params"]), None]}


#: The constraints of ``warm_up_epochs``.
_WARM_UP_CONSTRAINTS = {"warm_up_epochs": [Interval(Integral, 0, None, closed="left")]}

#: Added to scikit-learn's message about ``transition_matrix`` by the classifiers that need T before training.
_NOT_VOLMIN_HINT = {
    "transition_matrix": "(T learned with the network, 'volmin', is ForwardCorrectedClassifier's: the others "
    "need T before training.)"
}

_WARM_UP_DOC = f"""warm_up_epochs : int >= 0, default={DEFAULT_WARM_UP_EPOCHS}
        The first epochs of the net's history train with plain cross-entropy,
        then the corrected loss takes over (0: corrected from the start, as
        in the papers). From a random network the corrected loss can merge two
        classes that T maps onto each other (a 2-cycle, e.g. ``T[a, b] =
        T[b, a] = 0.4``): predicting ``b`` for the images of ``a`` costs only a
        little more than the truth, and forward correction with the *true* T
        lost whole classes that way (0% recall) on the MNIST subset at
        flip-to-one 40% in every seed whose T had a 2-cycle. The noisy
        majority label of each class separates them first
        (``benchmarks/results/warm_up.md``)."""

_SHARED_PARAMS_DOC = """**kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The T used for training.
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator when T was estimated (fitted with
        ``refit=False``: it holds ``transition_matrix_`` and ``oof_proba_``).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`."""


#: ``transition_matrix`` of ForwardCorrectedClassifier that learns T with the network
VOLMIN = "volmin"
#: lambda chosen on validation splits of three data sets by benchmarks/volmin_lambda.py
#: (benchmarks/results/volmin_lambda.md), first on MNIST alone by benchmarks/volmin.py
DEFAULT_VOLMIN_LAMBDA = 1e-2
#: the paper's learning rate of T (equal to its network's)
DEFAULT_VOLMIN_LR = 1e-2


def volmin_initial_transition_matrix(n_classes):
    """VolMinNet's starting T: diagonal 1/2 (2/3 with two classes), the rest of each row spread evenly.

    Every off-diagonal entry is ``1 / max(C - 1, 2)`` of its row's diagonal
    entry: the paper's initial logit, -2 with 10 classes and -4.5 with 100,
    gives a diagonal of 0.48 in both.
    """
    ratio = 1.0 / max(n_classes - 1, 2)
    T = np.full((n_classes, n_classes), ratio)
    np.fill_diagonal(T, 1.0)
    return T / T.sum(axis=1, keepdims=True)


class ForwardCorrectedClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with the forward-corrected cross-entropy.

    The loss of a sample with noisy label ``y~`` is
    ``-log((softmax(f(x)) @ T)[y~])``: the network models the clean
    posterior, T maps it to the noisy one. ``predict_proba`` returns the
    clean probabilities softmax(f(x)).

    By default (``transition_matrix='volmin'``) T is not estimated beforehand but
    learned with the network (VolMinNet, Li et al., ICML 2021): the loss
    becomes ``-log((softmax(f(x)) @ T)[y~]) + volmin_lambda * log|det T|``,
    T is a parameter of the criterion (:class:`~sknoisy.losses.VolMinCrossEntropy`,
    ``T = rownorm(I + sigmoid(W) * (1 - I))``) and ``transition_matrix_`` is
    the learned T after ``fit`` (saved and restored with the network by
    :func:`~sknoisy.save_model`; skorch's ``EarlyStopping(load_best=True)``
    restores the network only, :class:`sknoisy.callbacks.EarlyStopping`
    restores the best epoch's T with it). No anchor points and no stage-1 network are
    needed, so it costs about one plain fit. Where it follows the paper:
    the loss, the parameterisation, the starting T (diagonal 1/2, as the
    paper's initial logits give 0.48 at 10 and at 100 classes) and T's
    learning rate 0.01 (the paper's, equal to its network's). Where not:
    T gets that rate in its own parameter group of this net's optimizer,
    never weight-decayed, where the paper gives T a second optimizer (Adam
    on MNIST, SGD with momentum on CIFAR-10) next to SGD for the network;
    and lambda defaults to 1e-2, chosen on validation splits of three data
    sets (the MNIST subset, scikit-learn's digits, a tabular set; uniform,
    flip-random and flip-to-one noise at 20% and 40%) by
    ``benchmarks/volmin_lambda.py`` (``benchmarks/results/volmin_lambda.md``):
    the highest mean accuracy (87.8%, against 87.2-87.3% at 0 to 1e-3) and
    the T nearest the true one; the paper's 1e-4 learned a T farther from it,
    1e-1 and above shrank T past it (and lost 5 to 15 points).
    The start matters: from near the identity T stayed near it. It is the
    default because it beat forward correction with an estimated T in every
    setting of that benchmark, for the cost of one plain fit; an array, a
    method name or an estimator gives the two-stage recipe of Patrini et al.
    A known limitation: when two classes flip into each other (a 2-cycle,
    ``a -> b`` and ``b -> a``), ``log|det T|`` falls without bound as the
    two rows of T grow equal, and at 1e-2 the learned rows can merge into
    a 0.5 / 0.5 split: with 20,000 training rows both seeds of
    ``benchmarks/volmin_two_cycle.py`` did (truth 0.3; 0.23-0.32 at 1e-3
    and 0), 0.3 and 1.8 points of test accuracy below 1e-3; with 4,000
    rows 1e-2 stopped at 0.41 and was 0.8-1.3 points above 1e-3. The
    other rows of T stay right. Where the learned T matters (reading it,
    :class:`~sknoisy.InstanceForwardClassifier`'s flip rates), a smaller
    ``volmin_lambda`` with many rows, or an estimated T, avoids it.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    {_T_PARAM_DOC.replace("default=None", "default='volmin'")}
        ``'volmin'`` (the default) learns T with the network (see above).
    volmin_lambda : float >= 0, default={DEFAULT_VOLMIN_LAMBDA:g}
        With ``transition_matrix='volmin'``: the weight of ``log|det T|``.
    volmin_lr : float > 0 or None, default={DEFAULT_VOLMIN_LR:g}
        With ``transition_matrix='volmin'``: the learning rate of T's
        parameters (None: the network's ``lr``).
    {_WARM_UP_DOC}
    criterion : class, default=ForwardCorrectedCrossEntropy
        Built with ``transition_matrix=T`` and any ``criterion__*`` parameter.
        With ``transition_matrix='volmin'`` the default becomes
        :class:`~sknoisy.losses.VolMinCrossEntropy` (a subclass of it may be
        given), built with ``volume_weight=volmin_lambda``.
    {_SHARED_PARAMS_DOC}

    Examples
    --------
    >>> from sknoisy import ForwardCorrectedClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> clf = ForwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=5,
    ...                                  random_state=0).fit(X, y_noisy)
    >>> clf.transition_matrix_.shape
    (3, 3)

    T learned with the network:

    >>> clf = ForwardCorrectedClassifier(MLP, transition_matrix="volmin", max_epochs=5,
    ...                                  random_state=0).fit(X, y_noisy)
    >>> clf.transition_matrix_.sum(axis=1).round(6)
    array([1., 1., 1.])
    """

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        **_transition_matrix_constraints(VOLMIN),
        "volmin_lambda": [Interval(Real, 0, None, closed="left")],
        "volmin_lr": [Interval(Real, 0, None, closed="neither"), None],
        **_WARM_UP_CONSTRAINTS,
    }
    _parameter_hints = {**CrossEntropyClassifier._parameter_hints, "volmin_lr": "(None: the network's lr.)"}
    # both criteria (fixed and learned T) read their reduction: the base's weighted reduction applies
    _supports_sample_weight = True

    def __init__(
        self,
        module,
        *args,
        transition_matrix=VOLMIN,
        volmin_lambda=DEFAULT_VOLMIN_LAMBDA,
        volmin_lr=DEFAULT_VOLMIN_LR,
        warm_up_epochs=DEFAULT_WARM_UP_EPOCHS,
        criterion=ForwardCorrectedCrossEntropy,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix
        self.volmin_lambda = volmin_lambda
        self.volmin_lr = volmin_lr
        self.warm_up_epochs = warm_up_epochs

    # ------------------------------------------------- T learned with the net
    def _learns_transition_matrix(self):
        spec = self.transition_matrix
        return isinstance(spec, str) and spec == VOLMIN

    def _learned_transition_matrix(self):
        """The criterion's current T as float64 numpy."""
        return self.criterion_.transition_matrix.to("cpu", dtype=torch.float64).numpy()

    def _resolve_transition_matrix(self, X, y_enc, mask):
        if not self._learns_transition_matrix():
            return super()._resolve_transition_matrix(X, y_enc, mask)
        self.transition_matrix_estimator_ = None
        return volmin_initial_transition_matrix(len(self.classes_))

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        learns = self._learns_transition_matrix()
        kept = getattr(self, "criterion_", None) if getattr(self, "initialized_", False) else None
        if kept is not None and learns != isinstance(kept, VolMinCrossEntropy):
            # transition_matrix switched to or from 'volmin' on a net that may stay initialised
            # (warm_start, partial_fit): the kept criterion is of the wrong kind, so build the right one
            self.transition_matrix_ = self._resolve_transition_matrix(X, y_enc, mask)
            self.initialize_criterion()
            self.criterion_ = to_device(self.criterion_, self.device)
            self.initialize_optimizer()
        elif learns:
            # A kept criterion goes on from the T it learned; one that fit re-initialises starts again
            # from the initial T (see _criterion_transition_matrix).
            self.transition_matrix_ = self._resolve_transition_matrix(X, y_enc, mask)
        else:
            super()._prepare_training(X, y_enc, mask, sample_weight=sample_weight)

    def _criterion_transition_matrix(self):
        if self._learns_transition_matrix() and hasattr(self, "classes_inferred_"):
            # every new criterion starts from the initial T (transition_matrix_ may hold a learned one)
            return volmin_initial_transition_matrix(len(self.classes_inferred_))
        return super()._criterion_transition_matrix()

    def initialize_criterion(self):
        if not self._learns_transition_matrix():
            return super().initialize_criterion()
        criterion = self.criterion
        cls = criterion if isinstance(criterion, type) else type(criterion)
        if cls is ForwardCorrectedCrossEntropy:
            criterion = VolMinCrossEntropy
        elif not issubclass(cls, VolMinCrossEntropy):
            raise TypeError(
                f"transition_matrix='volmin' learns T inside a sknoisy.losses.VolMinCrossEntropy criterion; "
                f"criterion must be the default or a subclass of it, got {cls.__name__}."
            )
        kwargs = self.get_params_for("criterion")
        kwargs["transition_matrix"] = self._criterion_transition_matrix()
        kwargs.setdefault("volume_weight", self.volmin_lambda)
        self.criterion_ = self.initialized_instance(criterion, kwargs)
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments, with T's parameters in their own group (``volmin_lr``, no weight decay)."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        criterion = getattr(self, "criterion_", None)
        if prefix != "optimizer" or self.volmin_lr is None or not isinstance(criterion, VolMinCrossEntropy):
            return args, kwargs
        # the paper does not decay T (decay would pull W to 0, that is towards uniform rows); set even when
        # the user set none, since an optimizer's own default (AdamW's 0.01) would otherwise apply
        args = with_own_param_group(args, [criterion.transition_logits], lr=self.volmin_lr, weight_decay=0.0)
        return args, kwargs

    def _train(self, *args, **kwargs):
        # After training, not in on_train_end: the net hears that before its callbacks, and one of them
        # (sknoisy.callbacks.EarlyStopping(load_best=True), Checkpoint) may still restore the best epoch's T.
        try:
            super()._train(*args, **kwargs)
        finally:
            if self._learns_transition_matrix() and isinstance(getattr(self, "criterion_", None), VolMinCrossEntropy):
                self.transition_matrix_ = self._learned_transition_matrix()


class BackwardCorrectedClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    __doc__ = f"""Neural network trained with the backward-corrected cross-entropy.

    The loss of a sample with noisy label ``y~`` is ``(T^-1 l(p))[y~]`` with
    ``l(p)_k = -log p_k``: unbiased for the clean loss, but unbounded below
    and only defined for an invertible T. A singular T (or one whose
    condition number exceeds ``criterion__max_condition``) is refused with a
    clear error before any network is built; an ill-conditioned one gives a
    warning (see :func:`~sknoisy.losses.check_invertible`). Forward
    correction is usually the better choice (Patrini et al.).

    With an *estimated* T (a method name, an estimator or None) ``fit``
    warns (:class:`~sknoisy.losses.EstimatedTransitionBackwardWarning`):
    T-hat's errors reach the loss through ``T^-1``; on sknoisy's MNIST
    benchmarks backward correction with an estimate fell below plain
    cross-entropy in 5 of 6 settings and below forward correction with the
    same estimate in all 6, however well conditioned the estimate (see
    :func:`~sknoisy.losses.warn_backward_with_estimated_T`). Use it with a
    known T given as an array; otherwise prefer
    :class:`ForwardCorrectedClassifier`.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    {_T_PARAM_DOC}
    {_WARM_UP_DOC}
    criterion : class, default=BackwardCorrectedCrossEntropy
        Built with ``transition_matrix=T`` and any ``criterion__*`` parameter
        (``criterion__max_condition``, ``criterion__warn_condition``).
    {_SHARED_PARAMS_DOC}

    Examples
    --------
    >>> from sknoisy import BackwardCorrectedClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="symmetric", rate=0.2, random_state=0)
    >>> clf = BackwardCorrectedClassifier(MLP, transition_matrix=T, max_epochs=5,
    ...                                   random_state=0).fit(X, y_noisy)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        **_transition_matrix_constraints(),
        **_WARM_UP_CONSTRAINTS,
    }
    _parameter_hints = {**CrossEntropyClassifier._parameter_hints, **_NOT_VOLMIN_HINT}

    def __init__(
        self,
        module,
        *args,
        transition_matrix=None,
        warm_up_epochs=DEFAULT_WARM_UP_EPOCHS,
        criterion=BackwardCorrectedCrossEntropy,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix
        self.warm_up_epochs = warm_up_epochs

    def _resolve_transition_matrix(self, X, y_enc, mask):
        T = super()._resolve_transition_matrix(X, y_enc, mask)
        criterion = self.criterion if isinstance(self.criterion, type) else type(self.criterion)
        if issubclass(criterion, BackwardCorrectedCrossEntropy):
            # Refuse a T the loss cannot use before any network is built; the
            # criterion itself warns about a merely ill-conditioned one.
            params = self.get_params_for("criterion")
            limit = {"max_condition": params["max_condition"]} if "max_condition" in params else {}
            check_invertible(T, warn_condition=None, **limit)
            estimator = self.transition_matrix_estimator_
            if estimator is not None:
                # T-hat's errors pass through T^-1: no property of T-hat told the settings where backward
                # fell below CE from those where it did not, its provenance did (benchmarks/results/volmin.md)
                method = estimator.get_params().get("method")
                source = f"estimated (method {method!r})" if method is not None else "estimated"
                warn_backward_with_estimated_T(T, source=source, stacklevel=4)
        return T
