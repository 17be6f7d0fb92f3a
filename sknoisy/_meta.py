"""Meta Loss Correction, MLC (Wang, Hu and Hu, CVPR 2020).

The transition matrix ``T`` of a forward-corrected loss is *learned* from a
small trusted (clean) subset by meta-gradient descent. Per training step:

1. **Virtual-Train**: a differentiable look-ahead step of the weights on the
   noisy (untrusted) rows of the mini-batch with the current ``T``,
   ``theta_hat = theta - alpha * grad_theta FCE(f(x; theta), y~; T)`` (or the
   update the real optimizer would take);
2. **Meta-Train**: the cross-entropy of the trusted rows under
   ``theta_hat`` is differentiated with respect to ``T`` through that step,
   and ``T`` takes a projected gradient step;
3. **Actual-Train**: the weights take an ordinary optimizer step on the
   forward-corrected loss with the updated ``T``.

Steps 1 and 2 run inside the net's ``get_loss`` (skorch calls it with the
logits of the mini-batch, whose graph reaches the weights), which returns
the loss of step 3: skorch's own training step, and any mixin that replaces
it (``AccelerateMixin``), back-propagate it as for any other criterion.

The paper's algorithm is implemented (persistent ``T`` applied to
probabilities, mean losses); the authors' code differs (see ``ALGORITHMS.md``
and the class documentation).
"""

import numbers
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from skorch.utils import to_numpy
from torch.func import functional_call
from torch.utils.data import Subset

from ._data import inputs_and_table
from ._loss_correction import (
    _NOT_VOLMIN_HINT,
    _WARM_UP_CONSTRAINTS,
    DEFAULT_WARM_UP_EPOCHS,
    _transition_matrix_constraints,
    _transition_method_names,
    _TransitionMatrixMixin,
)
from ._targets import split_target_table
from .base import CrossEntropyClassifier
from .losses import ForwardCorrectedCrossEntropy, forward_corrected_cross_entropy, gold_corrected_cross_entropy
from .transition import transition_matrix_error
from .utils._param_validation import Interval, StrOptions
from .utils._rows import take_rows
from .utils._validation import check_transition_matrix

__all__ = ["MetaLossCorrectionClassifier"]

#: How ``T`` is brought back to a valid matrix after each meta step.
NORMALIZATIONS = ("simplex", "row", "column")
#: The virtual (look-ahead) step of the weights.
LOOK_AHEADS = ("sgd", "optimizer")

# The defaults (measured in benchmarks/mlc_options.py and mlc_start.py; see the class documentation).
DEFAULT_T = "confident_joint"
DEFAULT_META_LR = 0.01
DEFAULT_META_STEP_EVERY = 4
DEFAULT_META_MAX_STEP = 0.05
DEFAULT_META_BATCH_SIZE = None
DEFAULT_NORMALIZATION = "column"
DEFAULT_LOOK_AHEAD = "optimizer"
DEFAULT_TRAIN_ON_TRUSTED = True
# DEFAULT_WARM_UP_EPOCHS (2) is the other corrected losses' warm-up; mlc_start.py measured it for MLC too.


# --------------------------------------------------------------------------
# the three steps as plain functions (tested on their own)
# --------------------------------------------------------------------------


def _noisy_loss(logits, labels, weights, transition_matrix, eps, clean=None):
    """Mean forward-corrected loss over the rows with weight 1 (the actual step's loss).

    Rows are masked by weight instead of being indexed out, so that no
    device-to-host synchronisation is needed to learn how many there are; a
    batch without any weighted row gives 0 (and zero gradients), not NaN.
    With ``clean`` (a 0/1 weight of the trusted rows), those rows add their
    plain cross-entropy and the mean is over both: GLC's joint loss.
    """
    per_row = forward_corrected_cross_entropy(logits, labels, transition_matrix, eps=eps, reduction="none")
    if clean is not None:
        per_row = torch.where(clean > 0, F.cross_entropy(logits, labels, reduction="none"), per_row)
        weights = weights + clean
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


class _SGDLookAhead:
    """The virtual step of the paper: ``theta - lr * grad``.

    A look-ahead gives the virtual parameters (``step``, differentiable in
    the gradients) and, with them, the elementwise derivative of each
    virtual parameter with respect to its gradient (``step_and_slopes``,
    used without a graph): the meta-gradient
    carries the trusted loss's gradient back through the look-ahead with
    them, which costs a few elementwise products instead of a graph.
    """

    def __init__(self, lr):
        self.lr = float(lr)

    def step(self, named, grads):
        return {name: p - self.lr * g for (name, p), g in zip(named, grads)}

    __call__ = step

    def step_and_slopes(self, named, grads):
        return self.step(named, grads), [-self.lr] * len(grads)


class _OptimizerLookAhead:
    """The virtual step that the real ``optimizer`` would take with these gradients.

    Reads the optimizer's state (momentum, moment estimates, step count) and
    never changes it. Supports ``torch.optim.SGD`` (momentum, dampening,
    Nesterov, weight decay, maximize), ``Adam`` and ``AdamW`` (weight decay,
    AMSGrad, maximize). Adam's ``sqrt`` is taken of ``v_hat`` plus the
    smallest positive float of its dtype, so that its derivative stays
    finite where a gradient is exactly 0 (the step there is 0 either way).
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)):
            raise TypeError(
                "look_ahead='optimizer' follows the update of torch.optim.SGD, Adam or AdamW; got "
                f"{type(optimizer).__name__}. Use look_ahead='sgd' with this optimizer."
            )
        self.optimizer = optimizer
        self.adam = isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW))
        self.decoupled = isinstance(optimizer, torch.optim.AdamW)

    def _settings(self, named):
        groups = {id(p): group for group in self.optimizer.param_groups for p in group["params"]}
        for name, p in named:
            group = groups.get(id(p))
            if group is None:
                raise ValueError(f"parameter {name!r} of the module is not handled by the optimizer.")
            yield p, group, self.optimizer.state.get(p, {})

    def step(self, named, grads):
        return self.step_and_slopes(named, grads)[0]

    __call__ = step

    def step_and_slopes(self, named, grads):
        update = self._adam if self.adam else self._sgd
        virtual, slopes = {}, []
        for (name, _), (p, group, state), g in zip(named, self._settings(named), grads):
            virtual[name], slope = update(p, g, group, state)
            slopes.append(slope)
        return virtual, slopes

    @staticmethod
    def _sgd(p, g, group, state):
        """The virtual parameter and its derivative with respect to ``g`` (a number here)."""
        lr, wd, momentum = group["lr"], group.get("weight_decay", 0.0), group.get("momentum", 0.0)
        sign = -1.0 if group.get("maximize", False) else 1.0
        d = sign * g
        if wd:
            d = d + wd * p
        slope = 1.0
        if momentum:
            buf = state.get("momentum_buffer")
            damp = 0.0 if buf is None else group.get("dampening", 0.0)
            buf = d if buf is None else momentum * buf + (1.0 - damp) * d
            if group.get("nesterov", False):
                d, slope = d + momentum * buf, 1.0 + momentum * (1.0 - damp)
            else:
                d, slope = buf, 1.0 - damp
        return p - lr * d, -lr * slope * sign

    def _adam(self, p, g, group, state):
        """The virtual parameter and its elementwise derivative with respect to ``g``."""
        lr, wd, (beta1, beta2), eps = group["lr"], group.get("weight_decay", 0.0), group["betas"], group["eps"]
        sign = -1.0 if group.get("maximize", False) else 1.0
        decoupled = self.decoupled or group.get("decoupled_weight_decay", False)
        d = sign * g
        if wd and decoupled:
            p = p * (1.0 - lr * wd)
        elif wd:
            d = d + wd * p
        t = float(state["step"]) + 1.0 if "step" in state else 1.0
        c1, c2 = 1.0 / (1.0 - beta1**t), 1.0 / (1.0 - beta2**t)
        m, v = state.get("exp_avg"), state.get("exp_avg_sq")
        m = (1.0 - beta1) * d if m is None else beta1 * m + (1.0 - beta1) * d
        v = (1.0 - beta2) * d * d if v is None else beta2 * v + (1.0 - beta2) * d * d
        dv = 2.0 * (1.0 - beta2) * d  # dv/dd
        if group.get("amsgrad", False) and state.get("max_exp_avg_sq") is not None:
            dv = torch.where(v > state["max_exp_avg_sq"], dv, torch.zeros_like(dv))
            v = torch.maximum(state["max_exp_avg_sq"], v)
        root = (c2 * v + torch.finfo(v.dtype).tiny).sqrt()
        denom = root + eps
        virtual = p - lr * c1 * m / denom
        # d/dd of lr c1 m / (sqrt(c2 v) + eps), with dm/dd = 1 - beta1
        slope = -lr * c1 * ((1.0 - beta1) / denom - m * c2 * dv / (2.0 * root * denom * denom))
        return virtual, sign * slope


def _sgd_look_ahead(lr):
    """The paper's look-ahead with step size ``lr``."""
    return _SGDLookAhead(lr)


def _optimizer_look_ahead(optimizer):
    """The look-ahead that follows ``optimizer``'s update (see :class:`_OptimizerLookAhead`)."""
    return _OptimizerLookAhead(optimizer)


def _as_look_ahead(look_ahead):
    """A look-ahead object; a number is the step size of the SGD look-ahead."""
    return look_ahead if hasattr(look_ahead, "step_and_slopes") else _SGDLookAhead(float(look_ahead))


def _noisy_gradients(module, logits, labels, weights, transition_matrix, eps, clean=None):
    """The trainable parameters (by name) and the actual step's loss gradients, with their graph to ``T``."""
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    noisy = _noisy_loss(logits, labels, weights, transition_matrix, eps, clean)
    grads = torch.autograd.grad(
        noisy, [p for _, p in named], create_graph=True, allow_unused=True, materialize_grads=True
    )
    return named, grads


def _virtual_parameters(module, logits, labels, weights, transition_matrix, look_ahead, eps, clean=None):
    """``theta_hat``: the trainable parameters after the look-ahead step, by name.

    ``logits = f(x; theta)`` were computed by ``module`` with its own
    parameters, so the graph from ``logits`` to ``theta`` exists; the result
    is differentiable with respect to ``transition_matrix``. The look-ahead
    differentiates the actual step's loss (:func:`_noisy_loss`, with
    ``clean`` when the trusted rows are trained on too).
    """
    named, grads = _noisy_gradients(module, logits, labels, weights, transition_matrix, eps, clean)
    return _as_look_ahead(look_ahead).step(named, grads)


def _module_buffers(module):
    # Copies of the buffers absorb the in-place running-statistics updates of
    # batch-norm layers, so the look-ahead forward leaves the module as it was.
    return {name: buffer.clone() for name, buffer in module.named_buffers()}


def _virtual_meta_loss(module, logits, labels, weights, transition_matrix, X_meta, y_meta, look_ahead, eps, clean=None):
    """Cross-entropy of the trusted rows after the look-ahead step, as one differentiable graph.

    ``L(T) = CE(f(X_meta; theta_hat(T)), y_meta)``; ``look_ahead`` is the
    SGD step size or a look-ahead object. The reference of
    :func:`_meta_gradient`, which computes its gradient without this graph.
    """
    virtual = _virtual_parameters(module, logits, labels, weights, transition_matrix, look_ahead, eps, clean)
    meta_logits = functional_call(module, {**virtual, **_module_buffers(module)}, (X_meta,))
    return F.cross_entropy(meta_logits, y_meta)


def _meta_gradient(
    module, logits, labels, weights, transition_matrix, X_meta, y_meta, look_ahead, eps, chunk_size=None, clean=None
):
    """Gradient of the look-ahead trusted loss with respect to ``T``.

    By the chain rule, ``dL/dT = sum over parameters of (dL/dtheta_hat *
    dtheta_hat/dg) . dg/dT``, where ``g`` is the actual step's gradient. The
    look-ahead is taken without a graph; the trusted rows go through the
    network at ``theta_hat`` in chunks of ``chunk_size`` rows (None: all at
    once) and the gradient of their mean cross-entropy is accumulated chunk
    by chunk (so the memory is that of one chunk whatever the size of the
    trusted set); it is scaled by the look-ahead's elementwise derivative
    and carried back to ``T`` through ``g`` in one vector-Jacobian product.

    Returns ``(grad_T, meta_loss)``, both detached. ``logits``' graph is
    kept, so the caller can still back-propagate another loss through it.
    """
    look_ahead = _as_look_ahead(look_ahead)
    T = transition_matrix.detach().clone().requires_grad_(True)
    named, grads = _noisy_gradients(module, logits, labels, weights, T, eps, clean)
    with torch.no_grad():
        virtual, slopes = look_ahead.step_and_slopes(named, grads)
    leaves = {name: value.detach().requires_grad_(True) for name, value in virtual.items()}
    buffers = _module_buffers(module)
    n_meta = y_meta.shape[0]
    chunk = n_meta if chunk_size is None else max(1, int(chunk_size))
    total, meta_loss = None, torch.zeros((), dtype=logits.dtype, device=logits.device)
    for start in range(0, n_meta, chunk):
        out = functional_call(module, {**leaves, **buffers}, (X_meta[start : start + chunk],))
        loss = F.cross_entropy(out, y_meta[start : start + chunk], reduction="sum") / n_meta
        meta_grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True, materialize_grads=True)
        total = list(meta_grads) if total is None else [a + b for a, b in zip(total, meta_grads)]
        meta_loss = meta_loss + loss.detach()
    # only the gradients that depend on T (a parameter the loss does not reach has none)
    pairs = [(g, slope * a) for g, slope, a in zip(grads, slopes, total) if g.requires_grad]
    if not pairs:
        return torch.zeros_like(T), meta_loss
    (grad,) = torch.autograd.grad(
        [g for g, _ in pairs], T, grad_outputs=[u for _, u in pairs], retain_graph=True, allow_unused=True,
        materialize_grads=True,
    )
    return grad, meta_loss


def _project_rows_onto_simplex(V):
    """Euclidean projection of every row of ``V`` onto the probability simplex.

    The closest (in L2) row-stochastic matrix: ``max(V - theta_i, 0)`` with
    the threshold ``theta_i`` of each row found from its sorted entries
    (Held, Wolfe and Crowder, 1974). Vectorised, on the device of ``V``.
    """
    n_classes = V.shape[1]
    U = torch.sort(V, dim=1, descending=True).values
    shifted = U.cumsum(dim=1) - 1.0
    k = torch.arange(1, n_classes + 1, dtype=V.dtype, device=V.device)
    # the condition holds for a prefix of the sorted entries; rho is its length
    rho = (U - shifted / k > 0).sum(dim=1, keepdim=True).clamp(min=1)
    theta = shifted.gather(1, rho - 1) / rho.to(V.dtype)
    return (V - theta).clamp(min=0.0)


def _update_transition_matrix(transition_matrix, grad, meta_lr, normalization="row", column_sums=None, max_step=None):
    """One projected meta step from ``T`` along ``-meta_lr * grad``.

    With ``max_step``, a step ``meta_lr * grad`` whose largest absolute entry
    exceeds it is scaled down, as a whole, to that size first.

    ``normalization``:

    * ``'simplex'``: each row of ``T - meta_lr * grad`` is projected onto the
      probability simplex (the nearest row-stochastic matrix);
    * ``'row'``: ``max(., 0)`` then each row divided by its sum;
    * ``'column'``: ``max(., 0)`` then each column scaled to sum to
      ``column_sums`` (a tensor of shape (1, n_classes); None: 1, the
      paper's Eq. 10 and the authors' code, column-stochastic).

    A row (a column for ``'column'``) that cannot be normalised (all zeros,
    or non-finite) keeps its previous value. With ``'column'``, a step that
    would leave a row all zeros (a clean class sent to no noisy label, which
    no row-stochastic ``T @ diag(c)`` represents) is not taken: ``T`` is
    kept, and each such row counts. Everything stays on the device:
    returns the new matrix and the number of such rows or columns as a 0-d
    tensor, which the caller reads once per epoch rather than once per step.
    """
    step = meta_lr * grad
    if max_step is not None:
        # on the device, no host read: a NaN step stays NaN (and is caught below)
        step = step * (max_step / step.abs().amax()).clamp(max=1.0)
    candidate = transition_matrix - step
    if normalization == "simplex":
        updated = _project_rows_onto_simplex(candidate)
        dead = ~torch.isfinite(updated).all(dim=1, keepdim=True)
        return torch.where(dead, transition_matrix, updated), dead.sum()
    dim = 0 if normalization == "column" else 1
    candidate = candidate.clamp(min=0.0)
    sums = candidate.sum(dim=dim, keepdim=True)
    # `not > 0` also catches NaN sums.
    dead = ~(sums > 0)
    safe = torch.where(dead, torch.ones_like(sums), sums)
    scaled = candidate / safe if column_sums is None or dim == 1 else candidate * (column_sums / safe)
    updated = torch.where(dead, transition_matrix, scaled)
    if dim == 1:
        return updated, dead.sum()
    empty_rows = ~(updated.sum(dim=1) > 0)
    return torch.where(empty_rows.any(), transition_matrix, updated), dead.sum() + empty_rows.sum()


def _row_stochastic(T):
    """The row-stochastic ``T @ diag(c)`` of a column-normalised ``T``: what sknoisy reports and saves.

    The forward loss, and so everything MLC trains, cannot tell ``T`` from
    ``T @ diag(c)`` (a column scale adds a constant to the loss of the rows
    with that noisy label), so the row-stochastic member of that family
    (``c = T^-1 1``) is the T the network was trained with, in sknoisy's
    convention. When no positive ``c`` exists (T far from row-stochastic),
    the rows are divided by their sums instead.
    """
    try:
        scale = np.linalg.solve(T, np.ones(T.shape[0]))
    except np.linalg.LinAlgError:
        scale = None
    if scale is not None and np.all(np.isfinite(scale)) and np.all(scale > 0):
        T = T * scale[None, :]
    sums = T.sum(axis=1, keepdims=True)
    return T / np.where(sums > 0, sums, 1.0)


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
    __doc__ = f"""Neural network with a transition matrix learned by Meta Loss Correction (MLC).

    MLC (Wang, Hu and Hu, CVPR 2020) trains the network with the
    forward-corrected loss ``-log((softmax(f(x)) @ T)[y~])`` on the noisy
    (untrusted) rows and *learns* ``T`` from a small trusted subset. At every
    training step:

    1. *Virtual-Train*: ``theta_hat = theta - virtual_lr * grad_theta L_noisy(theta, T)``,
       a differentiable look-ahead step on the untrusted rows of the
       mini-batch (``torch.func.functional_call``, ``create_graph=True``);
       with ``look_ahead='optimizer'`` the step the real optimizer would take;
    2. *Meta-Train*: ``g = grad_T CE(f(x_v; theta_hat), y_v)`` on the trusted
       rows (all of them by default), then ``T <- P(T - meta_lr * g)`` where
       ``P`` is the ``normalization``;
    3. *Actual-Train*: the forward-corrected loss with the new ``T`` is
       back-propagated into the weights and the skorch optimizer (any
       optimizer) takes its step.

    **What it does at its defaults**: it learns little of ``T``. It starts
    from the confident joint's estimate, and under uniform and flip-random
    noise the meta steps moved ``T`` by 0.02-0.06 (mean row L1 distance)
    and its predictions agreed on about 99% of test rows with the same net
    whose ``T`` stayed frozen at the start; under flip-to-one noise it moved
    ``T`` by 0.10-0.42 and gained 0.9-2.2 points over the frozen ``T``
    (MNIST subset, 40% noise, 2 seeds: ``benchmarks/results/mlc_frozen.md``).
    Mostly, then, it is forward correction with the confident joint's ``T``
    plus the trusted rows' cross-entropy, at about 1.9 times the cost per
    epoch of GLC with its default meta step on every 4th batch (2.3 times
    a hand-written loop's epoch; 4.7 times with one on every batch, as in
    the paper: ``benchmarks/results/speed.md`` and ``mlc_step_every.md``).
    The meta-gradient cannot change ``T``'s column scales at all (see the
    notes).

    Steps 1 and 2 run in ``get_loss`` (skorch hands it the logits of the
    mini-batch, whose graph reaches the weights), which returns the loss of
    step 3; skorch's training step, or a mixin's such as
    ``skorch.hf.AccelerateMixin``, back-propagates it as any loss. The logits
    of step 1 are reused in step 3 (only ``T`` changed), so a step with a
    meta step costs one forward pass of the mini-batch, the double backward
    of the look-ahead, one forward and backward of the trusted rows and one
    ordinary backward; the other steps (see ``meta_step_every``) cost what
    forward correction's do.

    ``T`` persists across steps and epochs (the paper's algorithm) and stays
    on the training device; ``transition_matrix_`` holds the learned matrix
    after ``fit``. It lives in the criterion, which :func:`~sknoisy.save_model`
    saves and :class:`sknoisy.callbacks.EarlyStopping` (``load_best=True``)
    restores with the network (skorch's own restores the network only).

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    transition_matrix : 'identity', array-like of shape (n_classes, n_classes), str, estimator or None, default={DEFAULT_T!r}
        The *initial* ``T``. The default, 'confident_joint', starts from
        :class:`~sknoisy.TransitionMatrixEstimator`'s default estimate
        (out-of-fold probabilities of a plain network, no trusted row
        needed; see the measured defaults below). 'identity' (or None) starts
        from the identity, as the authors' code does. 'gold' starts from
        GLC's estimate on the same trusted rows (a plain network trained on
        the untrusted rows first, see :class:`~sknoisy.GLCClassifier`). An
        array is used as given; another string names a method of
        :class:`~sknoisy.TransitionMatrixEstimator`:
        {_transition_method_names()};
        an estimator is cloned and fitted before training, as in
        :class:`~sknoisy.ForwardCorrectedClassifier`.
    virtual_lr : float > 0, default=0.01
        ``alpha``: step size of the SGD look-ahead (``look_ahead='sgd'``).
        The meta-gradient is proportional to it.
    meta_lr : float > 0, default={DEFAULT_META_LR!r}
        ``beta``: step size of the update of ``T`` per training batch (a
        meta step on every ``meta_step_every``-th batch takes
        ``meta_step_every`` times it). sknoisy's losses are
        means over the batch, as in the paper (the authors' code sums them),
        so the change of ``T`` per step scales with ``virtual_lr * meta_lr``
        and not with the batch size.
    meta_step_every : int >= 1, default={DEFAULT_META_STEP_EVERY}
        Take the meta step (steps 1 and 2) on every ``meta_step_every``-th
        training batch only, counted across epochs from the first batch after
        the warm-up of each ``fit`` or ``partial_fit`` call;
        the other batches take the actual step with the current ``T``. The
        meta step is most of MLC's cost: on a small MLP an epoch took 4.7,
        3.1, 2.2 and 1.9 times a hand-written training loop's with 1, 2, 4
        and 8 (see the measured defaults below). ``meta_lr`` stays the rate
        per training batch: each meta step moves ``T`` by
        ``meta_step_every * meta_lr`` times the meta-gradient, so ``T``
        moves as far per epoch as with a meta step on every batch (with
        ``meta_lr`` per meta step instead, ``T`` learned too little under
        flip-to-one noise). 1 is the paper's algorithm.
    meta_max_step : float > 0 or None, default={DEFAULT_META_MAX_STEP}
        The largest change of an entry of ``T`` in one meta step, before
        the normalisation: a step ``s`` whose largest entry exceeds it is
        scaled down to it as a whole (its direction kept). The look-ahead
        through Adam is steep where a weight's gradient history is close
        to 0, and on rare batches the meta-gradient is thousands of times
        its usual size; one such step wrecked ``T`` (a run lost 10 points).
        The usual steps of the defaults stay below 0.02, so the bound only
        acts on those. None: no bound (the paper).
    meta_batch_size : 'all', int >= 1 or None, default={DEFAULT_META_BATCH_SIZE!r}
        The trusted rows of each meta step (see the measured defaults below). 'all': every trusted row at every
        step, as in the paper (m = 500 for MNIST), fed through the network in
        chunks of ``batch_size`` rows so the memory stays that of a training
        batch (the time grows with the trusted set). An int: a random draw of
        that many trusted rows per step (all of them when there are fewer).
        None: as many as a training batch, ``batch_size`` (all of them when
        there are fewer, or when ``batch_size`` is -1).
    normalization : {{'simplex', 'row', 'column'}}, default={DEFAULT_NORMALIZATION!r}
        How ``T - meta_lr * g`` is made a transition matrix again:

        * 'simplex': the Euclidean projection of each row onto the
          probability simplex (the nearest row-stochastic matrix);
        * 'row': ``max(., 0)`` and each row divided by its sum (the paper's
          Section 3.1 defines ``T`` row-stochastic);
        * 'column': ``max(., 0)`` and each column scaled back to the sum it
          has in the initial ``T``: 1 from the identity, as the paper's
          Eq. 10 and the authors' code do. Rescaling a column of ``T``
          changes nothing MLC does (see the notes), so the column sums are
          the start's; ``transition_matrix_`` and the history hold the
          row-stochastic member ``T @ diag(c)`` of that family (the same
          training), which from a row-stochastic start is that start until
          the meta steps move it.
    look_ahead : {{'sgd', 'optimizer'}}, default={DEFAULT_LOOK_AHEAD!r}
        'sgd': the paper's virtual step ``theta - virtual_lr * grad``.
        'optimizer': the step the net's optimizer would take with that
        gradient (its learning rate, momentum, moment estimates; SGD, Adam
        and AdamW), so the look-ahead follows the real update;
        ``virtual_lr`` is then unused.
    reset_each_step : bool, default=False
        Start every step from the initial ``T`` instead of the last learned
        one, as the authors' public code does (the paper keeps ``T``).
    train_on_trusted : bool, default={DEFAULT_TRAIN_ON_TRUSTED!r}
        False (the paper): the network learns from the untrusted rows only,
        and the trusted rows only steer ``T``. True: the trusted rows of each
        mini-batch add their plain cross-entropy to the actual step, as in
        GLC's joint loss (the sum over the rows of the batch divided by its
        size), and the look-ahead differentiates that same loss.
    warm_up_epochs : int >= 0, default={DEFAULT_WARM_UP_EPOCHS}
        The first epochs of the net's history train every row with plain
        cross-entropy and leave ``T`` as it is (the authors' code pre-trains
        with cross-entropy); then the meta steps start.
    true_transition_matrix : array-like of shape (n_classes, n_classes) or None, default=None
        For monitoring only (never used to train): when given, every epoch
        records ``transition_matrix_error``, the mean row-L1 distance of the
        learned ``T`` to it, in ``history_``.
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
        cross-entropy after the virtual step),
        ``transition_matrix_frozen_rows`` (meta steps in which a row was
        kept because it could not be normalised) and, with
        ``true_transition_matrix``, ``transition_matrix_error``.
    classes_, n_features_in_, module_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    Notes
    -----
    *Trusted rows are required* (``fit(X, y, trusted=mask)``), of at least
    two classes. They form the meta set. With ``train_on_trusted=False``
    they are **not** trained on with a loss of their own in the actual step,
    as in the paper, where the network learns from the noisy set only and
    the clean set only steers ``T``: trusted rows of a mini-batch are masked
    out of the training loss, and a batch with no untrusted rows gives a zero
    loss. With ``train_on_trusted=True`` the network also fits the very rows
    that judge ``T``, so the meta objective sees them through a network that
    has learned them. Data whose rows are all trusted is refused (use
    :class:`~sknoisy.CrossEntropyClassifier`). A class without any trusted
    row gets a ``UserWarning`` naming it: the meta objective has no clean
    example of it, so its row of ``T`` keeps the initial ``T``'s row (by
    default the confident joint's, estimated from the noisy labels alone;
    the identity row with 'identity'; with 'gold' the anchor-point row of
    the gold estimator's fallback) and moves only through its effect on the
    other classes.
    With a ``train_split`` such as :class:`~sknoisy.base.TrustedValidSplit`,
    the trusted rows held out for validation are kept out of the meta set.
    The validation loss is GLC's joint loss with the current ``T``
    (:func:`~sknoisy.losses.gold_corrected_cross_entropy`): the
    cross-entropy on trusted rows, the forward-corrected loss on untrusted
    ones.

    The trusted rows are copied to the training device once per ``fit`` (so
    data larger than memory is out of scope for MLC: the trusted subset must
    fit on the device; the untrusted rows stream through skorch's loaders as
    usual). A random meta batch (``meta_batch_size`` not 'all', when there are more trusted rows than it takes) is drawn on that
    device, seeded from ``random_state``. The per-step work (meta-gradient,
    update of ``T``, count of frozen rows) stays on the device; the host
    reads ``T`` once per epoch.

    *The defaults are measured* on validation splits of the training rows
    (the MLC protocol's MNIST subset, every option side by side, the test
    split never loaded; a variant had to keep its T error at most GLC's and
    the identity's, then the most accurate won). What they are, and why:

    * a column normalisation, a look-ahead that follows the real (Adam)
      update and the trusted rows trained on gave the best accuracy and T
      error of the ways to update ``T`` (``benchmarks/results/mlc_options.md``);
    * the start matters most, and the step should be small: the
      meta-gradient did not improve a good ``T`` (from the *true* ``T`` it
      moved away and cost 0.7 points), so MLC starts from the confident
      joint (no trusted row needed) with ``meta_lr=0.01``, which keeps ``T``
      where it starts, and 2 warm-up epochs of cross-entropy
      (``benchmarks/results/mlc_start.md``). The cost of that choice: MLC
      learns little of ``T`` (``benchmarks/results/mlc_frozen.md``);
    * a meta step on every 4th batch (``meta_step_every=4``) costs less
      than half as much per epoch as one on every batch (2.2 against 4.7
      times a hand-written loop's epoch), at the same validation accuracy
      within 0.2 points in each of 6 settings (mean -0.05; the MNIST subset
      and a tabular set, symmetric, pair and flip-to-one noise at 40%, 4
      seeds); with the paper's step per meta step instead of 4 times it,
      ``T`` learned too little (-1.1 points under flip-to-one noise on
      MNIST) (``benchmarks/results/mlc_step_every.md``). The bound
      ``meta_max_step`` changed none of these runs; it came from a run of
      the MLC protocol in which one meta-gradient thousands of times the
      usual size wrecked ``T`` (82.5% against 92.6% with a meta step on
      every batch, 92.7% with the bound);
    * one batch of trusted rows per meta step gave the same accuracy and
      ``T`` as every trusted row at every step, at a third of the cost with
      2,000 trusted rows (``benchmarks/results/mlc_gold_start.md``);
      ``meta_batch_size='all'`` gives the paper's setting;
    * the paper's MLC > GLC does not reproduce
      (``benchmarks/results/mlc_protocol.md``).

    Where sknoisy follows the paper and where not:

    * The paper takes a meta step at every training step
      (``meta_step_every=1``); sknoisy's default takes one on every 4th
      batch, with 4 times the step (see above), and bounds each step
      (``meta_max_step``; None gives the paper's unbounded step).
    * Algorithm 1 of the paper initialises ``T`` *randomly*; the identity
      start (``transition_matrix='identity'``) comes from the authors'
      public code, which also resets ``T`` to the identity at every step
      (``reset_each_step=True`` here). sknoisy starts from an estimate by
      default (see above).
    * The normalisation of ``T`` is ambiguous in the paper itself: its
      Section 3.1 defines ``T`` row-stochastic, while its Eq. 10 normalises,
      for each noisy class, over the clean classes (columns in sknoisy's
      orientation), as the authors' code does. Rescaling a column of ``T``
      leaves the forward loss's weight gradient unchanged, so at ``T = I``
      the meta-gradient's diagonal is exactly 0 and renormalising rows moves
      ``T`` where the meta objective never asked; the projection onto the
      simplex does not.
    * The authors' code also multiplies logits rather than probabilities by
      ``T``, sums the losses over the batch, pre-trains the network with
      cross-entropy, and runs MLC at a learning rate of 1e-4 with a meta
      learning rate of 0.11. sknoisy applies ``T`` to probabilities with
      mean losses, as the paper writes; ``warm_up_epochs`` gives the
      cross-entropy pre-training.

    A row of ``T`` that the update cannot normalise (all zeros after
    ``max(., 0)``, or non-finite) keeps its previous value (the paper divides
    by a small constant instead and leaves a zero row); a single warning per
    ``fit`` reports how often it happened.

    ``fit`` restarts ``T`` from the initial matrix; ``partial_fit`` continues
    from the learned one.

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
    >>> clf = MetaLossCorrectionClassifier(MLP, max_epochs=3, true_transition_matrix=T, random_state=0)
    >>> clf = clf.fit(X, y, trusted=trusted)
    >>> clf.transition_matrix_.shape
    (3, 3)
    >>> bool(np.allclose(clf.transition_matrix_.sum(axis=1), 1.0))
    True
    >>> len(clf.history[:, "transition_matrix_error"])
    3
    """

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        **_transition_matrix_constraints("identity"),
        "virtual_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "meta_step_every": [Interval(numbers.Integral, 1, None, closed="left")],
        "meta_max_step": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "meta_batch_size": [StrOptions({"all"}), Interval(numbers.Integral, 1, None, closed="left"), None],
        "normalization": [StrOptions(set(NORMALIZATIONS))],
        "look_ahead": [StrOptions(set(LOOK_AHEADS))],
        "reset_each_step": ["boolean"],
        "train_on_trusted": ["boolean"],
        **_WARM_UP_CONSTRAINTS,
        "true_transition_matrix": ["array-like", None],
    }
    _parameter_hints = {
        **CrossEntropyClassifier._parameter_hints,
        **_NOT_VOLMIN_HINT,
        "meta_batch_size": "('all': every trusted row at each step; None: batch_size rows.)",
    }

    def __init__(
        self,
        module,
        *args,
        transition_matrix=DEFAULT_T,
        virtual_lr=0.01,
        meta_lr=DEFAULT_META_LR,
        meta_step_every=DEFAULT_META_STEP_EVERY,
        meta_max_step=DEFAULT_META_MAX_STEP,
        meta_batch_size=DEFAULT_META_BATCH_SIZE,
        normalization=DEFAULT_NORMALIZATION,
        look_ahead=DEFAULT_LOOK_AHEAD,
        reset_each_step=False,
        train_on_trusted=DEFAULT_TRAIN_ON_TRUSTED,
        warm_up_epochs=DEFAULT_WARM_UP_EPOCHS,
        true_transition_matrix=None,
        criterion=ForwardCorrectedCrossEntropy,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.transition_matrix = transition_matrix
        self.virtual_lr = virtual_lr
        self.meta_lr = meta_lr
        self.meta_step_every = meta_step_every
        self.meta_max_step = meta_max_step
        self.meta_batch_size = meta_batch_size
        self.normalization = normalization
        self.look_ahead = look_ahead
        self.reset_each_step = reset_each_step
        self.train_on_trusted = train_on_trusted
        self.warm_up_epochs = warm_up_epochs
        self.true_transition_matrix = true_transition_matrix

    # ----------------------------------------------------------- parameters
    def _check_trusted(self, y_enc, mask, where=None):
        self._check_trusted_rows(y_enc, mask, purpose="learn the transition matrix", where=where)

    def _check_untrusted(self, mask):
        if mask.all():
            raise ValueError(
                f"{type(self).__name__} trains the network on the untrusted rows (the trusted ones "
                "only steer the transition matrix), but every row is trusted: with clean labels "
                "only, use CrossEntropyClassifier."
            )

    def _check_inputs(self, y_enc, mask):
        self._check_trusted(y_enc, mask)
        self._check_untrusted(mask)

    def _true_transition_matrix(self):
        if self.true_transition_matrix is None:
            return None
        return check_transition_matrix(
            _as_numpy(self.true_transition_matrix), len(self.classes_), name="true_transition_matrix"
        )

    # --------------------------------------------------------- T resolution
    def _starts_from_identity(self):
        spec = self.transition_matrix
        return spec is None or (isinstance(spec, str) and spec == "identity")

    def _resolve_transition_matrix(self, X, y_enc, mask):
        if self._starts_from_identity():
            self.transition_matrix_estimator_ = None
            return np.eye(len(self.classes_))
        return super()._resolve_transition_matrix(X, y_enc, mask)

    def _criterion_transition_matrix(self):
        T = getattr(self, "transition_matrix_", None)
        if T is None and hasattr(self, "classes_inferred_") and self._starts_from_identity():
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

    def _prepare_training(self, X, y_enc, mask):
        self._check_inputs(y_enc, mask)
        self._true_transition_matrix()
        # A learned T starts from here: every fit resolves it again and the
        # mixin hands it to a criterion kept by warm_start.
        super()._prepare_training(X, y_enc, mask)
        self.initial_transition_matrix_ = self.transition_matrix_.copy()

    def _learned_transition_matrix(self):
        """The criterion's current T as float64 numpy, row-stochastic as sknoisy reports every T."""
        T = self.criterion_.T.detach().to(torch.float64).cpu().numpy()
        return _row_stochastic(T) if self.normalization == "column" else T

    # ----------------------------------------------------- training state
    def _train(self, X, y_enc, mask, routing_method, **fit_params):
        self._check_inputs(y_enc, mask)
        # Lives while training only: the trusted rows on the device and the
        # per-epoch counters. Plain tensors and numbers, so a net pickled by
        # a callback mid-training pickles as any other.
        self._meta_state = {"true_T": self._true_transition_matrix()}
        try:
            super()._train(X, y_enc, mask, routing_method, **fit_params)
        finally:
            self.transition_matrix_ = self._check_transition_matrix(self._learned_transition_matrix())
            self._meta_state = None

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        state = getattr(self, "_meta_state", None)
        inputs, table = inputs_and_table(X, y)
        if state is not None and table is not None:
            self._start_meta_training(inputs, table, dataset_train)
        return dataset_train, dataset_valid

    def _start_meta_training(self, X, table, dataset_train):
        """Put the trusted training rows and the initial T on the device."""
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
        labels, trusted = split_target_table(table)
        meta_mask = train_mask & trusted
        where = "the training part of the train_split" if not train_mask.all() else None
        self._check_trusted(labels, meta_mask, where=where)
        self._warn_classes_without_trusted_rows(labels[meta_mask], where)
        first = next(iter(self.module_.parameters()), None)
        device = first.device if first is not None else torch.device(self.device or "cpu")
        dtype = first.dtype if first is not None else torch.float32
        state = self._meta_state
        rows = take_rows(X, meta_mask)
        if not isinstance(rows, np.ndarray):
            # a view of data larger than memory: only the (small) trusted set
            # is read into memory, item by item
            rows = np.stack([np.asarray(rows[i]) for i in range(len(rows))])
        state["X"] = torch.as_tensor(rows, device=device)
        state["y"] = torch.as_tensor(labels[meta_mask], dtype=torch.int64, device=device)
        state["device"] = device
        # seeded from the forked torch RNG of fit, so random_state decides
        # the meta batches; each draw seeds a fresh generator from it.
        state["seed"] = int(torch.randint(0, 2**62, (1,)).item())
        state["draws"] = 0
        state["initial_T"] = torch.as_tensor(self.initial_transition_matrix_, dtype=dtype, device=device)
        # The forward loss's weight gradient, hence everything MLC does, is
        # unchanged when a column of T is rescaled, so the meta objective
        # cannot tell column scales apart: 'column' keeps those of the
        # initial T. With a row-stochastic start whose columns do not sum to
        # 1 (flip-to-one noise), rescaling them to 1 as the paper does moved
        # T's row-normalised report away from the start before any learning
        # (benchmarks/results/mlc_start.md).
        state["column_sums"] = state["initial_T"].sum(dim=0, keepdim=True)
        state["frozen_rows"] = torch.zeros((), dtype=torch.int64, device=device)
        state["meta_loss"] = torch.zeros((), dtype=dtype, device=device)
        state["steps"] = 0
        # training batches after the warm-up, across epochs: every
        # meta_step_every-th one (from the first) takes a meta step
        state["batches"] = 0
        state["warned"] = False

    def _warn_classes_without_trusted_rows(self, meta_labels, where):
        missing = np.setdiff1d(np.arange(len(self.classes_)), meta_labels)
        if missing.size:
            warnings.warn(
                f"{type(self).__name__}: class(es) {self.classes_[missing].tolist()} have no trusted row"
                + (f" in {where}" if where else "")
                + "; the meta objective has no clean example of them, so their rows of the transition "
                "matrix keep the initial T's rows (by default the confident joint's estimate, which needs "
                "no trusted row) and move only through their effect on the other classes.",
                UserWarning,
                stacklevel=5,
            )

    def _meta_batch(self, state):
        """The trusted rows of this meta step: all of them, or a random draw (see ``meta_batch_size``)."""
        n_trusted = state["y"].shape[0]
        size = self.meta_batch_size
        if size is None:
            size = n_trusted if self.batch_size in (None, -1) else int(self.batch_size)
        size = n_trusted if size == "all" else min(int(size), n_trusted)
        if size == n_trusted:
            return state["X"], state["y"]
        generator = torch.Generator(device=state["device"])
        generator.manual_seed(state["seed"] + state["draws"])
        state["draws"] += 1
        idx = torch.randperm(n_trusted, generator=generator, device=state["device"])[:size]
        return state["X"][idx], state["y"][idx]

    def _look_ahead_step(self):
        if self.look_ahead == "optimizer":
            optimizer = self.optimizer_
            # a wrapper (accelerate's AcceleratedOptimizer) holds the real one
            while not isinstance(optimizer, (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)) and hasattr(optimizer, "optimizer"):
                optimizer = optimizer.optimizer
            return _optimizer_look_ahead(optimizer)
        return _sgd_look_ahead(float(self.virtual_lr))

    def _meta_step(self, state, logits, labels, weights, clean):
        """Steps 1 and 2: learn T from this mini-batch; returns the new T (on the device)."""
        buffer = self.criterion_.T
        start = state["initial_T"] if self.reset_each_step else buffer.to(logits.dtype)
        X_meta, y_meta = self._meta_batch(state)
        chunk = None if self.batch_size in (None, -1) else int(self.batch_size)
        grad, meta_loss = _meta_gradient(
            self.module_, logits, labels, weights, start, X_meta, y_meta, self._look_ahead_step(),
            self.criterion_.eps, chunk_size=chunk, clean=clean,
        )
        # meta_lr is per training batch (see meta_step_every)
        meta_lr = float(self.meta_lr) * int(self.meta_step_every)
        T, frozen = _update_transition_matrix(
            start.detach(), grad, meta_lr, self.normalization, state["column_sums"], max_step=self.meta_max_step
        )
        with torch.no_grad():
            buffer.copy_(T)
        state["frozen_rows"] += frozen
        state["meta_loss"] += meta_loss
        state["steps"] += 1
        return T

    # --------------------------------------------------------------- skorch
    def get_loss(self, y_pred, y_true, X=None, training=False):
        labels, trusted = split_target_table(torch.as_tensor(y_true, device=y_pred.device))
        if not training:
            # GLC's joint loss with the current T (labels alone count as untrusted)
            return gold_corrected_cross_entropy(y_pred, labels, trusted, self.criterion_.T, eps=self.criterion_.eps)
        state = getattr(self, "_meta_state", None)
        if not state or "X" not in state:
            raise RuntimeError(
                f"{type(self).__name__} trains through fit or partial_fit, which set up the trusted "
                "meta set; skorch's fit_loop cannot be called on its own."
            )
        if self._warming_up(training):
            # plain cross-entropy on every row; T stays as it is until the
            # network's probabilities mean something
            return F.cross_entropy(y_pred, labels)
        weights = (~trusted).to(y_pred.dtype)
        clean = trusted.to(y_pred.dtype) if self.train_on_trusted else None
        takes_meta_step = state["batches"] % int(self.meta_step_every) == 0
        state["batches"] += 1
        T = self._meta_step(state, y_pred, labels, weights, clean) if takes_meta_step else self.criterion_.T
        return _noisy_loss(y_pred, labels, weights, T, self.criterion_.eps, clean)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        state = getattr(self, "_meta_state", None)
        if state:
            state["epoch_start_T"] = self._learned_transition_matrix()
            state["frozen_rows"].zero_()
            state["meta_loss"].zero_()
            state["steps"] = 0

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        state = getattr(self, "_meta_state", None)
        if not state or "epoch_start_T" not in state:
            return
        # The one host read of the epoch.
        T = self._learned_transition_matrix()
        frozen = int(state["frozen_rows"].item())
        steps = state["steps"]
        meta_loss = float(state["meta_loss"].item()) / steps if steps else float("nan")
        self.history.record("transition_matrix", T.tolist())
        self.history.record("transition_matrix_change", transition_matrix_error(T, state["epoch_start_T"]))
        if state["true_T"] is not None:
            self.history.record("transition_matrix_error", transition_matrix_error(T, state["true_T"]))
        self.history.record("meta_loss", meta_loss)
        self.history.record("transition_matrix_frozen_rows", frozen)
        if frozen and not state["warned"]:
            state["warned"] = True
            warnings.warn(
                f"{type(self).__name__}: in {frozen} meta step(s) of epoch {len(self.history)} a row of "
                "the transition matrix could not be normalised after the step T - meta_lr * grad (all "
                "zeros, or not finite) and kept its previous value. meta_lr (or virtual_lr) is probably "
                "too large. This warning is given once per fit; the history's "
                "'transition_matrix_frozen_rows' counts every epoch.",
                UserWarning,
                stacklevel=2,
            )


def _as_numpy(matrix):
    if isinstance(matrix, torch.Tensor):
        return matrix.detach().cpu().to(torch.float64).numpy()
    return matrix
