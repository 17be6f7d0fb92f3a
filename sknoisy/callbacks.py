"""skorch callbacks every sknoisy net uses.

* :class:`FiniteLossGuard` stops training with a clear error on a NaN or
  infinite loss (every net has it as ``callbacks__finite_loss``);
* :class:`DivergenceGuard` stops training with a clear error when the
  network's outputs blow up while the loss stays finite
  (``callbacks__divergence``);
* :class:`InterruptGuard` says what state a net is in after Ctrl-C, or turns
  skorch's "stop this net quietly" into an interrupt of the whole fit
  (``callbacks__interrupt``);
* the ``valid_acc`` scoring reads the label column of the target table;
* stage-1 nets keep the epoch of best held-out loss, when they have a
  held-out set;
* :class:`EarlyStopping` is skorch's, but ``load_best=True`` restores the
  best epoch's criterion (a learned T) and every other registered network
  with ``module_``, where skorch's restores ``module_`` only.

None of them adds a device synchronisation per batch: skorch already copies
each batch loss to the host, and :class:`DivergenceGuard` reads the outputs
once per epoch.
"""

import math
import numbers
import warnings

import numpy as np
import torch
from copy import deepcopy

from skorch.callbacks import Callback
from skorch.callbacks import EarlyStopping as _SkorchEarlyStopping
from skorch.utils import to_numpy

from ._targets import target_labels

__all__ = ["FiniteLossGuard", "DivergenceGuard", "InterruptGuard", "EarlyStopping"]



def _remedies(net):
    lr = getattr(net, "lr", None)
    lr = f"{lr:g}" if isinstance(lr, numbers.Real) else repr(lr)
    return (
        f"Lower the learning rate (lr={lr}), standardize the inputs (e.g. sklearn.preprocessing.StandardScaler "
        "in a Pipeline), check them for extreme values"
    )


class FiniteLossGuard(Callback):
    """Stop training with a clear error as soon as a batch loss is not finite.

    skorch already copies each batch loss to the host for its history, so the
    check costs no extra device synchronisation. Every sknoisy net has it
    under the name ``finite_loss``; ``callbacks__finite_loss=None`` removes it.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> X = np.random.RandomState(0).randn(40, 3) * 1e30   # the logits overflow
    >>> clf = CrossEntropyClassifier(MLP, lr=1e10, batch_size=10, max_epochs=2, random_state=0)
    >>> clf.fit(X, np.arange(40) % 2)
    Traceback (most recent call last):
    ...
    FloatingPointError: CrossEntropyClassifier: the training loss became ... training stopped. ...
    """

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        # plain dict reads: History's tuple indexing costs a few times more per batch
        loss = net.history[-1]["batches"][-1]["train_loss"]
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"{type(net).__name__}: the training loss became {loss} in epoch "
                f"{len(net.history)}; training stopped. "
                + _remedies(net)
                + ", or (backward correction) use a better-conditioned transition matrix or forward correction."
            )


class DivergenceGuard(Callback):
    """Stop training with a clear error when the network's outputs (logits) blow up.

    A network that diverges does not always reach NaN: with a far too large
    learning rate or inputs of absurd magnitude its logits grow to 1e15 or
    more, the cross-entropy follows them (1e18 and still finite), bounded
    losses (robust losses, forward correction) freeze at a constant, and the
    model that comes back predicts at chance or a single class. The loss
    itself is a poor signal across criteria (backward-corrected losses are
    legitimately negative, bounded ones never grow), but every criterion is
    computed from the logits: a network trained normally keeps them within a
    few hundred, a diverged one is many orders of magnitude above. So the
    guard compares the largest absolute logit of each epoch's last training
    batch with ``max_logit``; a batch only keeps a reference to its outputs,
    and the one device read happens at the end of the epoch.

    Every sknoisy net has it under the name ``divergence``;
    ``callbacks__divergence__max_logit`` changes the limit and
    ``callbacks__divergence=None`` removes it.

    Parameters
    ----------
    max_logit : float, default=1e6
        The largest absolute output accepted. Networks trained normally stay
        below about 1e3; diverged ones measured 1e15 to 1e20.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> X = np.random.RandomState(0).randn(40, 3)
    >>> clf = CrossEntropyClassifier(MLP, lr=1e8, max_epochs=3, random_state=0)
    >>> clf.fit(X, np.arange(40) % 2)
    Traceback (most recent call last):
    ...
    FloatingPointError: CrossEntropyClassifier: training diverged: the network's outputs (logits) reached ...
    """

    def __init__(self, max_logit=1e6):
        self.max_logit = max_logit

    def initialize(self):
        limit = self.max_logit
        if isinstance(limit, bool) or not isinstance(limit, numbers.Real) or not (limit > 0 and math.isfinite(limit)):
            raise ValueError(f"DivergenceGuard: max_logit must be a positive finite number, got {limit!r}.")
        self._outputs = None
        return self

    def on_train_begin(self, net, **kwargs):
        self._outputs = None

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if training and isinstance(y_pred, torch.Tensor):
            self._outputs = y_pred

    def on_epoch_end(self, net, **kwargs):
        outputs, self._outputs = self._outputs, None
        if outputs is None or outputs.numel() == 0:
            return
        peak = float(outputs.detach().abs().max())  # the one device read of the epoch
        if math.isfinite(peak) and peak <= self.max_logit:
            return
        loss = net.history[-1].get("train_loss", float("nan"))
        raise FloatingPointError(
            f"{type(net).__name__}: training diverged: the network's outputs (logits) reached {peak:.3g} "
            f"in epoch {len(net.history)} (networks training normally stay within a few hundred; the limit "
            f"is callbacks__divergence__max_logit={self.max_logit:g}), so its predictions are meaningless "
            f"although the loss ({loss:.3g}) is finite; training stopped. "
            + _remedies(net)
            + ", or use a smaller module initialisation. callbacks__divergence=None removes this check."
        )


class InterruptGuard(Callback):
    """Say what state a net is in after Ctrl-C, or stop the whole fit.

    skorch catches a ``KeyboardInterrupt`` raised while it trains, ends the
    training loop and returns the net as it is (so that Ctrl-C keeps a
    usable model). That is also how skorch's callbacks stop training on
    purpose (``EarlyStopping`` raises ``KeyboardInterrupt`` at the end of
    an epoch). This callback tells the two apart: training that ends while
    an epoch is still running (in a batch, or before this callback's own
    ``on_epoch_end``) was interrupted; a stop requested by a callback after
    it at the end of an epoch was not.

    Every sknoisy net has it under the name ``interrupt``. An interrupted
    net warns (``reraise=False``: skorch's behaviour, the net keeps the
    weights it had) or raises ``KeyboardInterrupt`` (``reraise=True``). The
    stage-1 nets of two-stage recipes are built with ``reraise=True``, so
    one Ctrl-C ends the whole fit instead of one fold; set
    ``callbacks__interrupt__reraise=True`` for the same inside a grid search.

    Parameters
    ----------
    reraise : bool, default=False
        Raise ``KeyboardInterrupt`` after an interrupted training instead of
        warning.
    """

    def __init__(self, reraise=False):
        self.reraise = reraise

    def on_train_begin(self, net, **kwargs):
        self._running = True
        self._first_epoch = len(net.history) + 1

    def on_epoch_begin(self, net, **kwargs):
        self._running = True

    def on_epoch_end(self, net, **kwargs):
        self._running = False

    def on_train_end(self, net, **kwargs):
        if not getattr(self, "_running", False):
            return
        self._running = False
        epoch = len(net.history) - self._first_epoch + 1
        where = f"in epoch {epoch} of {net.max_epochs}" if epoch >= 1 else "before its first epoch"
        message = f"{type(net).__name__}: training was interrupted (KeyboardInterrupt) {where}"
        if self.reraise:
            raise KeyboardInterrupt(message + ".")
        warnings.warn(
            message + "; the network keeps the weights it had at that moment: it is usable but not trained to "
            "the end (skorch's behaviour). callbacks__interrupt__reraise=True makes Ctrl-C stop the whole fit "
            "instead (e.g. inside a grid search).",
            UserWarning,
            stacklevel=2,
        )


def _table_accuracy(net, X, y_table):
    """Accuracy on the label column of a target table (skorch's valid_acc)."""
    y_true = target_labels(np.asarray(to_numpy(y_table)))
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == y_true))


class _BestValidLoss(_SkorchEarlyStopping):
    """skorch's EarlyStopping that stands aside when there is no validation set."""

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            super().on_epoch_end(net, **kwargs)


class EarlyStopping(_SkorchEarlyStopping):
    """skorch's ``EarlyStopping``; with ``load_best=True`` every learned tensor goes back to the best epoch.

    skorch's callback restores ``module_`` only, so a net whose criterion
    learns (``ForwardCorrectedClassifier``'s default ``'volmin'`` T, MLC's
    T) would end with the best epoch's network and the last epoch's T. This
    one keeps, at each improvement, the state dicts of every network and
    criterion the net registered (skorch's ``_modules`` and ``_criteria``)
    and restores them all; the net's ``transition_matrix_`` then reports the
    restored T. It takes skorch's parameters unchanged. skorch's
    ``Checkpoint(load_best=True)`` restores the criterion too (its
    ``f_criterion`` is set by default); keep it set.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import ForwardCorrectedClassifier
    >>> from sknoisy.callbacks import EarlyStopping
    >>> from sknoisy.modules import MLP
    >>> X = np.random.RandomState(0).randn(80, 3).astype("float32")
    >>> stop = EarlyStopping(monitor="train_loss", patience=2, load_best=True)
    >>> clf = ForwardCorrectedClassifier(MLP, max_epochs=4, callbacks=[("stop", stop)], random_state=0)
    >>> clf = clf.fit(X, np.arange(80) % 2)
    >>> sorted(dict(clf.callbacks_)["stop"].best_state_)
    ['criterion_', 'module_']
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_state_ = None

    def on_epoch_end(self, net, **kwargs):
        before = getattr(self, "best_epoch_", None)
        super().on_epoch_end(net, **kwargs)
        if self.load_best and self.best_epoch_ != before:
            names = list(net._modules) + list(net._criteria)
            self.best_state_ = {name + "_": deepcopy(getattr(net, name + "_").state_dict()) for name in names}

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        state = getattr(self, "best_state_", None)
        if self.load_best and state and self.best_epoch_ != net.history[-1, "epoch"]:
            for name, values in state.items():
                getattr(net, name).load_state_dict(values)

    def __getstate__(self):
        state = super().__getstate__()
        state["best_state_"] = None
        return state
