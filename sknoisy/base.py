"""The no-correction baseline, and the base of every sknoisy classifier.

:class:`CrossEntropyClassifier` adds to skorch's ``NeuralNetClassifier`` what
scikit-learn users expect and what learning with noisy labels needs:

* input validation (``validate_data``: float32, finite, ``n_features_in_``,
  feature names) and label encoding (``classes_`` keeps the user's labels,
  ``predict`` returns them);
* ``n_features`` and ``n_classes`` injected into a module class that takes
  them, without ``set_params`` inside ``fit``;
* ``random_state``: the same seed gives the same model on CPU, and the global
  torch RNG is left as it was;
* the ``trusted`` mask, requested through metadata routing and carried with
  every mini-batch inside the *target table* (see :mod:`sknoisy._targets`);
* nested parameters (``transition_matrix__method``) set on the nested
  estimator, as scikit-learn's grid searches expect;
* ``predict_proba`` returns softmax probabilities of the clean class, whatever
  the criterion;
* ``sample_weight``, a weight column of the target table applied by
  :func:`weighted_criterion_loss`;
* every constructor parameter, skorch's included, declared in
  ``_parameter_constraints`` (a subclass extends its parent's) and checked at
  the top of ``fit`` and ``partial_fit``: a bad value raises scikit-learn's
  ``InvalidParameterError`` (see :mod:`sknoisy.utils._param_validation`);
* clear errors for a module of the wrong output width and training that
  diverges (see :mod:`sknoisy.callbacks`), and a whole-fit stop on Ctrl-C in
  a stage-1 net;
* ``label_issues(X, y)``, how likely each given label is wrong under the
  fitted model and its noise model (from
  :class:`~sknoisy.label_issues.LabelIssuesMixin`).

Subclasses change the loss through skorch's hooks (``initialize_criterion``,
``get_loss``, ``train_step_single``) and run extra stages before training
through :meth:`CrossEntropyClassifier._prepare_training`; two-stage recipes
build their plain stage-1 net and resolve their ``transition_matrix`` in
:mod:`sknoisy._stage1`. A subclass that overrides one
of those hooks weights rows by ``sample_weight`` once it declares
``_supports_sample_weight = True`` (its loss reduces the batch through
:meth:`CrossEntropyClassifier._criterion_loss` or
:func:`weighted_criterion_loss`); until then ``fit`` refuses non-uniform
weights rather than ignore them.

The pieces it is built from live in their own modules: the data plumbing in
:mod:`sknoisy._data`, the callbacks in :mod:`sknoisy.callbacks`, the skorch
validation splits in :mod:`sknoisy.model_selection`.
"""

import inspect
import warnings
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Options
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import to_numpy, to_tensor
from torch.utils.data import DataLoader

from ._data import (
    as_prediction_data,
    as_training_data,
    inputs_and_table,
    sample_shape,
    stack_collate,
    tensor_batches,
)
from ._targets import target_labels, target_weights
from .callbacks import DivergenceGuard, FiniteLossGuard, InterruptGuard, _table_accuracy
from .label_issues import LabelIssuesMixin
from .model_selection._split import TrustedValidSplit
from .transition import check_informative
from .utils._param_validation import Interval, StrOptions, validate_params
from .utils._fitting import estimator_name, outermost_fit
from .utils._random import seed_from, torch_seeded
from .utils._validation import (
    check_column_names,
    check_device,
    check_label_values,
    check_sample_weight,
    check_transition_matrix,
    check_trusted_mask,
    is_lazy_dataset,
)

# FiniteLossGuard and TrustedValidSplit are re-exported: they were first
# published here.
__all__ = ["CrossEntropyClassifier", "FiniteLossGuard", "TrustedValidSplit", "weighted_criterion_loss"]

#: skorch's own components: ``module__*``, ``criterion__*`` and
#: ``optimizer__*`` configure them (skorch adds them to ``prefixes_`` only
#: once the net is initialised), never a nested scikit-learn estimator.
_SKORCH_COMPONENTS = ("module", "criterion", "optimizer")

#: A learning rate: positive and finite (``optimizer__lr`` too).
_LEARNING_RATE = [Interval(Real, 0, None, closed="neither")]

#: A batch size: a positive number of rows, or -1 for all of them (``iterator_*__batch_size`` too).
_BATCH_SIZE = [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})]

#: skorch's prefixed parameters checked at fit as the parameters they configure are.
_PREFIXED_CONSTRAINTS = {
    "optimizer__lr": _LEARNING_RATE,
    "iterator_train__batch_size": _BATCH_SIZE,
    "iterator_valid__batch_size": _BATCH_SIZE,
}

#: Inputs larger than this in magnitude get a warning at fit: a network's
#: first logits are of the same scale, and training on them diverges or
#: crawls. Standardized data, pixels (0-255) and counts stay far below.
_MAX_ABS_INPUT = 1e6

#: The hooks through which a subclass changes the loss or adds a training
#: stage. A subclass overriding one of them weights rows by ``sample_weight``
#: only once it says so (``_supports_sample_weight = True`` in its body).
_LOSS_HOOKS = ("get_loss", "train_step", "train_step_single", "initialize_criterion", "_prepare_training", "_train")


def _base_callbacks():
    """The callbacks every sknoisy net starts with, by name (``callbacks__<name>__*`` reaches them)."""
    # skorch's valid_acc would compare predictions with the whole target
    # table; score the label column instead.
    return [
        ("epoch_timer", EpochTimer()),
        ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
        ("valid_loss", PassthroughScoring(name="valid_loss")),
        ("valid_acc", EpochScoring(_table_accuracy, name="valid_acc", lower_is_better=False, use_caching=True)),
        ("finite_loss", FiniteLossGuard()),
        ("divergence", DivergenceGuard()),
        ("interrupt", InterruptGuard()),
        ("print_log", PrintLog()),
    ]


#: Optimizers whose fused update computes their default update in one kernel for every
#: parameter: 0.84x the per-parameter loop's time per epoch for a small MLP on CPU.
_FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.Adagrad)


def with_own_param_group(args, params, **options):
    """skorch's optimizer ``args`` with ``params`` taken out of their groups and given a group of their own.

    ``args[0]`` is the list of parameter groups of ``get_params_for_optimizer``;
    the new group (``options``: its ``lr``, ``weight_decay``...) comes last,
    and a group left empty is dropped. For parameters that learn at their
    own rate, such as a learned transition matrix or a flip head.

    Examples
    --------
    >>> import torch
    >>> a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    >>> (groups,) = with_own_param_group(([{"params": [a, b]}],), [b], lr=0.1)
    >>> [(len(g["params"]), g.get("lr")) for g in groups]
    [(1, None), (1, 0.1)]
    """
    own = {id(p) for p in params}
    groups = []
    for group in args[0]:
        kept = [p for p in group["params"] if id(p) not in own]
        if kept:
            groups.append({**group, "params": kept})
    groups.append({"params": list(params), **options})
    return (groups, *args[1:])


def _build_optimizer(optimizer, args, kwargs):
    """``optimizer(*args, **kwargs)``, fused where it is one of :data:`_FUSED_OPTIMIZERS` and the user chose none."""
    if optimizer not in _FUSED_OPTIMIZERS or {"fused", "foreach", "differentiable"} & set(kwargs):
        return optimizer(*args, **kwargs)
    args = [list(arg) if not isinstance(arg, (list, tuple, dict)) else arg for arg in args]  # may be built twice
    try:
        return optimizer(*args, fused=True, **kwargs)
    except (RuntimeError, ValueError, TypeError):
        # a device or dtype without a fused kernel (or an older torch): the default update
        return optimizer(*args, **kwargs)


def _listeners(net, method_name):
    """The callbacks of ``net.callbacks_`` whose ``method_name`` acts, cached while the list stays the same."""
    callbacks = net.callbacks_
    cache = net.__dict__.get("_callback_listeners")
    # a new or resized list (initialize_callbacks, set_params, a callback appended) is looked at afresh
    if cache is None or cache[0] is not callbacks or cache[1] != len(callbacks):
        cache = net.__dict__["_callback_listeners"] = (callbacks, len(callbacks), {})
    found = cache[2].get(method_name)
    if found is None:
        found = cache[2][method_name] = tuple(cb for _, cb in callbacks if _acts_on(cb, method_name))
    return found


def _acts_on(callback, method_name):
    """Whether calling ``callback.method_name`` can do anything (skorch's Callback methods do nothing)."""
    if not isinstance(callback, Callback) or method_name in vars(callback):
        return True
    return getattr(type(callback), method_name, None) is not getattr(Callback, method_name, None)


#: Names of the base callbacks: a stage-1 net keeps the user's settings of these only.
_BASE_CALLBACK_NAMES = frozenset(name for name, _ in _base_callbacks())


def weighted_criterion_loss(criterion, weight, *args):
    """``criterion(*args)`` with each row's loss weighted by ``weight``: the one weighted reduction.

    The criterion is called with ``reduction='none'`` (every torch and
    sknoisy loss reads its ``reduction`` attribute when called) and must
    return one loss per row; its own reduction is then applied to
    ``weight * losses``: ``'mean'`` gives ``(weight * losses).mean()``,
    ``'sum'`` gives ``(weight * losses).sum()``. The weights of a target
    table have mean 1 over the rows ``fit`` was given, so an unweighted batch
    and a batch of weights 1 give the same loss.

    Parameters
    ----------
    criterion : torch.nn.Module
        A loss with a ``reduction`` attribute of 'mean' or 'sum'.
    weight : torch.Tensor of shape (batch_size,)
        The rows' weights (:func:`sknoisy._targets.target_weights`).
    *args
        What the criterion is called with (logits, labels, ...).

    Returns
    -------
    loss : torch.Tensor, a scalar

    Examples
    --------
    >>> import torch
    >>> from sknoisy.base import weighted_criterion_loss
    >>> logits, labels = torch.zeros(2, 3), torch.tensor([0, 1])
    >>> loss = weighted_criterion_loss(torch.nn.CrossEntropyLoss(), torch.tensor([0.0, 2.0]), logits, labels)
    >>> round(float(loss), 4)  # ln 3, the loss of the one row that counts
    1.0986
    """
    reduction = getattr(criterion, "reduction", None)
    if reduction not in ("mean", "sum"):
        raise ValueError(
            f"sample_weight needs a criterion with reduction='mean' or 'sum' (to weight each row's loss), "
            f"but {type(criterion).__name__} has reduction={reduction!r}."
        )
    criterion.reduction = "none"
    try:
        rows = criterion(*args)
    finally:
        criterion.reduction = reduction
    if rows.shape != weight.shape:
        raise ValueError(
            f"sample_weight needs one loss per row from {type(criterion).__name__} called with reduction='none', "
            f"but it returned shape {tuple(rows.shape)} for {weight.shape[0]} rows."
        )
    rows = rows * weight.to(rows.dtype)
    return rows.mean() if reduction == "mean" else rows.sum()


class _SampleWeightNotSupported(NotImplementedError, ValueError):
    """sample_weight given to an estimator whose loss does not read it yet.

    A NotImplementedError (the feature is missing) that is also the
    ValueError scikit-learn expects for an input an estimator cannot take.
    """


def _takes_argument(fn, name):
    """Whether ``fn`` (a class or callable) accepts the keyword ``name``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _takes_keyword(fn, name):
    """Whether ``fn`` accepts the keyword ``name`` (explicitly or through ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True  # cannot tell: let the call decide
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _weight_kwargs(weight):
    """``{'sample_weight': weight}`` when there are weights: hooks that predate them keep working."""
    return {} if weight is None else {"sample_weight": weight}


def _about_fitted_shape(exc):
    """Whether a validation error says X or y does not fit what the model was fitted on."""
    text = str(exc)
    return "features" in text or "items of shape" in text or "not in classes_" in text


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


def _declared_classes(classes):
    """``classes`` given by the user, sorted as scikit-learn sorts labels, or a clear error."""
    given = column_or_1d(classes)
    known = unique_labels(given)
    if known.size != given.size:
        raise ValueError(f"classes must not repeat a label, got {given.tolist()}.")
    if known.size < 2:
        raise ValueError(f"classes must hold at least 2 classes, got {given.tolist()}.")
    return known


class CrossEntropyClassifier(LabelIssuesMixin, NeuralNetClassifier):
    """A skorch network trained with plain cross-entropy: the no-correction baseline.

    It is also the base of every sknoisy classifier, so everything here holds
    for all of them: any skorch parameter (``module__*``, ``optimizer__*``,
    ``lr``, ``max_epochs``, ``batch_size``, ``callbacks``, ``device``,
    ``iterator_train__*``) works unchanged, and ``name__param`` sets
    ``param`` of a nested estimator held by the parameter ``name``.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        A module that returns **logits** of shape (n_samples, n_classes). When
        it is a class whose constructor takes ``n_features`` and/or
        ``n_classes``, they are filled in from the data (unless given as
        ``module__n_features`` / ``module__n_classes``).
    criterion : torch criterion class, default=torch.nn.CrossEntropyLoss
        Loss on (logits, encoded labels).
    optimizer : torch optimizer class, default=torch.optim.Adam
        ``torch.optim.Adam``, ``AdamW``, ``SGD`` and ``Adagrad`` run torch's
        fused update (``fused=True``: one kernel for every parameter) where
        the device supports it and neither ``optimizer__fused`` nor
        ``optimizer__foreach`` is given; it computes the same update up to
        float rounding, faster on small networks (``benchmarks/speed.py``).
        ``optimizer__fused=False`` restores torch's default.
    lr : float, default=1e-3
    max_epochs : int, default=20
    batch_size : int, default=128
    train_split : callable or None, default=None
        skorch's internal validation split. None trains on every row. A
        split receives the label column as ``y``, so ``ValidSplit(5)`` works;
        :class:`~sknoisy.model_selection.TrustedValidSplit` validates on
        trusted rows only.
    random_state : int, RandomState instance or None, default=None
        Seeds module initialisation, shuffling and dropout. The global torch
        RNG is restored after ``fit``. None uses the global RNG.
    verbose : int, default=0
        skorch's epoch table is printed when 1.
    classes : array-like or None, default=None
        skorch's parameter: every class the model knows, even one with no
        row in the training data (the module then still gets an output for
        it). None takes the classes found in ``y``.
    warm_start : bool, default=False
        skorch's parameter: ``fit`` continues training the fitted network
        instead of building a new one. The data must then have the
        features and (a subset of) the classes it was fitted on; anything
        else is refused with a clear error (set ``warm_start=False`` to
        train a new network).
    **kwargs
        Any other skorch ``NeuralNetClassifier`` parameter.

    Notes
    -----
    Every net starts with these callbacks (``callbacks__<name>__*`` sets
    their parameters, ``callbacks__<name>=None`` removes one):
    ``finite_loss`` (:class:`~sknoisy.callbacks.FiniteLossGuard`: a NaN or
    infinite loss stops training with an error), ``divergence``
    (:class:`~sknoisy.callbacks.DivergenceGuard`: so do logits that blow up
    while the loss stays finite), ``interrupt``
    (:class:`~sknoisy.callbacks.InterruptGuard`: after Ctrl-C, a warning
    says the net keeps the weights it had), and skorch's ``train_loss``,
    ``valid_loss``, ``valid_acc`` and ``print_log``.

    Two-stage recipes (an estimated transition matrix, GLC) train stage-1
    networks with this net's settings, but **not** with its ``callbacks``:
    those belong to the network ``fit`` returns (a checkpoint callback
    would otherwise write once per fold and stage). Stage-1 nets keep the
    settings of the callbacks above, and Ctrl-C in one of them stops the
    whole ``fit`` (``KeyboardInterrupt``, the estimator left unfitted). To
    give stage 1 callbacks of its own, pass the stage-1 estimator
    explicitly, e.g. ``transition_matrix=TransitionMatrixEstimator(
    estimator=CrossEntropyClassifier(module, callbacks=[...]))``.

    ``fit(X, y, sample_weight=w)`` weights each row's loss
    (:func:`weighted_criterion_loss`) with scikit-learn's rules (finite,
    non-negative, not all zero); only the ratios of the weights matter, so
    uniform weights change nothing. ``GridSearchCV`` routes it with
    ``set_fit_request(sample_weight=True)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted as ``np.unique`` sorts them.
    n_features_in_ : int
        Number of features (second dimension of X).
    input_shape_ : tuple of int
        Shape of one sample (``X.shape[1:]``); its product is the
        ``n_features`` injected into the module.
    feature_names_in_ : ndarray of str
        Column names, when X is a DataFrame with string column names.
    module_ : torch.nn.Module
        The trained module.
    history_ : skorch.History
        Per-epoch training history.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.modules import MLP
    >>> X, y = make_classification(200, 8, random_state=0)
    >>> clf = CrossEntropyClassifier(MLP, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)

    A class with no training row is still a class of the model:

    >>> clf = CrossEntropyClassifier(MLP, classes=[0, 1, 2], max_epochs=1).fit(X, y)
    >>> clf.classes_, clf.predict_proba(X[:2]).shape
    (array([0, 1, 2]), (2, 3))
    """

    #: Every constructor parameter, skorch's included, in scikit-learn's
    #: constraint language; a subclass extends it with its own. Checked at
    #: the top of fit and partial_fit (see :mod:`sknoisy.utils._param_validation`).
    _parameter_constraints = {
        "module": [callable],
        "criterion": [callable],
        "optimizer": [callable],
        "lr": _LEARNING_RATE,
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": _BATCH_SIZE,
        "iterator_train": [callable],
        "iterator_valid": [callable],
        "dataset": [callable, torch.utils.data.Dataset],  # skorch takes an initialised dataset too
        "train_split": [callable, None],
        # skorch builds the callbacks in set_params already (so that callbacks__* reach them), and says there
        # what is wrong with a bad list
        "callbacks": "no_validation",
        "predict_nonlinearity": [StrOptions({"auto"}), callable, None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device, None],
        "compile": ["boolean"],
        "use_caching": [StrOptions({"auto"}), "boolean"],
        "torch_load_kwargs": [dict, None],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
    }

    #: What to do, added to scikit-learn's message for these parameters.
    _parameter_hints = {
        "optimizer": "Pass a torch optimizer class such as torch.optim.Adam.",
        "train_split": "Pass None (train on every row) or a split such as skorch.dataset.ValidSplit(5) or "
        "sknoisy.TrustedValidSplit().",
        "batch_size": "(-1 puts every row in one batch.)",
    }

    def __init__(
        self,
        module,
        *args,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=20,
        batch_size=128,
        train_split=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            *args,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            verbose=verbose,
            **kwargs,
        )
        self.random_state = random_state

    # ------------------------------------------------------------------ skorch
    #: This class weights rows by sample_weight (see :func:`weighted_criterion_loss`).
    _supports_sample_weight = True
    #: fit and predict read a torch Dataset of inputs batch by batch, so a fold of
    #: a memmap can be handed over as a view instead of a copy (TransitionMatrixEstimator).
    _accepts_lazy_inputs = True

    @property
    def _default_callbacks(self):
        return _base_callbacks()

    def check_data(self, X, y):
        # classes are set from the user's labels in fit, not from the table.
        pass

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        if not isinstance(self.module, torch.nn.Module):
            for name, value in self._module_size_params().items():
                if name not in kwargs and _takes_argument(self.module, name):
                    kwargs[name] = value
        self.module_ = self.initialized_instance(self.module, kwargs)
        if not isinstance(self.module_, torch.nn.Module):
            raise TypeError(
                f"{estimator_name(self)}: module must be a torch.nn.Module class or instance (or a function "
                f"returning one), got {self.module!r}, which gave {type(self.module_).__name__}."
            )
        if not any(p.requires_grad for p in self.module_.parameters()):
            # refused here, before torch's optimizer says only "got an empty parameter list"
            raise ValueError(
                f"{estimator_name(self)}: the module {type(self.module_).__name__} has no trainable parameters "
                "(none that requires grad), so training cannot change it: give a module with layers to learn, "
                "such as sknoisy.modules.MLP."
            )
        return self

    def _module_size_params(self):
        sizes = {}
        if hasattr(self, "input_shape_"):
            # one sample flattened: images given as (n, c, h, w) still size an MLP right
            sizes["n_features"] = int(np.prod(self.input_shape_, dtype=np.int64))
        if hasattr(self, "classes_inferred_"):
            sizes["n_classes"] = len(self.classes_inferred_)
        return sizes

    def _get_predict_nonlinearity(self):
        # Modules return logits for every sknoisy criterion, so 'auto' is the
        # softmax (skorch only infers it for CrossEntropyLoss).
        if self.predict_nonlinearity == "auto":
            self.check_is_fitted()
            return _softmax
        return super()._get_predict_nonlinearity()

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        if not self.train_split:
            return dataset, None
        _, table = inputs_and_table(X, y)
        if table is None:
            return self.train_split(dataset, **fit_params)
        if getattr(self.train_split, "uses_target_table", False):
            return self.train_split(dataset, table, **fit_params)
        return self.train_split(dataset, target_labels(np.asarray(to_numpy(table))), **fit_params)

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        source = f"{prefix}__batch_size" if "batch_size" in kwargs else "batch_size"
        kwargs.setdefault("batch_size", self.batch_size)
        validate_params(self, {source: kwargs["batch_size"]}, {source: _BATCH_SIZE})
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if iterator is DataLoader and "collate_fn" not in kwargs:
            kwargs["collate_fn"] = stack_collate
        if iterator is DataLoader and "generator" not in kwargs:
            # A DataLoader without a generator draws a seed from the global
            # torch RNG every time it is iterated, even to predict. Give it its
            # own: training draws its seed once (from the RNG that fit seeded
            # from random_state), prediction needs no randomness at all.
            generator = torch.Generator()
            if training:
                generator.manual_seed(int(torch.randint(0, 2**62, (), dtype=torch.int64)))
            kwargs["generator"] = generator
        if iterator is DataLoader:
            # In-memory arrays: whole-tensor indexing, the DataLoader's batches
            # without its per-row work; anything else keeps the DataLoader.
            batches = tensor_batches(dataset, **kwargs)
            if batches is not None:
                return batches
        return iterator(dataset, **kwargs)

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's, with torch's fused update where the optimizer has one (see ``optimizer``)."""
        if triggered_directly is not None:
            return super().initialize_optimizer(triggered_directly)  # skorch's deprecation warning
        args, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        self.optimizer_ = _build_optimizer(self.optimizer, args, kwargs)
        return self

    def notify(self, method_name, **cb_kwargs):
        """Call ``method_name`` of the net, then of each callback that defines it.

        As skorch's ``notify``, except that callbacks whose method is
        ``skorch.callbacks.Callback``'s own (which does nothing) are not
        called: of the 8 base callbacks, 3 act on a batch, and the calls were
        a visible share of a small network's step (``benchmarks/speed.py``).
        """
        getattr(self, method_name)(self, **cb_kwargs)
        for callback in _listeners(self, method_name):
            getattr(callback, method_name)(self, **cb_kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        return self._criterion_loss(y_pred, y_true, target_labels(y_true), training=training)

    def _criterion_loss(self, y_pred, table, *criterion_args, training=False):
        """``criterion_(y_pred, *criterion_args)``, weighted by the table's weight column when it has one.

        The one place a batch's loss is reduced: subclasses whose criterion
        takes more than the labels (GLC: labels and trusted flags) call it
        with those arguments, and weights then need nothing more from them.
        ``training`` is skorch's flag of ``get_loss`` (a subclass may train
        with another loss, e.g. during warm-up epochs).
        """
        weight = target_weights(table)
        if weight is None:
            return self.criterion_(y_pred, *criterion_args)
        return weighted_criterion_loss(self.criterion_, weight, y_pred, *criterion_args)

    def infer(self, x, **fit_params):
        y_infer = super().infer(x, **fit_params)
        # Checked on the first batch of each training call only: the shape
        # is host metadata; the one device read is once per fit.
        if getattr(self, "_outputs_unchecked", False):
            self._outputs_unchecked = False
            self._check_module_outputs(x, y_infer)
        return y_infer

    def _infer_with(self, module, x, **fit_params):
        """What ``infer`` does with ``module_``, done with another registered module (a second network)."""
        x = to_tensor(x, device=self.device)
        if isinstance(x, Mapping):
            return module(**self._merge_x_and_fit_params(x, fit_params))
        return module(x, **fit_params)

    def _check_module_outputs(self, x, outputs):
        """Refuse outputs that are not one logit per class; warn about probabilities."""
        if not isinstance(outputs, torch.Tensor):
            return  # a tuple or dict: a custom get_loss reads it
        name = estimator_name(self)
        classes = self.classes_inferred_
        n_rows = x.shape[0] if isinstance(x, torch.Tensor) else None
        expected = f"({n_rows if n_rows is not None else 'batch size'}, {len(classes)})"
        if outputs.ndim != 2 or outputs.shape[1] != len(classes) or (n_rows is not None and outputs.shape[0] != n_rows):
            given = self.get_params_for("module").get("n_classes")
            if given is not None and given != len(classes):
                hint = (
                    f"module__n_classes={given!r} does not match the {len(classes)} classes of the data; drop it "
                    "(n_classes is filled in from the data) or give classes=[...] with every class."
                )
            elif outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1):
                hint = "one output per row (a binary logit) is not supported: return one logit per class."
            else:
                hint = "make the module's last layer output one logit per class."
            raise ValueError(
                f"{name}: the module returned outputs of shape {tuple(outputs.shape)}, but it must return one "
                f"logit per class, shape {expected}, for the {len(classes)} classes {classes.tolist()}: {hint}"
            )
        if not outputs.is_floating_point():
            raise ValueError(f"{name}: the module must return floating-point logits, got dtype {outputs.dtype}.")
        with torch.no_grad():
            looks_like_proba = bool(
                ((outputs >= 0) & (outputs <= 1)).all()
                & torch.isclose(outputs.sum(dim=1), outputs.new_ones(()), atol=1e-4).all()
            )
        if looks_like_proba:
            warnings.warn(
                f"{name}: the module's outputs look like probabilities (every row is in [0, 1] and sums to 1), "
                "but sknoisy modules must return logits: the criteria and predict_proba apply the softmax "
                "themselves. Remove the module's final softmax.",
                UserWarning,
                stacklevel=2,
            )

    # --------------------------------------------------------------- sklearn
    def _get_param_names(self):
        # skorch takes every public-looking entry of __dict__ as a parameter;
        # private ones (skorch's own bookkeeping, or the callback context that
        # scikit-learn's meta-estimators attach) must not be passed to clone.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def set_params(self, **params):
        """Set parameters, including those of nested scikit-learn estimators.

        As in scikit-learn, ``name__param`` sets ``param`` of the estimator
        held by the parameter ``name`` (such as ``transition_matrix__method``
        when ``transition_matrix`` is a
        :class:`~sknoisy.TransitionMatrixEstimator`). skorch's prefixes
        (``module__``, ``criterion__``, ``optimizer__``, ``callbacks__``,
        ``iterator_train__``, ``dataset__``, ...) keep skorch's meaning.

        Parameters
        ----------
        **params : dict
            Parameter names and their new values.

        Returns
        -------
        self : object

        Raises
        ------
        ValueError
            If ``name__param`` names a parameter whose value is not an
            estimator with parameters.
        """
        own = set(self._get_param_names())
        nested = {}
        for key in list(params):
            name, sep, sub = key.partition("__")
            if sep and name in own and not self._is_skorch_prefix(name):
                nested.setdefault(name, {})[sub] = params.pop(key)
        for name, sub_params in nested.items():
            # the estimator may be set in the same call, as grid searches do
            value = params.get(name, getattr(self, name))
            if isinstance(value, type) or not hasattr(value, "set_params"):
                raise ValueError(
                    f"Cannot set {', '.join(name + '__' + k for k in sub_params)}: {name}={value!r} is not an "
                    "estimator with parameters."
                )
        if params:
            super().set_params(**params)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        return self

    def _is_skorch_prefix(self, name):
        return name in _SKORCH_COMPONENTS or name in self.prefixes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_is_fitted__(self):
        return bool(getattr(self, "initialized_", False)) and hasattr(self, "classes_inferred_")

    @property
    def classes_(self):
        try:
            return self.classes_inferred_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} is not fitted yet, so it has no classes_; call fit first."
            ) from None

    @outermost_fit
    def fit(self, X, y, trusted=None, *, sample_weight=None, **fit_params):
        """Validate the data, run the preparation stages and train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...), or torch Dataset
            Training data; arrays of more than two dimensions (images) are
            accepted and handed to the module as they are. For data larger
            than memory, pass a ``numpy.memmap`` or a torch ``Dataset`` that
            yields inputs only (e.g. ``skorch.helper.SliceDataset(ds, idx=0)``)
            with the labels as ``y``: it is read batch by batch, never copied.
        y : array-like of shape (n_samples,)
            The (possibly noisy) labels, of any type scikit-learn accepts.
        trusted : array-like of bool of shape (n_samples,), default=None
            Rows whose label is known to be correct. Requested through
            metadata routing (``set_fit_request(trusted=True)``), so
            ``GridSearchCV(...).fit(X, y, trusted=mask)`` hands each fold its
            slice.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Weight of each row in the loss (a weighted mean: only the ratios
            matter, uniform weights change nothing). Finite, non-negative and
            not all zero. Requested through metadata routing like
            ``trusted``. A subclass whose loss does not read them yet refuses
            non-uniform weights (``NotImplementedError``).
        **fit_params
            Passed to skorch's ``fit`` (and so to the module's ``forward``).

        Returns
        -------
        self : object

        Raises
        ------
        KeyboardInterrupt
            Ctrl-C during a preparation stage (such as the stage-1 networks
            that estimate T): the estimator is left unfitted. Ctrl-C while
            the network itself trains keeps skorch's behaviour: training
            stops, a warning says so, and the net keeps the weights it had.
        """
        self._check_params()
        continuing = bool(self.warm_start) and self.__sklearn_is_fitted__()
        try:
            X, y_enc, mask = self._validate_fit_data(
                X, y, trusted, reset=not continuing, classes=None if continuing else self.classes
            )
        except ValueError as exc:
            if continuing and _about_fitted_shape(exc):
                raise ValueError(
                    f"{exc} warm_start=True continues training the fitted network, which was built for the "
                    "features and classes of its first fit; set warm_start=False to train a new network on these data."
                ) from exc
            raise
        weight = self._validate_sample_weight(sample_weight, len(y_enc))
        with torch_seeded(seed_from(self.random_state), self.device):
            self._prepare(X, y_enc, mask, weight)
            if not self.warm_start or not self.initialized_:
                self.initialize()
            self._train(X, y_enc, mask, "fit", **_weight_kwargs(weight), **fit_params)
        return self

    @outermost_fit
    def partial_fit(self, X, y=None, classes=None, trusted=None, *, sample_weight=None, epochs=None, **fit_params):
        """Train for ``max_epochs`` (or ``epochs``) more epochs without re-initialising.

        The first call validates the data and runs the preparation stages
        (such as estimating T) as ``fit`` does; later calls reuse them.

        Parameters
        ----------
        X, y, trusted, sample_weight, **fit_params
            As for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem, in any order (they are sorted), as
            scikit-learn's ``partial_fit`` takes them; a later call may only
            repeat them. None on the first call uses the ``classes``
            parameter, or else the classes found in ``y``.
        epochs : int or None, default=None
            The number of epochs to train, as in skorch's ``partial_fit``;
            None trains ``max_epochs``. (``fit`` takes it too.)

        Returns
        -------
        self : object
        """
        self._check_params()
        first = not self.__sklearn_is_fitted__()
        if first:
            if classes is not None and self.classes is not None:
                self._check_same_classes(classes, _declared_classes(self.classes), "the classes parameter")
            declared = classes if classes is not None else self.classes
        else:
            if classes is not None:
                self._check_same_classes(classes, self.classes_inferred_, "classes_ from the first call")
            declared = None
        X, y_enc, mask = self._validate_fit_data(X, y, trusted, reset=first, classes=declared)
        weight = self._validate_sample_weight(sample_weight, len(y_enc))
        with torch_seeded(seed_from(self.random_state), self.device):
            if first:
                self._prepare(X, y_enc, mask, weight)
            if not self.initialized_:
                self.initialize()
            self._train(X, y_enc, mask, "partial_fit", epochs=epochs, **_weight_kwargs(weight), **fit_params)
        return self

    def _prepare(self, X, y_enc, mask, weight):
        """Run :meth:`_prepare_training`; after Ctrl-C there, leave the estimator unfitted and say so."""
        try:
            self._prepare_training(X, y_enc, mask, **_weight_kwargs(weight))
        except Exception as exc:
            # A stage-1 net names itself (CrossEntropyClassifier) in its
            # errors; say which fit it belongs to (shown with the traceback).
            if hasattr(exc, "add_note"):  # Python >= 3.11
                exc.add_note(
                    f"(raised in {type(self).__name__}.fit while preparing its training, e.g. in a stage-1 "
                    "network that estimates the transition matrix)"
                )
            raise
        except KeyboardInterrupt as exc:
            self.initialized_ = False
            where = f": {str(exc).rstrip('.')}" if str(exc) else ""
            raise KeyboardInterrupt(
                f"{type(self).__name__}.fit was interrupted while preparing its training (such as the stage-1 "
                f"networks that estimate the transition matrix){where}. Its own network was not trained, so the "
                "estimator is not fitted: call fit again."
            ) from exc

    def _train(self, X, y_enc, mask, routing_method, sample_weight=None, epochs=None, **fit_params):
        """Train the initialised net on the target table (with ``sample_weight``'s column, if any).

        ``epochs`` (skorch's ``fit_loop`` argument) trains that many epochs instead of ``max_epochs``.
        """
        if epochs is not None:
            validate_params(self, {"epochs": epochs}, {"epochs": [Interval(Integral, 1, None, closed="left")]})
            fit_params["epochs"] = int(epochs)
        if fit_params:
            self._check_fit_params(fit_params)
        if sample_weight is not None:
            reduction = getattr(self.criterion_, "reduction", None)
            if reduction not in ("mean", "sum"):
                raise ValueError(
                    f"{type(self).__name__}: sample_weight needs a criterion with reduction='mean' or 'sum' (each "
                    f"row's loss is weighted), but {type(self.criterion_).__name__} has reduction={reduction!r}."
                )
        X, table = as_training_data(X, y_enc, mask, sample_weight)
        self._outputs_unchecked = True
        try:
            # skorch's own fit would call our partial_fit again; its
            # partial_fit runs the training loop on an initialised net.
            NeuralNetClassifier.partial_fit(self, X, table, _routing_method=routing_method, **fit_params)
        finally:
            self._outputs_unchecked = False

    def predict_proba(self, X):
        """Probabilities of the clean classes, p(y | x), in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...), or torch Dataset
            As for :meth:`fit`; a Dataset is read batch by batch.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float32
        """
        self.check_is_fitted()
        if not is_lazy_dataset(X):
            check_column_names(X)
            X = validate_data(self, X, dtype=np.float32, allow_nd=True, reset=False)
        return super().predict_proba(as_prediction_data(X))

    def predict(self, X):
        """Predicted class labels, from ``classes_``: the most probable clean class.

        See :meth:`predict_proba` for the accepted ``X``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        indices = self.predict_proba(X).argmax(axis=1)
        return self.classes_[indices]

    # --------------------------------------------------------------- helpers
    def _validate_fit_data(self, X, y, trusted, *, reset, classes=None):
        """Validated ``(X, y_enc, mask)``; with ``reset``, sets ``classes_`` (``classes`` or those of y)."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(with a Dataset as X, pass its labels as y)."
            )
        y = check_label_values(y)
        if is_lazy_dataset(X):
            # Data larger than memory: never materialise X; read one item for its shape.
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            shape = sample_shape(X)
            if reset:
                self.input_shape_ = shape
                self.n_features_in_ = shape[0] if shape else 1
            elif shape != self.input_shape_:
                raise ValueError(f"X has items of shape {shape}, but the model was fitted on {self.input_shape_}.")
        else:
            # Read-only arrays (np.load(mmap_mode='r'), pandas' copy-on-write) are not copied:
            # the stacking collate builds each batch as a fresh, writable array.
            in_memory = not isinstance(X, np.memmap)
            check_column_names(X)
            X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, reset=reset)
            if reset:
                self.input_shape_ = X.shape[1:]
            if in_memory and X.size:
                # One more pass over data validate_data has just read (a
                # memmap is not read twice).
                peak = float(max(X.max(), -X.min()))
                if peak > _MAX_ABS_INPUT:
                    warnings.warn(
                        f"{type(self).__name__}: X has values up to {peak:.3g} in magnitude; a network trains "
                        "poorly or diverges on features this large (its first outputs are of the same scale). "
                        "Standardize the features, e.g. with sklearn.preprocessing.StandardScaler in a Pipeline.",
                        UserWarning,
                        stacklevel=3,
                    )
        check_classification_targets(y)
        if reset:
            self.classes_inferred_ = self._fit_classes(y, classes)
        known = self.classes_inferred_
        unknown = np.setdiff1d(np.unique(y), known)
        if unknown.size:
            raise ValueError(f"y contains labels {unknown[:5].tolist()} that are not in classes_ {known.tolist()}.")
        y_enc = np.searchsorted(known, y).astype(np.int64)
        mask = check_trusted_mask(trusted, len(y))
        return X, y_enc, mask

    def _fit_classes(self, y, classes):
        """The sorted classes the model will know: the declared ones, or those found in y."""
        if classes is not None:
            return _declared_classes(classes)
        found = np.unique(y)
        if found.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {found[0]!r}."
            )
        return found

    @staticmethod
    def _check_same_classes(classes, known, what):
        if not np.array_equal(_declared_classes(classes), known):
            raise ValueError(f"partial_fit got classes={list(classes)!r}, which differ from {what}: {known.tolist()}.")

    def _check_params(self):
        """Validate the declared parameters, and the prefixed ones whose bad values would fail deep in torch."""
        validate_params(self)
        # skorch's prefixed parameters are not constructor parameters: check the ones that reach torch unchecked
        params = self.get_params(deep=False)
        prefixed = {name: params[name] for name in _PREFIXED_CONSTRAINTS if name in params}
        validate_params(self, prefixed, _PREFIXED_CONSTRAINTS)
        # which devices exist is a question for this machine, not for the constraints
        check_device(self.device)

    @classmethod
    def _sample_weight_supported(cls):
        """Whether this class weights rows: declared by the class, or inherited unchanged.

        Walking the MRO, the first class that declares
        ``_supports_sample_weight`` in its own body decides; a class that
        overrides a loss hook (:data:`_LOSS_HOOKS`) without declaring it does
        not (its loss may ignore the weight column).
        """
        for klass in cls.__mro__:
            own = vars(klass)
            if "_supports_sample_weight" in own:
                return bool(own["_supports_sample_weight"])
            if any(hook in own for hook in _LOSS_HOOKS):
                return False
        return False

    def _validate_sample_weight(self, sample_weight, n_samples):
        """The weights of the target table (mean 1), or None; refused where the loss would ignore them."""
        weight = check_sample_weight(sample_weight, n_samples)
        if weight is not None and not self._sample_weight_supported():
            raise _SampleWeightNotSupported(
                f"{type(self).__name__} does not weight its loss by sample_weight yet, so these weights would "
                "be ignored; fit without them (uniform weights are accepted: they change nothing), or use "
                "CrossEntropyClassifier, whose loss is a weighted mean. (A subclass whose loss reads the weight "
                "column sets _supports_sample_weight = True in its class body.)"
            )
        return weight

    def _check_fit_params(self, fit_params):
        """Refuse extra fit parameters that neither the module's forward nor the train_split takes."""
        takers = [self.module_.forward]
        if self.train_split:
            takers.append(self.train_split)
        # epochs is skorch's fit_loop's own
        unknown = [
            name for name in fit_params if name != "epochs" and not any(_takes_keyword(t, name) for t in takers)
        ]
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected keyword argument(s) {', '.join(map(repr, unknown))}: "
                "fit takes X, y, trusted and sample_weight, and hands any other keyword to the module's "
                f"forward() (and the train_split), which {type(self.module_).__name__}.forward does not take."
            )

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        """Hook run inside the seeded context before the network is trained.

        Subclasses estimate or check T here. The base does nothing.
        ``sample_weight`` (the table's weights, mean 1) is passed only when
        ``fit`` got non-uniform weights, and only to a class that supports
        them (see :meth:`_sample_weight_supported`).
        """

    def _check_transition_matrix(self, T):
        """``T`` validated for this net's classes; a warning when rows alike say the labels carry no information.

        Identical rows make classes indistinguishable from the noisy labels
        (all rows alike: forward correction has a zero gradient and stays at
        chance); :func:`~sknoisy.transition.check_informative` names them.
        It warns rather than refuses: an estimated or learned T can come
        out that way, and the caller's fit should still say so and finish.
        """
        T = check_transition_matrix(T, len(self.classes_))
        return check_informative(T, classes=self.classes_, uninformative="warn")
