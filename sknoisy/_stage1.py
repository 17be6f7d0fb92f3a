"""Stage 1 of the two-stage recipes: the plain network, and a ``transition_matrix`` spec resolved into T.

Every method that needs ``T`` before it trains (forward and backward
correction with an estimated T, GLC, MLC's start, :class:`~sknoisy.AutoNoisyClassifier`'s
shared T, the CLI's ``issues`` command) goes through this module:

* :func:`stage1_net`: a fresh plain cross-entropy network with a
  classifier's settings (Patrini's recipe trains its T estimate on it);
* :func:`resolve_transition_matrix`: a ``transition_matrix`` parameter (an
  array, None, a method name of :class:`~sknoisy.TransitionMatrixEstimator`
  or an estimator) resolved into ``(T, fitted estimator or None)``.

Layering: above :mod:`sknoisy.base` and :mod:`sknoisy.transition`, below the
classifier families that use it.
"""

import inspect

import numpy as np
from sklearn.base import clone
from skorch import NeuralNet, NeuralNetClassifier

from .base import _BASE_CALLBACK_NAMES, CrossEntropyClassifier
from .callbacks import _BestValidLoss
from .model_selection._split import NoisyHoldout
from .transition import TransitionMatrixEstimator
from .utils._validation import check_transition_matrix

__all__ = ["PLAIN_NET_PARAMS", "stage1_net", "resolve_transition_matrix"]

#: Constructor parameters of a plain net (CrossEntropyClassifier's and skorch's):
#: the one list stage-1 nets take their parameters from.
PLAIN_NET_PARAMS = frozenset(
    name
    for cls in (CrossEntropyClassifier, NeuralNetClassifier, NeuralNet)
    for name in inspect.signature(cls.__init__).parameters
    if name not in ("self", "args", "kwargs")
)

#: Fraction of the rows a stage-1 net holds out to keep its epoch of best noisy loss.
STAGE1_HOLDOUT = 0.2
#: Epochs without a better held-out noisy loss before a stage-1 net stops.
STAGE1_PATIENCE = 5


def stage1_net(net, *, random_state=None, early_stopping=True):
    """A fresh, unfitted plain cross-entropy net with the settings of ``net``.

    Stage 1 of the two-stage recipes (Patrini, GLC) and of the out-of-fold
    probabilities T estimates are made from. It takes the parameters of
    ``net`` that a plain :class:`~sknoisy.CrossEntropyClassifier` takes
    (``module__*``, ``lr``, ``device``...; a method's own settings, its
    ``criterion`` and ``classes`` are left out, and so are the parameters
    of a mixin such as skorch's ``AccelerateMixin``). It takes none of the
    user's ``callbacks`` (they belong to the network ``fit`` returns, not
    to every fold and stage) but keeps the settings of the base callbacks,
    and re-raises Ctrl-C (``callbacks__interrupt__reraise=True``) so that
    the whole fit stops.

    A net trained to zero loss on noisy labels gives near one-hot
    probabilities and T estimates collapse towards the identity, so by
    default a stage-1 net keeps the epoch with the best held-out *noisy*
    loss (Patrini et al. took that checkpoint): a stratified 20% holdout
    and early stopping that restores that epoch.

    Parameters
    ----------
    net : sknoisy classifier
        Whose settings to copy (any :class:`~sknoisy.CrossEntropyClassifier`
        subclass; fitted or not).
    random_state : int or None, default=None
        The stage-1 net's seed (and its holdout's).
    early_stopping : bool, default=True
        Whether to hold out 20% of the rows and keep the best epoch.

    Returns
    -------
    stage1 : CrossEntropyClassifier

    Examples
    --------
    >>> from sknoisy import ForwardCorrectedClassifier
    >>> from sknoisy._stage1 import stage1_net
    >>> from sknoisy.modules import MLP
    >>> net = ForwardCorrectedClassifier(MLP, transition_matrix="anchor", lr=0.05, module__hidden_units=(8,))
    >>> plain = stage1_net(net, random_state=0)
    >>> type(plain).__name__, plain.lr, plain.get_params()["module__hidden_units"]
    ('CrossEntropyClassifier', 0.05, (8,))
    """
    accepted = PLAIN_NET_PARAMS - {"criterion", "classes"}
    params = {key: value for key, value in net.get_params(deep=False).items() if key.partition("__")[0] in accepted}
    params["random_state"] = random_state
    params.pop("callbacks", None)
    for key in [key for key in params if key.startswith("callbacks__")]:
        if key.split("__")[1] not in _BASE_CALLBACK_NAMES:
            del params[key]
    params["callbacks__interrupt__reraise"] = True
    # skorch's AccelerateMixin sets the sink to 'auto' and resolves it to its
    # accelerator's print; the stage-1 net is a plain one
    if isinstance(params.get("callbacks__print_log__sink"), str):
        del params["callbacks__print_log__sink"]
    if early_stopping:
        params["train_split"] = NoisyHoldout(STAGE1_HOLDOUT, random_state=random_state)
        params["callbacks"] = [
            (
                "stage1_early_stopping",
                _BestValidLoss(monitor="valid_loss", patience=STAGE1_PATIENCE, load_best=True),
            ),
        ]
    module = params.pop("module")
    return clone(CrossEntropyClassifier(module, **params), safe=False)


def resolve_transition_matrix(
    spec, X, y, trusted, *, net, default_method, n_classes, random_state=None, n_jobs=None
):
    """``(T, estimator)`` of a ``transition_matrix`` parameter: given, or estimated on ``X, y``.

    Parameters
    ----------
    spec : array-like of shape (n_classes, n_classes), str, estimator or None
        An array is ``T`` as given (validated; ``estimator`` is None). None
        means ``default_method``; a string names a method of
        :class:`~sknoisy.TransitionMatrixEstimator`; an (unfitted) estimator
        is cloned. An estimator whose own ``estimator`` is None gets
        :func:`stage1_net` of ``net`` (Patrini's recipe), one whose
        ``random_state`` is None gets ``random_state``, and one with a
        ``refit`` parameter is fitted with ``refit=False`` (only
        ``transition_matrix_`` is read).
    X, y : arrays
        The training data and labels the estimator is fitted on.
    trusted : ndarray of bool of shape (n_samples,)
        The trusted rows (passed on only when there are some).
    net : sknoisy classifier
        Whose settings stage 1 takes.
    default_method : str
        The method None stands for.
    n_classes : int
        The size ``T`` must have.
    random_state : int or None, default=None
    n_jobs : int or None, default=None
        For an estimator built from a method name.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes), float64
    estimator : fitted estimator or None

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy._stage1 import resolve_transition_matrix
    >>> from sknoisy.modules import MLP
    >>> T, estimator = resolve_transition_matrix(
    ...     np.eye(2), None, None, None, net=CrossEntropyClassifier(MLP), default_method="gold", n_classes=2)
    >>> T.tolist(), estimator
    ([[1.0, 0.0], [0.0, 1.0]], None)
    """
    if spec is None:
        spec = default_method
    if isinstance(spec, str):
        estimator = TransitionMatrixEstimator(method=spec, n_jobs=n_jobs)
    elif isinstance(spec, type):
        raise TypeError(
            f"transition_matrix must be an estimator instance, a method name or an array, got the class "
            f"{spec.__name__}; pass {spec.__name__}(...) instead."
        )
    elif hasattr(spec, "fit") and hasattr(spec, "get_params"):
        estimator = clone(spec)
    else:
        return check_transition_matrix(spec, n_classes), None
    params = estimator.get_params()
    if "estimator" in params and params["estimator"] is None:
        estimator.set_params(estimator=stage1_net(net, random_state=random_state))
    if "random_state" in params and params["random_state"] is None:
        estimator.set_params(random_state=random_state)
    if "refit" in params:
        estimator.set_params(refit=False)
    estimator.fit(X, y, trusted=trusted if trusted is not None and np.any(trusted) else None)
    T = check_transition_matrix(np.asarray(estimator.transition_matrix_, dtype=np.float64), n_classes)
    return T, estimator
