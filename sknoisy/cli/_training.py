"""What ``fit`` and ``issues`` share: input scaling, the network, and progress lines.

Inputs are standardised before any network sees them: each feature column
of tabular data, and all the pixels of images together (one mean and one
scale, so that the picture keeps its contrast). ``fit`` saves the scaling in
the model folder and ``predict`` applies the same to new rows.
"""

import sys
import time

import numpy as np
from skorch.callbacks import Callback

__all__ = ["fit_scaler", "apply_scaler", "check_scaler", "network", "network_summary", "FitProgress", "method_name"]


# --------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------
def fit_scaler(X):
    """Plain-JSON mean and scale of the training inputs (per column for tabular data)."""
    X64 = np.asarray(X, dtype=np.float64)
    if X64.ndim == 2:
        mean, scale = X64.mean(axis=0), X64.std(axis=0)
        scale[scale == 0] = 1.0  # a constant column stays constant (zero)
        return {"mean": mean.tolist(), "scale": scale.tolist()}
    scale = float(X64.std())
    return {"mean": float(X64.mean()), "scale": scale if scale > 0 else 1.0}


def apply_scaler(X, scaler):
    mean = np.asarray(scaler["mean"], dtype=np.float64)
    scale = np.asarray(scaler["scale"], dtype=np.float64)
    return ((np.asarray(X, dtype=np.float64) - mean) / scale).astype(np.float32)


def check_scaler(scaler, input_shape):
    """Whether ``scaler`` (read from a model folder) fits inputs of ``input_shape``."""
    if not isinstance(scaler, dict) or set(scaler) != {"mean", "scale"}:
        return False
    try:
        mean = np.asarray(scaler["mean"], dtype=np.float64)
        scale = np.asarray(scaler["scale"], dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = (input_shape[0],) if len(input_shape) == 1 else ()
    return (
        mean.shape == expected
        and scale.shape == expected
        and bool(np.all(np.isfinite(mean)))
        and bool(np.all(np.isfinite(scale)) and np.all(scale > 0))
    )


# --------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------
def network(args, X):
    """``(module, net_params)``: an MLP for rows of features, the small CNN for images."""
    from ..modules import MLP, SmallCNN

    if X.ndim == 2:
        module, params = MLP, {"module__hidden_units": (args.hidden,)}
    else:
        shape = X.shape[1:] if X.ndim == 4 else (1, *X.shape[1:])
        module, params = SmallCNN, {"module__image_shape": tuple(int(s) for s in shape)}
    params.update(max_epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, device=args.device)
    return module, params


def network_summary(module, params):
    if "module__hidden_units" in params:
        what = f"MLP ({params['module__hidden_units'][0]} hidden units)"
    else:
        what = f"small CNN on {'x'.join(map(str, params['module__image_shape']))} images"
    return f"{what}, {params['max_epochs']} epochs, lr {params['lr']:g}, batch {params['batch_size']}, " \
           f"device {params['device']}"


def method_name(net):
    """The name of the method of :data:`~sknoisy.CLASSIFIER_METHODS` that ``net`` is."""
    from .._classifier_registry import CLASSIFIER_METHODS

    for entry in CLASSIFIER_METHODS.values():
        if type(net) is entry.estimator and all(getattr(net, k, None) == v for k, v in entry.params.items()):
            return entry.name
    return type(net).__name__


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------
class FitProgress(Callback):
    """Progress on stderr: the epochs of the network training now, and a line when it finishes.

    The count is shared by every copy of the callback (the methods and
    folds clone their networks): :meth:`start` sets the number of fits to
    expect, and the plan of methods (each fitted ``per_method`` times, then
    the refit), before a command trains. On a terminal the epoch line is
    rewritten in place; in a log it is written at most every
    ``LOG_EVERY`` seconds, so a long fit shows it is alive without
    flooding a short one.
    """

    #: Seconds between two epoch lines when stderr is not a terminal.
    LOG_EVERY = 30.0

    _state = {"done": 0, "total": None, "plan": (), "per_method": 1, "last_log": 0.0}

    @classmethod
    def start(cls, total, plan=(), per_method=1):
        cls._state.update(done=0, total=total, plan=tuple(plan), per_method=max(1, int(per_method)),
                          last_log=time.perf_counter())

    def on_train_begin(self, net, **kwargs):
        self.started_ = time.perf_counter()

    def _count(self, done):
        total = type(self)._state["total"]
        return f"{done}/{total}" if total else str(done)

    def _left(self):
        """What follows the fit in progress: the methods not started yet, then the refit."""
        state = type(self)._state
        plan = state["plan"]
        if not plan:
            return ""
        started = state["done"] // state["per_method"] + 1
        if started > len(plan):
            return ""
        later = list(plan[started:])
        return "; then " + ", ".join([*later, "the refit"]) if later else "; then the refit"

    def on_epoch_end(self, net, **kwargs):
        state = type(self)._state
        epoch = len(net.history)
        elapsed = time.perf_counter() - getattr(self, "started_", time.perf_counter())
        line = (
            f"  [{self._count(state['done'] + 1)}] {method_name(net)}: epoch {epoch}/{net.max_epochs}, "
            f"{elapsed / max(epoch, 1):.1f} s/epoch{self._left()}"
        )
        stream = sys.stderr
        if stream.isatty():
            stream.write("\r" + line[: _terminal_width() - 1].ljust(_terminal_width() - 1))
            stream.flush()
        elif time.perf_counter() - state["last_log"] >= self.LOG_EVERY:
            state["last_log"] = time.perf_counter()
            print(line, file=stream)

    def on_train_end(self, net, **kwargs):
        state = type(self)._state
        state["done"] += 1
        history = net.history
        loss = history[-1].get("train_loss") if len(history) else None
        shown = "" if loss is None else f", train loss {loss:.3f}"
        seconds = time.perf_counter() - getattr(self, "started_", time.perf_counter())
        clear = "\r" if sys.stderr.isatty() else ""
        line = f"  [{self._count(state['done'])}] {method_name(net)}: {len(history)} epochs{shown}, {seconds:.1f} s"
        print(clear + line.ljust(_terminal_width() - 1 if clear else 0), file=sys.stderr)


def _terminal_width():
    import shutil

    return max(40, shutil.get_terminal_size((100, 20)).columns)
