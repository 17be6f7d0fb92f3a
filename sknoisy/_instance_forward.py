"""Forward correction with a transition matrix per row, ``T(x)``: for noise that depends on the input.

Class-level forward correction reads every row of a class through the same
``T``; when annotators err on the ambiguous rows, toward the class those rows
resemble, one ``T`` per class cannot say which rows were flipped or to what.
Here a small *flip head* on the network's own features gives every row its
flip targets, around the class-level ``T`` learned first (VolMinNet), and
the noisy posterior ``softmax(f(x)) @ T(x)`` is fitted with NCE+RCE
(:mod:`sknoisy.losses._instance`). No trusted rows are needed.

Layering: above :mod:`sknoisy._loss_correction` (its class-level ``T`` is the
start), below the classifier registry.
"""

from numbers import Real

import numpy as np
import torch

from ._loss_correction import _WARM_UP_CONSTRAINTS, ForwardCorrectedClassifier, warm_up_cross_entropy
from ._stage1 import stage1_net
from ._targets import target_labels
from .base import CrossEntropyClassifier, with_own_param_group
from .losses import InstanceForwardLoss
from .utils._param_validation import Interval
from .utils._random import seed_from
from .utils._validation import check_transition_matrix

__all__ = ["InstanceForwardClassifier"]

#: The network's learning rate while trained through T(x) (Adam): the robust loss on ``p @ T(x)`` learned
#: slowly at 1e-3 (benchmarks/results/instance_forward_tries.md)
DEFAULT_INSTANCE_LR = 5e-3
#: The flip head's learning rate
DEFAULT_FLIP_LR = 1e-3
#: The highest flip rate a class may be given by the class-level T (1 would leave nothing of the label)
_MAX_FLIP_RATE = 0.95
#: The most classes on which AutoNoisyClassifier tries this method: its flip head and loss grow with the
#: square of the classes, an epoch about 2x cross-entropy's at 10 classes, 3x at 20, 7x at 50 and 23x at 100
#: (benchmarks/results/instance_forward_classes.md), and it was measured for accuracy on 10 classes at most
INSTANCE_FORWARD_AUTO_MAX_CLASSES = 20


class _FeatureCatcher:
    """A forward pre-hook that keeps the input of the layer it is registered on (the flip head reads it)."""

    def __init__(self):
        self.features = None

    def __call__(self, layer, inputs):
        self.features = inputs[0]

    def __getstate__(self):
        # the last batch's features are not state
        return {"features": None}


def _output_layer(module, n_classes):
    """The last ``torch.nn.Linear`` of ``module`` with ``n_classes`` outputs: the layer whose input the flip head reads."""
    layers = [m for m in module.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_classes]
    if not layers:
        raise ValueError(
            f"InstanceForwardClassifier reads the features that enter the module's output layer, a torch.nn.Linear "
            f"with {n_classes} outputs (one per class), but {type(module).__name__} has none. Give a module "
            "whose logits come from such a layer (sknoisy.modules.MLP and SmallCNN do)."
        )
    return layers[-1]


def _catch_features(layer):
    """Register a :class:`_FeatureCatcher` on ``layer``, removing one left by an earlier initialisation."""
    for key, hook in list(layer._forward_pre_hooks.items()):
        if isinstance(hook, _FeatureCatcher):
            del layer._forward_pre_hooks[key]
    catcher = _FeatureCatcher()
    layer.register_forward_pre_hook(catcher)
    return catcher


class InstanceForwardClassifier(CrossEntropyClassifier):
    """Forward correction through a transition matrix that depends on the input, ``T(x)``.

    A row of clean class ``c`` keeps its label with probability ``1 - q_c``
    and is flipped otherwise, to a wrong class that depends on the row:
    ``T(x)[c] = (1 - q_c) e_c + q_c softmax_{j != c}(s_c(x))``, where the
    flip scores ``s(x)`` (``C x C`` per row) come from a linear *flip head*
    on the features that enter the network's output layer (read detached:
    the head learns from them, the network not from it). This is the form
    of Xia et al.'s instance-dependent noise (NeurIPS 2020), with the flip
    rate kept per class so that it can be estimated. ``fit``:

    1. learns a class-level ``T`` with the network (VolMinNet, Li et al.,
       ICML 2021: :class:`~sknoisy.ForwardCorrectedClassifier`'s default),
       unless ``flip_rate`` is given; ``q_c = 1 - T[c, c]``;
    2. trains a new network and the flip head on the noisy posterior
       ``softmax(f(x)) @ T(x)`` with NCE+RCE (Ma et al., ICML 2020) plus
       ``ce_weight`` times its cross-entropy, after ``warm_up_epochs`` of
       plain cross-entropy, and averages the network's weights over the
       epochs after ``average_from`` of them (stochastic weight averaging,
       Izmailov et al., UAI 2018). The flip head starts at zero: every
       row's flips spread evenly over the wrong classes.

    ``predict_proba`` returns the clean posterior ``softmax(f(x))``.

    *Measured* (``benchmarks/instance_forward_tries.py``, validation splits
    of the training rows, the test split never loaded): the MNIST subset and
    a 6-class tabular set, no trusted rows, MLP(128), ``lr`` 1e-3, 20
    epochs, 5 development seeds; mean validation accuracy (%, share of CE's
    gap to the clean-label ceiling recovered):

    ==========================  ===============  ===============  ================
    method                      Xia et al. 40%   Xia et al. 20%   annotator-like
                                tabular / MNIST  tabular / MNIST  40%, tab. / MNIST
    ==========================  ===============  ===============  ================
    CE                          70.2 / 71.5      81.7 / 86.2      63.9 / 81.8
    forward (VolMin)            78.3 / 82.2      83.3 / 89.4      63.9 / 81.5
    NCE+RCE                     71.7 / 87.8      79.7 / 90.0      64.3 / 80.3
    **this, defaults**          83.3 / 89.7      86.5 / 92.1      62.1 / 79.4
                                (86% / 90%)
    step 2 at ``lr`` (1e-3)     72.5 / 89.1      80.4 / 90.7      64.4 / 81.8
    no weight averaging         83.2 / 87.0      86.5 / 91.5      62.0 / 75.9
    true flip rate given        83.2 / 90.2      86.5 / 92.4      62.3 / 78.6
    flip head not detached      82.9 / 88.5      86.5 / 91.3      62.1 / 79.3
    ceiling (clean labels)      85.5 / 91.6      85.5 / 91.6      85.5 / 91.6
    ==========================  ===============  ===============  ================

    Under flip-random noise (40%) it reached 82.3 / 89.9 (forward 79.8 /
    86.2). Under annotator-like noise without trusted rows (the flipped
    rows are those a weak model finds ambiguous, flipped to its most
    plausible wrong class, so that the noisy labels are themselves a
    consistent labelling) it is *below* CE (-1.8 / -2.4): there is nothing
    to recover without trusted rows, and the flip head lends the wrong
    labels a plausible explanation. The step-2 learning rate is its own
    (``instance_lr``): at 1e-3 the robust loss learned too slowly on the
    tabular set in 20 epochs (-11 points). The estimated flip rates did as
    well as the true ones (+0.1 on the mean of eight settings). A flip head
    started at stage 1's flip targets merged two classes that stage 1's ``T``
    sent to each other (a 2-cycle) in one run of 40 (-11 points); it starts
    uniform. The head reads the network's features detached, so that its
    gradient stays in the head: letting it reach the network cost 0.5
    points on the mean of the eight settings (1.2 on MNIST at Xia et al.
    40%) and a matrix product per batch. A whole fit costs 2.5-3.8 CE fits
    (stage 1 included). The flip head has ``C * C`` outputs and the loss
    ``C x C`` flip targets per row: its cost grows with the square of the
    number of classes (at 100 classes the loss alone took 90 to 150 times
    cross-entropy's time on a batch of 128: two runs of the loss table of
    ``benchmarks/speed.py`` on 2026-12-07).

    On the test split of ``benchmarks/instance_noise.py`` (seeds 0-4) under
    Xia et al.'s noise at 40% without trusted rows it reached 90.2% on the
    MNIST subset and 85.2% on the tabular set, 90% and 89% of CE's gap to
    the ceiling recovered (NCE+RCE 87.5 / 70.0, forward 81.8 / 82.0), and
    under annotator-like noise at 40% 77.7 / 64.1 (CE 81.6 / 66.3).
    :class:`~sknoisy.AutoNoisyClassifier` tries it on data of at most
    20 classes (``INSTANCE_FORWARD_AUTO_MAX_CLASSES``): an epoch costs
    about 2 times cross-entropy's at 10 classes, 3 times at 20, 7 times at
    50 and 23 times at 100 (``benchmarks/instance_forward_classes.py``).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits from a last ``torch.nn.Linear`` layer with one output
        per class (the flip head reads that layer's input); ``n_features``
        and ``n_classes`` are injected.
    flip_rate : float, array-like of shape (n_classes,) or None, default=None
        ``q_c``, the probability that a row of clean class ``c`` is
        flipped, in ``[0, 1)``. None learns it: ``1 - diag(T)`` of the
        class-level ``T`` of stage 1 (capped at 0.95).
    flip_lr : float > 0, default=1e-3
        The learning rate of the flip head (its own parameter group).
    ce_weight : float >= 0, default=0.3
        The weight of the cross-entropy of the noisy posterior next to NCE+RCE.
    warm_up_epochs : int >= 0, default=2
        Epochs of plain cross-entropy before the corrected loss.
    average_from : float in [0, 1], default=0.5
        The network's weights are averaged over the epochs of a training
        call after this share of them (1: not averaged).
    instance_lr : float > 0 or None, default=5e-3
        The network's learning rate in step 2 (None: ``lr``). ``lr`` (1e-3
        by default, as every sknoisy classifier) is stage 1's.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    flip_rate_ : ndarray of shape (n_classes,)
        The flip rates used.
    transition_matrix_ : ndarray of shape (n_classes, n_classes) or None
        Stage 1's class-level ``T`` (None when ``flip_rate`` was given).
    flip_module_ : torch.nn.Linear
        The flip head, registered with skorch like ``module_``.
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    ForwardCorrectedClassifier : one T for every row of a class.
    RobustLossClassifier : NCE+RCE on the network's own posterior.

    References
    ----------
    X. Xia, T. Liu, B. Han, N. Wang, M. Gong, H. Liu, G. Niu, D. Tao,
    M. Sugiyama. Part-dependent Label Noise: Towards Instance-dependent
    Label Noise. NeurIPS 2020.
    X. Li, T. Liu, B. Han, G. Niu, M. Sugiyama. Provably End-to-end
    Label-noise Learning without Anchor Points. ICML 2021.
    X. Ma, H. Huang, Y. Wang, S. Romano, S. Erfani, J. Bailey. Normalized
    Loss Functions for Deep Learning with Noisy Labels. ICML 2020.
    P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov, A. G. Wilson.
    Averaging Weights Leads to Wider Optima and Better Generalization. UAI 2018.

    Examples
    --------
    >>> from sknoisy import InstanceForwardClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="symmetric", rate=0.3, random_state=0)
    >>> clf = InstanceForwardClassifier(MLP, max_epochs=4, random_state=0).fit(X, y_noisy)
    >>> clf.flip_rate_.shape, clf.transition_matrix_.shape
    ((3,), (3, 3))
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(4)
    array([1., 1.], dtype=float32)

    With the flip rates given, no stage 1 is trained:

    >>> clf = InstanceForwardClassifier(MLP, flip_rate=0.3, max_epochs=2, random_state=0).fit(X, y_noisy)
    >>> clf.flip_rate_, clf.transition_matrix_
    (array([0.3, 0.3, 0.3]), None)
    """

    # the criterion reads its reduction, so the base's weighted reduction applies
    _supports_sample_weight = True

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "flip_rate": [Interval(Real, 0, 1, closed="left"), "array-like", None],
        "flip_lr": [Interval(Real, 0, None, closed="neither")],
        "instance_lr": [Interval(Real, 0, None, closed="neither"), None],
        "ce_weight": [Interval(Real, 0, None, closed="left")],
        **_WARM_UP_CONSTRAINTS,
        "average_from": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        module,
        *args,
        flip_rate=None,
        flip_lr=DEFAULT_FLIP_LR,
        ce_weight=0.3,
        warm_up_epochs=2,
        average_from=0.5,
        instance_lr=DEFAULT_INSTANCE_LR,
        criterion=InstanceForwardLoss,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.flip_rate = flip_rate
        self.instance_lr = instance_lr
        self.flip_lr = flip_lr
        self.ce_weight = ce_weight
        self.warm_up_epochs = warm_up_epochs
        self.average_from = average_from

    # ------------------------------------------------------------ stage 1
    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        n_classes = len(self.classes_)
        if self.flip_rate is not None:
            self.flip_rate_ = self._checked_flip_rate(n_classes)
            self.transition_matrix_ = None
            return
        net = stage1_net(self, random_state=seed_from(self.random_state), early_stopping=False).get_params(deep=False)
        net["classes"], _ = np.arange(n_classes), net.pop("criterion", None)
        stage1 = ForwardCorrectedClassifier(net.pop("module"), **net)
        stage1.fit(X, y_enc, **({} if sample_weight is None else {"sample_weight": sample_weight}))
        T = check_transition_matrix(stage1.transition_matrix_, n_classes)
        self.transition_matrix_ = T
        self.flip_rate_ = np.minimum(1.0 - np.diag(T), _MAX_FLIP_RATE)

    def _checked_flip_rate(self, n_classes):
        rate = np.asarray(self.flip_rate, dtype=np.float64)
        if rate.ndim == 0:
            rate = np.full(n_classes, float(rate))
        if rate.shape != (n_classes,) or not np.all(np.isfinite(rate)) or np.any((rate < 0) | (rate >= 1)):
            raise ValueError(
                f"flip_rate must be a number in [0, 1) or hold one such rate per class ({n_classes}), got "
                f"{self.flip_rate!r}."
            )
        return rate

    # --------------------------------------------------------------- skorch
    def initialize_module(self):
        super().initialize_module()
        n_classes = self._module_size_params().get("n_classes")
        if n_classes is None:
            raise ValueError(f"{type(self).__name__} sizes its flip head from the classes: call fit before initialize().")
        layer = _output_layer(self.module_, n_classes)
        self._feature_catcher = _catch_features(layer)
        flip = torch.nn.Linear(layer.in_features, n_classes * n_classes)
        # uniform flip targets at first: started at stage 1's T, a 2-cycle of T (T[a, b], T[b, a] large) let
        # the network merge the two classes (benchmarks/results/instance_forward_tries.md)
        torch.nn.init.zeros_(flip.weight)
        torch.nn.init.zeros_(flip.bias)
        # set inside initialize_module: skorch registers it (device moves, optimizer, save_params)
        self.flip_module_ = flip
        return self

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        rate = getattr(self, "flip_rate_", None)
        if rate is None:
            n_classes = self._module_size_params().get("n_classes", 2)
            rate = self._checked_flip_rate(n_classes) if self.flip_rate is not None else np.zeros(n_classes)
        kwargs.setdefault("flip_rate", rate)
        kwargs.setdefault("ce_weight", self.ce_weight)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments at ``instance_lr``, with the flip head in its own group (``flip_lr``)."""
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        flip = getattr(self, "flip_module_", None)
        if prefix != "optimizer" or flip is None:
            return args, kwargs
        if self.instance_lr is not None and "lr" not in self.get_params_for("optimizer"):
            kwargs["lr"] = self.instance_lr
        return with_own_param_group(args, list(flip.parameters()), lr=self.flip_lr), kwargs

    def get_loss(self, y_pred, y_true, X=None, training=False):
        table = torch.as_tensor(y_true, device=y_pred.device)
        features, self._feature_catcher.features = self._feature_catcher.features, None
        if training and len(self.history) <= self.warm_up_epochs:
            return warm_up_cross_entropy(self.criterion_, y_pred, table)
        if features is None or features.shape[0] != y_pred.shape[0]:
            raise RuntimeError(
                f"{type(self).__name__} found no features of this batch at the module's output layer: the module's "
                "forward must end in that layer (its logits unchanged after it)."
            )
        return self._criterion_loss(y_pred, table, self._flip_scores(features), target_labels(table), training=training)

    def _flip_scores(self, features):
        # the head reads the features detached: the flip targets' gradient into the network shaped its features
        # to explain the noise (-0.5 points on the mean of validation settings) and cost a matrix product per
        # batch (benchmarks/results/instance_forward_tries.md)
        return self.flip_module_(features.detach().flatten(1))

    # ------------------------------------------------- weight averaging
    def _train(self, X, y_enc, mask, routing_method, epochs=None, **kwargs):
        self._epochs_of_call = int(epochs) if epochs is not None else int(self.max_epochs)
        super()._train(X, y_enc, mask, routing_method, epochs=epochs, **kwargs)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._averaged_state, self._n_averaged, self._epochs_done = None, 0, 0

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        self._epochs_done += 1
        if self._epochs_done <= self.average_from * getattr(self, "_epochs_of_call", self.max_epochs):
            return
        with torch.no_grad():
            state = {k: v.detach().clone() for k, v in self.module_.state_dict().items() if v.is_floating_point()}
            if self._averaged_state is None:
                self._averaged_state = state
            else:
                for key, value in self._averaged_state.items():
                    value += (state[key] - value) / (self._n_averaged + 1)
        self._n_averaged += 1

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self._averaged_state is not None and self._n_averaged > 1:
            self.module_.load_state_dict(self._averaged_state, strict=False)
        self._averaged_state = None
