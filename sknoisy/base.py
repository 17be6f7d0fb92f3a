"""The shared skorch base classifier of sknoisy.

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
  every mini-batch: skorch batches ``y`` but not fit parameters, so the net
  trains on a *target table* ``y_table[:, 0] = encoded label`` and
  ``y_table[:, 1] = trusted flag`` (see :data:`LABEL` and :data:`TRUSTED`);
* ``predict_proba`` returns softmax probabilities of the clean class, whatever
  the criterion.

Subclasses change the loss through skorch's hooks (``initialize_criterion``,
``get_loss``, ``train_step_single``) and run extra stages before training
through :meth:`CrossEntropyClassifier._prepare_training`.
"""

import contextlib
import inspect
import numbers

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset, default_collate
from sklearn.base import clone
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.utils import to_numpy

from .utils._validation import check_transition_matrix, check_trusted_mask, is_lazy_dataset

__all__ = ["CrossEntropyClassifier", "FiniteLossGuard", "TrustedValidSplit", "LABEL", "TRUSTED"]

#: Column of the target table holding the encoded (possibly noisy) label.
LABEL = 0
#: Column of the target table holding the trusted flag (1 = clean row).
TRUSTED = 1


def _takes_argument(fn, name):
    """Whether ``fn`` (a class or callable) accepts the keyword ``name``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _table_accuracy(net, X, y_table):
    """Accuracy on the label column of a target table (skorch's valid_acc)."""
    y_true = np.asarray(to_numpy(y_table))
    if y_true.ndim == 2:
        y_true = y_true[:, LABEL]
    y_pred = net.predict_proba(X).argmax(axis=1)
    return float(np.mean(y_pred == y_true))


def _stack_collate(batch):
    """Collate (input, target) rows of numpy arrays with one ``np.stack`` each.

    torch's default collate converts every row to a tensor first, which made
    small networks about 25% slower per epoch than plain skorch once the
    target table doubled the number of arrays per row. Anything that is not
    a pair of numpy arrays or numbers goes to the default collate.
    """
    first = batch[0]
    if isinstance(first, (tuple, list)) and len(first) == 2 and isinstance(first[0], np.ndarray):
        Xb = torch.from_numpy(np.stack([row[0] for row in batch]))
        targets = [row[1] for row in batch]
        if isinstance(first[1], (np.ndarray, np.generic, numbers.Number)):
            return Xb, torch.from_numpy(np.asarray(np.stack(targets)))
        return Xb, default_collate(targets)
    return default_collate(batch)


def _seed_from(random_state):
    """An integer seed from an int, a RandomState or None (None -> None)."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class TrustedValidSplit:
    """skorch ``train_split`` that validates on trusted rows only.

    Holds out a stratified ``fraction`` of the trusted rows (at least one
    per class that has two or more trusted rows) for skorch's internal
    validation, so ``valid_loss`` and ``valid_acc`` are measured on clean
    labels, never on noisy ones. With no trusted rows there is no
    validation set at all (rather than a noisy one).

    Parameters
    ----------
    fraction : float in (0, 1), default=0.2
        Share of each class's trusted rows held out.
    random_state : int or None, default=None
        Seed of the split; None draws from torch's RNG, which the net seeds
        with its own ``random_state`` during ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import CrossEntropyClassifier
    >>> from sknoisy.base import TrustedValidSplit
    >>> from sknoisy.modules import MLP
    >>> X = np.random.RandomState(0).randn(100, 4)
    >>> y = (X[:, 0] > 0).astype(int)
    >>> trusted = np.arange(100) < 40
    >>> clf = CrossEntropyClassifier(MLP, train_split=TrustedValidSplit(0.25),
    ...                              max_epochs=2, random_state=0).fit(X, y, trusted=trusted)
    >>> len(clf.history[:, "valid_acc"])
    2
    """

    #: The net hands this split the whole target table, not only the labels.
    uses_target_table = True

    def __init__(self, fraction=0.2, *, random_state=None):
        self.fraction = fraction
        self.random_state = random_state

    def __call__(self, dataset, y=None, **fit_params):
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"TrustedValidSplit fraction must be in (0, 1), got {self.fraction!r}.")
        table = np.asarray(to_numpy(y))
        trusted_idx = np.flatnonzero(table[:, TRUSTED] == 1)
        if trusted_idx.size == 0:
            return dataset, None
        if self.random_state is None:
            order = trusted_idx[torch.randperm(trusted_idx.size).numpy()]
        else:
            order = check_random_state(self.random_state).permutation(trusted_idx)
        labels = table[order, LABEL]
        valid = []
        for label in np.unique(labels):
            members = order[labels == label]
            if members.size >= 2:
                n_valid = min(max(1, int(round(self.fraction * members.size))), members.size - 1)
                valid.append(members[:n_valid])
        if not valid:
            return dataset, None
        valid_idx = np.sort(np.concatenate(valid))
        train_idx = np.setdiff1d(np.arange(len(table)), valid_idx)
        return Subset(dataset, train_idx), Subset(dataset, valid_idx)

    def __repr__(self):
        return f"TrustedValidSplit(fraction={self.fraction!r}, random_state={self.random_state!r})"


class _TableDataset(torch.utils.data.Dataset):
    """Pairs a user's Dataset of inputs with the rows of the target table."""

    def __init__(self, inputs, table):
        self.inputs = inputs
        self.table = table

    def __len__(self):
        return len(self.table)

    def __getitem__(self, i):
        return self.inputs[i], self.table[i]


class _InputsDataset(torch.utils.data.Dataset):
    """A Dataset of inputs only, given the dummy target skorch's batches expect."""

    def __init__(self, inputs):
        self.inputs = inputs

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return self.inputs[i], 0


_is_lazy = is_lazy_dataset


def _yields_pairs(dataset):
    """Whether ``dataset`` is (a Subset of) one of our (input, target) wrappers."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, (_TableDataset, _InputsDataset))


def _sample_shape(dataset):
    item = dataset[0]
    if isinstance(item, (tuple, list)):
        raise ValueError(
            "A Dataset passed as X must yield inputs only, not (input, target) pairs; pass the labels "
            "as y (e.g. X = skorch.helper.SliceDataset(dataset, idx=0), y = labels)."
        )
    return tuple(np.shape(item))


class _NoisyHoldout:
    """Stratified hold-out of ``fraction`` of the rows, or none when too small to stratify.

    Used by stage-1 nets for early stopping on the noisy validation loss.
    """

    def __init__(self, fraction=0.2, random_state=None):
        self.fraction = fraction
        self.random_state = random_state

    def __call__(self, dataset, y=None, **fit_params):
        seed = self.random_state
        if seed is None:
            seed = int(torch.randint(0, 2**31 - 1, ()))
        splitter = StratifiedShuffleSplit(1, test_size=self.fraction, random_state=seed)
        try:
            train_idx, valid_idx = next(splitter.split(np.zeros(len(y)), y))
        except ValueError:  # a class with one member, or fewer held-out rows than classes
            return dataset, None
        return Subset(dataset, train_idx), Subset(dataset, valid_idx)


class _BestValidLoss(EarlyStopping):
    """skorch's EarlyStopping that stands aside when there is no validation set."""

    def on_epoch_end(self, net, **kwargs):
        if self.monitor in net.history[-1]:
            super().on_epoch_end(net, **kwargs)


class FiniteLossGuard(Callback):
    """Stop training with a clear error as soon as a batch loss is not finite.

    skorch already copies each batch loss to the host for its history, so the
    check costs no extra device synchronisation.
    """

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        loss = net.history[-1, "batches", -1, "train_loss"]
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"{type(net).__name__}: the training loss became {loss} in epoch "
                f"{len(net.history)}; training stopped. Lower the learning rate, check the "
                "inputs for extreme values, or (backward correction) use a better-conditioned "
                "transition matrix or forward correction."
            )


class CrossEntropyClassifier(NeuralNetClassifier):
    """A skorch network trained with plain cross-entropy: the no-correction baseline.

    It is also the base of every sknoisy classifier, so everything here holds
    for all of them: any skorch parameter (``module__*``, ``optimizer__*``,
    ``lr``, ``max_epochs``, ``batch_size``, ``callbacks``, ``device``,
    ``iterator_train__*``) works unchanged.

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
    lr : float, default=1e-3
    max_epochs : int, default=20
    batch_size : int, default=128
    train_split : callable or None, default=None
        skorch's internal validation split. None trains on every row. A
        split receives the label column as ``y``, so ``ValidSplit(5)`` works.
    random_state : int, RandomState instance or None, default=None
        Seeds module initialisation, shuffling and dropout. The global torch
        RNG is restored after ``fit``. None uses the global RNG.
    verbose : int, default=0
        skorch's epoch table is printed when 1.
    **kwargs
        Any other skorch ``NeuralNetClassifier`` parameter.

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
    """

    #: Constructor parameters added by a subclass; they are dropped when the
    #: subclass builds its plain cross-entropy stage-1 network.
    _correction_params = ()

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
    @property
    def _default_callbacks(self):
        # skorch's valid_acc would compare predictions with the whole target
        # table; score the label column instead.
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_acc", EpochScoring(_table_accuracy, name="valid_acc", lower_is_better=False, use_caching=True)),
            ("finite_loss", FiniteLossGuard()),
            ("print_log", PrintLog()),
        ]

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
        table = X.table if isinstance(X, _TableDataset) else y
        if table is None:
            return self.train_split(dataset, **fit_params)
        if getattr(self.train_split, "uses_target_table", False):
            return self.train_split(dataset, table, **fit_params)
        return self.train_split(dataset, np.asarray(to_numpy(table))[:, LABEL], **fit_params)

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if iterator is DataLoader and "collate_fn" not in kwargs:
            kwargs["collate_fn"] = _stack_collate
        if iterator is DataLoader and "generator" not in kwargs:
            # A DataLoader without a generator draws a seed from the global
            # torch RNG every time it is iterated, even to predict. Give it its
            # own: training draws its seed once (from the RNG that fit seeded
            # from random_state), prediction needs no randomness at all.
            generator = torch.Generator()
            if training:
                generator.manual_seed(int(torch.randint(0, 2**62, (), dtype=torch.int64)))
            kwargs["generator"] = generator
        return iterator(dataset, **kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
        return self.criterion_(y_pred, y_true[:, LABEL])

    # --------------------------------------------------------------- sklearn
    def _get_param_names(self):
        # skorch takes every public-looking entry of __dict__ as a parameter;
        # private ones (skorch's own bookkeeping, or the callback context that
        # scikit-learn's meta-estimators attach) must not be passed to clone.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    def set_params(self, **params):
        """Set parameters, including those of nested scikit-learn estimators.

        skorch stores every ``a__b`` key as an attribute of the net; a key
        whose prefix names a parameter holding a scikit-learn estimator (such
        as ``transition_matrix__method`` when ``transition_matrix`` is a
        :class:`~sknoisy.TransitionMatrixEstimator`) is set on that estimator
        instead, as scikit-learn's grid searches expect.
        """
        nested = {}
        for key in list(params):
            name, sep, sub = key.partition("__")
            if sep and name in self._correction_params:
                nested.setdefault(name, {})[sub] = params.pop(key)
        if params:
            super().set_params(**params)
        for name, sub_params in nested.items():
            value = getattr(self, name)
            if not hasattr(value, "set_params"):
                raise ValueError(
                    f"Cannot set {', '.join(name + '__' + k for k in sub_params)}: {name}={value!r} is not an "
                    "estimator with parameters."
                )
            value.set_params(**sub_params)
        return self

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

    def fit(self, X, y, trusted=None, **fit_params):
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
        **fit_params
            Passed to skorch's ``fit`` (and so to the module's ``forward``).

        Returns
        -------
        self : object
        """
        X, y_enc, mask = self._validate_fit_data(X, y, trusted, reset=True)
        with self._seeded():
            self._prepare_training(X, y_enc, mask)
            if not self.warm_start or not self.initialized_:
                self.initialize()
            self._train(X, y_enc, mask, "fit", **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, trusted=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initialising.

        The first call validates the data and runs the preparation stages
        (such as estimating T) as ``fit`` does; later calls reuse them.
        ``classes`` is accepted for scikit-learn compatibility; when given on
        the first call it fixes ``classes_``.
        """
        first = not self.__sklearn_is_fitted__()
        if first and classes is not None:
            self.classes_inferred_ = np.asarray(classes)
        X, y_enc, mask = self._validate_fit_data(X, y, trusted, reset=first, keep_classes=classes is not None or not first)
        with self._seeded():
            if first:
                self._prepare_training(X, y_enc, mask)
            if not self.initialized_:
                self.initialize()
            self._train(X, y_enc, mask, "partial_fit", **fit_params)
        return self

    def _train(self, X, y_enc, mask, routing_method, **fit_params):
        # skorch's own fit would call our partial_fit again; its partial_fit
        # runs the training loop on an initialised net.
        table = np.column_stack([y_enc, mask.astype(np.int64)])
        if _is_lazy(X):
            X, table = _TableDataset(X, table), None
        NeuralNetClassifier.partial_fit(self, X, table, _routing_method=routing_method, **fit_params)

    def predict_proba(self, X):
        """Probabilities of the clean classes, p(y | x), in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float32
        """
        self.check_is_fitted()
        if not _is_lazy(X):
            X = validate_data(self, X, dtype=np.float32, allow_nd=True, reset=False)
        elif not _yields_pairs(X):
            X = _InputsDataset(X)
        return super().predict_proba(X)

    def predict(self, X):
        """Predicted class labels, from ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        indices = self.predict_proba(X).argmax(axis=1)
        return self.classes_[indices]

    # --------------------------------------------------------------- helpers
    def _validate_fit_data(self, X, y, trusted, *, reset, keep_classes=False):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None "
                "(with a Dataset as X, pass its labels as y)."
            )
        if _is_lazy(X):
            # Data larger than memory: never materialise X; read one item for its shape.
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            shape = _sample_shape(X)
            if reset:
                self.input_shape_ = shape
                self.n_features_in_ = shape[0] if shape else 1
            elif shape != self.input_shape_:
                raise ValueError(f"X has items of shape {shape}, but the model was fitted on {self.input_shape_}.")
        else:
            # Read-only arrays (np.load(mmap_mode='r'), pandas' copy-on-write) are not copied:
            # the stacking collate builds each batch as a fresh, writable array.
            X, y = validate_data(self, X, y, dtype=np.float32, allow_nd=True, reset=reset)
            if reset:
                self.input_shape_ = X.shape[1:]
        check_classification_targets(y)
        if keep_classes:
            classes = self.classes_inferred_
            unknown = np.setdiff1d(np.unique(y), classes)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown[:5].tolist()} that are not in classes_ {classes.tolist()}."
                )
        else:
            classes = np.unique(y)
            if classes.size < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contains only one class: {classes[0]!r}."
                )
            self.classes_inferred_ = classes
        y_enc = np.searchsorted(classes, y).astype(np.int64)
        mask = check_trusted_mask(trusted, len(y))
        return X, y_enc, mask

    def _prepare_training(self, X, y_enc, mask):
        """Hook run inside the seeded context before the network is trained.

        Subclasses estimate or check T here. The base does nothing.
        """

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch for the duration of fit, restoring the global RNG after."""
        seed = _seed_from(self.random_state)
        if seed is None:
            yield None
            return
        devices = []
        if str(self.device).startswith("cuda") and torch.cuda.is_available():
            devices = [torch.device(self.device).index or torch.cuda.current_device()]
        with torch.random.fork_rng(devices=devices):
            torch.default_generator.manual_seed(seed)
            for index in devices:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            yield seed

    def _plain_net_params(self):
        """This net's skorch parameters minus the correction-specific ones."""
        params = self.get_params(deep=False)
        for name in list(params):
            if name in self._correction_params or name == "criterion" or name.startswith("criterion__"):
                del params[name]
        return params

    def _make_plain_net(self, random_state=None, early_stopping=True):
        """A fresh, unfitted plain cross-entropy net with this net's settings.

        Used for stage 1 of the two-stage recipes (Patrini, GLC). A net
        trained to zero loss on noisy labels gives near one-hot probabilities
        and T estimates collapse towards the identity, so by default stage 1
        keeps the epoch with the best held-out *noisy* loss (Patrini et al.
        took that checkpoint): a stratified 20% validation split and
        skorch's ``EarlyStopping(load_best=True)``.
        """
        params = self._plain_net_params()
        # A mixin's own parameters (e.g. skorch's AccelerateMixin.accelerator)
        # mean nothing to the plain net; skorch would refuse them.
        accepted = _PLAIN_NET_PARAMS
        params = {key: value for key, value in params.items() if "__" in key or key in accepted}
        params["random_state"] = random_state
        if early_stopping:
            params["train_split"] = _NoisyHoldout(0.2, random_state=random_state)
            params["callbacks"] = list(params.get("callbacks") or []) + [
                ("stage1_early_stopping", _BestValidLoss(monitor="valid_loss", patience=5, load_best=True)),
            ]
        module = params.pop("module")
        return clone(CrossEntropyClassifier(module, **params), safe=False)

    def _check_transition_matrix(self, T):
        return check_transition_matrix(T, len(self.classes_))


_PLAIN_NET_PARAMS = frozenset(
    name
    for cls in (CrossEntropyClassifier, NeuralNetClassifier, NeuralNet)
    for name in inspect.signature(cls.__init__).parameters
    if name not in ("self", "args", "kwargs")
)


def _softmax(logits):
    return torch.softmax(logits, dim=-1)
