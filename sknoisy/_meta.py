"""Meta Loss Correction, MLC (Wang, Hu and Hu, CVPR 2020).

The transition matrix ``T`` of a forward-corrected loss is *learned* from a
small trusted (clean) subset by meta-gradient descent. Per training step:

1. **Virtual-Train**: a differentiable SGD step of the weights on the noisy
   (untrusted) rows of the mini-batch with the current ``T``,
   ``theta_hat = theta - alpha * grad_theta FCE(f(x; theta), y~; T)``;
2. **Meta-Train**: the cross-entropy of a trusted mini-batch under
   ``theta_hat`` is differentiated with respect to ``T`` through that step,
   and ``T <- rownormalise(max(T - beta * grad_T, 0))``;
3. **Actual-Train**: the weights take an ordinary optimizer step on the
   forward-corrected loss with the updated ``T``.

The paper's algorithm is implemented (persistent, row-stochastic ``T``
applied to probabilities, mean losses); the authors' code differs (see
``ALGORITHMS.md`` and the class documentation).
"""

import math
import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from skorch.dataset import unpack_data
from skorch.utils import to_numpy, to_tensor
from torch.func import functional_call
from torch.utils.data import Subset

from ._loss_correction import _TransitionMatrixMixin
from .base import LABEL, TRUSTED, CrossEntropyClassifier, _is_lazy, _TableDataset
from .losses import ForwardCorrectedCrossEntropy, forward_corrected_cross_entropy
from .noise import transition_matrix_error

__all__ = ["MetaLossCorrectionClassifier"]


# --------------------------------------------------------------------------
# the three steps as plain functions (tested on their own)
# --------------------------------------------------------------------------


def _noisy_loss(logits, labels, weights, transition_matrix, eps):
    """Mean forward-corrected loss over the rows with weight 1.

    Rows are masked by weight instead of being indexed out, so that no
    device-to-host synchronisation is needed to learn how many there are; a
    batch without any weighted row gives 0 (and zero gradients), not NaN.
    """
    per_row = forward_corrected_cross_entropy(logits, labels, transition_matrix, eps=eps, reduction="none")
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


def _virtual_meta_loss(module, logits, labels, weights, transition_matrix, X_meta, y_meta, virtual_lr, eps):
    """Cross-entropy of the trusted batch after one virtual SGD step.

    ``L(T) = CE(f(X_meta; theta - virtual_lr * grad_theta L_noisy(theta, T)), y_meta)``
    where ``logits = f(x; theta)`` were computed by ``module`` with its own
    parameters (so the graph from ``logits`` to ``theta`` exists). The result
    is differentiable with respect to ``transition_matrix``.
    """
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    noisy = _noisy_loss(logits, labels, weights, transition_matrix, eps)
    grads = torch.autograd.grad(
        noisy, [p for _, p in named], create_graph=True, allow_unused=True, materialize_grads=True
    )
    virtual = {name: p - virtual_lr * g for (name, p), g in zip(named, grads)}
    # Copies of the buffers absorb the in-place running-statistics updates of
    # batch-norm layers, so the look-ahead forward leaves the module as it was.
    for name, buffer in module.named_buffers():
        virtual[name] = buffer.clone()
    meta_logits = functional_call(module, virtual, (X_meta,))
    return F.cross_entropy(meta_logits, y_meta)


def _meta_gradient(module, logits, labels, weights, transition_matrix, X_meta, y_meta, virtual_lr, eps):
    """Gradient of the look-ahead trusted loss with respect to ``T``.

    Returns ``(grad_T, meta_loss)``, both detached. ``logits``' graph is
    kept, so the caller can still back-propagate another loss through it.
    """
    T = transition_matrix.detach().clone().requires_grad_(True)
    meta_loss = _virtual_meta_loss(module, logits, labels, weights, T, X_meta, y_meta, virtual_lr, eps)
    (grad,) = torch.autograd.grad(meta_loss, T, retain_graph=True, allow_unused=True, materialize_grads=True)
    return grad, meta_loss.detach()


def _update_transition_matrix(transition_matrix, grad, meta_lr):
    """One projected meta step: ``rownormalise(max(T - meta_lr * grad, 0))``.

    A row whose entries all become 0 (or non-finite) cannot be normalised;
    it keeps its previous value. Everything stays on the device: returns the
    new matrix and the number of such rows as a 0-d tensor, which the caller
    reads once per epoch rather than once per step.
    """
    candidate = (transition_matrix - meta_lr * grad).clamp(min=0.0)
    sums = candidate.sum(dim=1, keepdim=True)
    # `not > 0` also catches NaN sums.
    dead = ~(sums > 0)
    safe = torch.where(dead, torch.ones_like(sums), sums)
    updated = torch.where(dead, transition_matrix, candidate / safe)
    return updated, dead.sum()


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    return value


def _subset_indices(dataset, n_rows):
    """Row indices of the original data held by ``dataset`` (None if unknown)."""
    if isinstance(dataset, Subset):
        inner = _subset_indices(dataset.dataset, n_rows)
        if inner is None:
            return None
        return inner[np.asarray(dataset.indices, dtype=np.int64)]
    try:
        if len(dataset) == n_rows:
            return np.arange(n_rows)
    except TypeError:
        pass
    return None


class MetaLossCorrectionClassifier(_TransitionMatrixMixin, CrossEntropyClassifier):
    """Neural network with a transition matrix learned by Meta Loss Correction (MLC).

    MLC (Wang, Hu and Hu, CVPR 2020) trains the network with the
    forward-corrected loss ``-log((softmax(f(x)) @ T)[y~])`` on the noisy
    (untrusted) rows and *learns* ``T`` from a small trusted subset. At every
    training step:

    1. *Virtual-Train*: ``theta_hat = theta - virtual_lr * grad_theta L_noisy(theta, T)``,
       a differentiable look-ahead SGD step on the untrusted rows of the
       mini-batch (``torch.func.functional_call``, ``create_graph=True``);
    2. *Meta-Train*: ``g = grad_T CE(f(x_v; theta_hat), y_v)`` on a random
       batch of ``meta_batch_size`` trusted rows, then
       ``T <- rownormalise(max(T - meta_lr * g, 0))``;
    3. *Actual-Train*: the forward-corrected loss with the new ``T`` is
       back-propagated into the weights and the skorch optimizer (any
       optimizer) takes its step.

    The logits of step 1 are reused in step 3 (only ``T`` changed), so a step
    costs one forward pass of the mini-batch, the double backward of the
    look-ahead, one forward and backward of the trusted batch and one
    ordinary backward: about three forward-backward passes.

    ``T`` persists across steps and epochs (the paper's algorithm) and stays
    on the training device; ``transition_matrix_`` holds the learned matrix
    after ``fit``.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    transition_matrix : 'identity', array-like of shape (n_classes, n_classes), str, estimator or None, default='identity'
        The *initial* ``T``. 'identity' (or None) starts from the identity,
        as the paper does. An array is used as given; another string names a
        method of :class:`~sknoisy.TransitionMatrixEstimator` ('anchor',
        'gold', 'confusion', 'dual_t') and an estimator is cloned and fitted
        before training, as in :class:`~sknoisy.ForwardCorrectedClassifier`.
    virtual_lr : float > 0, default=0.01
        ``alpha``: step size of the virtual SGD step. The meta-gradient is
        proportional to it.
    meta_lr : float > 0, default=5.0
        ``beta``: step size of the update of ``T``. sknoisy's losses are
        means over the batch (the authors' code sums them), so the change of
        ``T`` per step scales with ``virtual_lr * meta_lr`` and not with the
        batch size; the paper's MNIST setting is ``alpha=1e-2, beta=1``. In
        sknoisy's runs (digits and synthetic data, 10-25 trusted rows per
        class, Adam) values from 2 to 10 worked best: larger ones make ``T``
        oscillate from step to step, smaller ones learn it slowly. It is
        worth a grid search on trusted scores.
    meta_batch_size : int >= 1, default=64
        Trusted rows drawn (without replacement, all of them when there are
        fewer) for each meta step.
    reset_each_step : bool, default=False
        Start every step from the initial ``T`` instead of the last learned
        one, as the authors' public code does (the paper keeps ``T``).
    criterion : class, default=ForwardCorrectedCrossEntropy
        Must be :class:`~sknoisy.losses.ForwardCorrectedCrossEntropy` (or a
        subclass); its ``eps`` (``criterion__eps``) is used in every loss,
        and its ``T`` buffer holds the current matrix during training.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier`` (``optimizer``, ``lr``,
        ``max_epochs``, ``batch_size``, ``train_split``, ``device``, ...).

    Attributes
    ----------
    transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The learned ``T`` (the initial one until training ends).
    initial_transition_matrix_ : ndarray of shape (n_classes, n_classes)
        The ``T`` training started from.
    transition_matrix_estimator_ : TransitionMatrixEstimator or None
        The fitted estimator when the initial ``T`` was estimated.
    history_ : skorch.History
        Besides skorch's entries, every epoch records ``transition_matrix``
        (``T`` at the end of the epoch, as nested lists),
        ``transition_matrix_change`` (mean row-L1 distance between ``T`` at
        the end and at the start of the epoch), ``meta_loss`` (mean trusted
        cross-entropy after the virtual step) and
        ``transition_matrix_frozen_rows`` (meta steps in which a row was
        kept because it would have become all zeros).
    classes_, n_features_in_, module_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    Notes
    -----
    *Trusted rows are required* (``fit(X, y, trusted=mask)``), of at least
    two classes. They form the meta set and are **not** trained on with a
    loss of their own in the actual step, as in the paper, where the network
    learns from the noisy set only and the clean set only steers ``T``
    (training on them too would let the network memorise the very rows that
    judge ``T``). Trusted rows of a mini-batch are therefore masked out of
    the training loss, a batch with no untrusted rows gives a zero loss, and
    data whose rows are all trusted is refused (use
    :class:`~sknoisy.CrossEntropyClassifier`).
    With a ``train_split`` such as :class:`~sknoisy.base.TrustedValidSplit`,
    the trusted rows held out for validation are kept out of the meta set.
    The validation loss is the cross-entropy on trusted rows and the
    forward-corrected loss with the current ``T`` on untrusted ones.

    The trusted rows are copied to the training device once per ``fit`` (so
    data larger than memory is out of scope for MLC: the trusted subset must
    fit on the device; the untrusted rows stream through skorch's loaders as
    usual). The trusted batches are drawn with a ``torch.Generator`` on that
    device, seeded from ``random_state``. The per-step work (meta-gradient,
    update of ``T``, count of frozen rows) stays on the device; the host reads
    ``T`` once per epoch.

    The meta objective is greedy (the trusted loss one virtual step ahead),
    so the learned ``T`` is the matrix that helps the trusted loss most, not
    a consistent estimate of the noise: it fluctuates from epoch to epoch
    and can be far from the true ``T`` on some problems (the history's
    ``transition_matrix`` shows its path).

    A row of ``T`` that the projected update would set to all zeros keeps its
    previous value (the paper divides by a small constant instead and leaves
    a zero row); a single warning per ``fit`` reports how often it happened.

    ``fit`` restarts ``T`` from the initial matrix; ``partial_fit`` continues
    from the learned one.

    Differences of the authors' public code from the paper (sknoisy follows
    the paper): ``T`` is reset to the identity at every step (available here
    as ``reset_each_step=True``), it multiplies logits rather than
    probabilities, it is column-normalised, and the losses are summed over
    the batch.

    References
    ----------
    Z. Wang, G. Hu and Q. Hu, "Training Noise-Robust Deep Neural Networks via
    Meta-Learning", CVPR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import MetaLossCorrectionClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     300, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0)
    >>> trusted = np.zeros(300, dtype=bool)
    >>> trusted[:45] = True
    >>> y = np.where(trusted, y_clean, y_noisy)
    >>> clf = MetaLossCorrectionClassifier(MLP, max_epochs=3, random_state=0)
    >>> clf = clf.fit(X, y, trusted=trusted)
    >>> clf.transition_matrix_.shape
    (3, 3)
    >>> bool(np.allclose(clf.transition_matrix_.sum(axis=1), 1.0))
    True
    """

    _correction_params = ("transition_matrix", "virtual_lr", "meta_lr", "meta_batch_size", "reset_each_step")

    def __init__(
        self,
        module,
        *args,
        transition_matrix="identity",
        virtual_lr=0.01,
        meta_lr=5.0,
        meta_batch_size=64,
        reset_each_step=False,
        criterion=ForwardCorrectedCrossEntropy,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix
        self.virtual_lr = virtual_lr
        self.meta_lr = meta_lr
        self.meta_batch_size = meta_batch_size
        self.reset_each_step = reset_each_step

    # ----------------------------------------------------------- parameters
    def _check_meta_params(self):
        _check_positive(self.virtual_lr, "virtual_lr")
        _check_positive(self.meta_lr, "meta_lr")
        size = self.meta_batch_size
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"meta_batch_size must be an integer >= 1, got {size!r}.")
        if not isinstance(self.reset_each_step, (bool, np.bool_)):
            raise TypeError(f"reset_each_step must be True or False, got {self.reset_each_step!r}.")

    def _check_trusted(self, y_enc, mask, where="the training data"):
        name = type(self).__name__
        if not mask.any():
            raise ValueError(
                f"{name} needs trusted (clean) rows to learn the transition matrix, but {where} has "
                "none: pass fit(X, y, trusted=mask) with a boolean mask of the rows whose labels "
                "are known to be correct (through GridSearchCV, enable metadata routing)."
            )
        classes = np.unique(y_enc[mask])
        if classes.size < 2:
            label = self.classes_[classes[0]].tolist()
            raise ValueError(
                f"{name} needs trusted rows of at least 2 classes, but all trusted rows of {where} "
                f"have the label {label!r}: the meta loss could not tell the classes apart."
            )

    # --------------------------------------------------------- T resolution
    def _resolve_transition_matrix(self, X, y_enc, mask):
        spec = self.transition_matrix
        if spec is None or (isinstance(spec, str) and spec == "identity"):
            self.transition_matrix_estimator_ = None
            return np.eye(len(self.classes_))
        return super()._resolve_transition_matrix(X, y_enc, mask)

    def _criterion_transition_matrix(self):
        T = getattr(self, "transition_matrix_", None)
        if T is None and hasattr(self, "classes_inferred_"):
            spec = self.transition_matrix
            if spec is None or (isinstance(spec, str) and spec == "identity"):
                return np.eye(len(self.classes_inferred_))
        return super()._criterion_transition_matrix()

    def initialize_criterion(self):
        criterion = self.criterion
        cls = criterion if isinstance(criterion, type) else type(criterion)
        if not issubclass(cls, ForwardCorrectedCrossEntropy):
            raise TypeError(
                f"{type(self).__name__} learns the transition matrix of the forward-corrected loss, so "
                "criterion must be sknoisy.losses.ForwardCorrectedCrossEntropy (or a subclass), "
                f"got {cls.__name__}."
            )
        return super().initialize_criterion()

    def _check_untrusted(self, mask):
        if mask.all():
            raise ValueError(
                f"{type(self).__name__} trains the network on the untrusted rows (the trusted ones "
                "only steer the transition matrix), but every row is trusted: with clean labels "
                "only, use CrossEntropyClassifier."
            )

    def _prepare_training(self, X, y_enc, mask):
        self._check_meta_params()
        self._check_trusted(y_enc, mask)
        self._check_untrusted(mask)
        # A learned T starts from here; it is re-resolved at every fit.
        super()._prepare_training(X, y_enc, mask)
        self.initial_transition_matrix_ = self.transition_matrix_.copy()

    # ----------------------------------------------------- training state
    def _train(self, X, y_enc, mask, routing_method, **fit_params):
        self._check_meta_params()
        self._check_trusted(y_enc, mask)
        self._check_untrusted(mask)
        if routing_method == "fit":
            # with warm_start the criterion is not rebuilt; fit still restarts T.
            self.criterion_.set_transition_matrix(self.initial_transition_matrix_)
        self._meta_state = {}
        try:
            super()._train(X, y_enc, mask, routing_method, **fit_params)
        finally:
            self.transition_matrix_ = self._check_transition_matrix(
                self.criterion_.T.detach().cpu().to(torch.float64).numpy()
            )
            # Tensors on the device and a torch.Generator (not picklable) only
            # live while training.
            self._meta_state = None

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        state = getattr(self, "_meta_state", None)
        inputs, table = (X.inputs, X.table) if isinstance(X, _TableDataset) else (X, y)
        if state is not None and table is not None:
            self._start_meta_training(inputs, table, dataset_train)
        return dataset_train, dataset_valid

    def _start_meta_training(self, X, table, dataset_train):
        """Put the trusted training rows, the initial T and the generator on the device."""
        table = np.asarray(to_numpy(table))
        train_idx = _subset_indices(dataset_train, len(table))
        if train_idx is None:
            warnings.warn(
                f"{type(self).__name__} could not tell which rows the train_split kept for training; "
                "every trusted row joins the meta set, including any used for validation.",
                UserWarning,
                stacklevel=4,
            )
            train_idx = np.arange(len(table))
        train_mask = np.zeros(len(table), dtype=bool)
        train_mask[train_idx] = True
        meta_mask = train_mask & (table[:, TRUSTED] == 1)
        self._check_trusted(table[:, LABEL], meta_mask, where="the training part of the train_split")
        first = next(iter(self.module_.parameters()), None)
        device = first.device if first is not None else torch.device(self.device or "cpu")
        dtype = first.dtype if first is not None else torch.float32
        # seeded from the forked torch RNG of fit, so random_state decides it.
        seed = int(torch.randint(0, 2**62, (1,)).item())
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        state = self._meta_state
        meta_idx = np.flatnonzero(meta_mask)
        if _is_lazy(X):
            # only the (small) trusted set is read into memory, item by item
            meta_X = np.stack([np.asarray(X[i]) for i in meta_idx]) if meta_idx.size else np.empty((0,))
        else:
            meta_X = np.asarray(X[meta_idx])
        state["X"] = torch.as_tensor(meta_X, device=device)
        state["y"] = torch.as_tensor(table[meta_mask, LABEL], dtype=torch.int64, device=device)
        state["generator"] = generator
        state["device"] = device
        state["initial_T"] = torch.as_tensor(self.initial_transition_matrix_, dtype=dtype, device=device)
        state["frozen_rows"] = torch.zeros((), dtype=torch.int64, device=device)
        state["meta_loss"] = torch.zeros((), dtype=dtype, device=device)
        state["steps"] = 0
        state["warned"] = False

    def _draw_meta_batch(self, state):
        n_trusted = state["y"].shape[0]
        size = min(int(self.meta_batch_size), n_trusted)
        if size == n_trusted:
            return state["X"], state["y"]
        idx = torch.randperm(n_trusted, generator=state["generator"], device=state["device"])[:size]
        return state["X"][idx], state["y"][idx]

    def __getstate__(self):
        # A net pickled mid-training (a checkpoint callback) leaves the
        # transient meta state behind: the generator cannot be pickled.
        state = super().__getstate__()
        state["_meta_state"] = None
        return state

    # --------------------------------------------------------------- skorch
    def train_step_single(self, batch, **fit_params):
        state = getattr(self, "_meta_state", None)
        if not state or "X" not in state:
            raise RuntimeError(
                f"{type(self).__name__} trains through fit or partial_fit, which set up the trusted "
                "meta set; skorch's fit_loop cannot be called on its own."
            )
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        logits = self.infer(Xi, **fit_params)
        table = to_tensor(yi, device=logits.device)
        labels = table[:, LABEL]
        weights = (table[:, TRUSTED] == 0).to(logits.dtype)
        eps = self.criterion_.eps
        buffer = self.criterion_.T
        start = state["initial_T"] if self.reset_each_step else buffer.to(logits.dtype)

        X_meta, y_meta = self._draw_meta_batch(state)
        grad, meta_loss = _meta_gradient(
            self.module_, logits, labels, weights, start, X_meta, y_meta, float(self.virtual_lr), eps
        )
        T, frozen = _update_transition_matrix(start.detach(), grad, float(self.meta_lr))
        with torch.no_grad():
            buffer.copy_(T)
        state["frozen_rows"] += frozen
        state["meta_loss"] += meta_loss
        state["steps"] += 1

        loss = _noisy_loss(logits, labels, weights, T, eps)
        loss.backward()
        return {"loss": loss, "y_pred": logits}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        T = self.criterion_.T
        eps = self.criterion_.eps
        if y_true.ndim == 1:
            return forward_corrected_cross_entropy(y_pred, y_true, T, eps=eps)
        labels = y_true[:, LABEL]
        corrected = forward_corrected_cross_entropy(y_pred, labels, T, eps=eps, reduction="none")
        clean = F.cross_entropy(y_pred, labels, reduction="none")
        return torch.where(y_true[:, TRUSTED] == 1, clean, corrected).mean()

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        state = getattr(self, "_meta_state", None)
        if state:
            state["epoch_start_T"] = self.criterion_.T.detach().clone()
            state["frozen_rows"].zero_()
            state["meta_loss"].zero_()
            state["steps"] = 0

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        state = getattr(self, "_meta_state", None)
        if not state or "epoch_start_T" not in state:
            return
        # The one host read of the epoch.
        T = self.criterion_.T.detach().to(torch.float64).cpu().numpy()
        start = state["epoch_start_T"].to(torch.float64).cpu().numpy()
        frozen = int(state["frozen_rows"].item())
        steps = state["steps"]
        meta_loss = float(state["meta_loss"].item()) / steps if steps else float("nan")
        self.history.record("transition_matrix", T.tolist())
        self.history.record("transition_matrix_change", transition_matrix_error(T, start))
        self.history.record("meta_loss", meta_loss)
        self.history.record("transition_matrix_frozen_rows", frozen)
        if frozen and not state["warned"]:
            state["warned"] = True
            warnings.warn(
                f"{type(self).__name__}: in {frozen} meta step(s) of epoch {len(self.history)} a row of "
                "the transition matrix would have become all zeros after max(T - meta_lr * grad, 0); "
                "those rows kept their previous values. meta_lr (or virtual_lr) is probably too large. "
                "This warning is given once per fit; the history's 'transition_matrix_frozen_rows' "
                "counts every epoch.",
                UserWarning,
                stacklevel=2,
            )
