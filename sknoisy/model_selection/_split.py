"""Splitters that keep noisy labels out of what is scored.

* :class:`TrustedKFold`: cross-validation whose test folds are trusted rows;
* :class:`TrustedValidSplit`: a skorch ``train_split`` validating on trusted
  rows only;
* :class:`NoisyHoldout`: the stratified hold-out of noisy rows on which
  stage-1 nets pick their best epoch.

The skorch splits are used by the classifiers themselves, so this module
depends on nothing above ``sknoisy.utils`` and the target table: the
classifiers import it without a cycle.
"""

import numbers

import numpy as np
import torch
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold, StratifiedShuffleSplit
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils.multiclass import type_of_target
from skorch.utils import to_numpy

from .._targets import split_target_table
from ..utils._rows import n_rows, take_rows
from ..utils._validation import check_trusted_mask

__all__ = ["TrustedKFold", "TrustedValidSplit", "NoisyHoldout", "ROUTING_HINT"]

#: How to get the trusted mask to a splitter or scorer inside scikit-learn's meta-estimators.
ROUTING_HINT = (
    "inside GridSearchCV, cross_validate or a Pipeline, enable metadata routing "
    "(sklearn.set_config(enable_metadata_routing=True)) and pass fit(X, y, trusted=mask)"
)


class TrustedKFold(BaseCrossValidator):
    """K-fold cross-validation whose test folds hold only trusted rows.

    The trusted rows are split into ``n_splits`` folds (stratified by their
    labels when ``y`` is a classification target and a class has at least
    ``n_splits`` trusted rows; plain K-fold otherwise). Each test fold is one
    fold of trusted rows; its training set is every other row: all the
    untrusted rows plus the trusted rows of the other folds. So every
    trusted row is tested exactly once and no noisy label is ever scored.

    ``trusted`` is requested through metadata routing for ``split``, so
    ``GridSearchCV(..., cv=TrustedKFold()).fit(X, y, trusted=mask)`` hands
    it over when ``sklearn.set_config(enable_metadata_routing=True)``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; at least 2, and at most the number of trusted rows.
    shuffle : bool, default=False
        Whether to shuffle the trusted rows before splitting them.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling; only allowed with ``shuffle=True``.

    See Also
    --------
    trusted_scorer : Scores only the trusted rows of a set.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.model_selection import TrustedKFold
    >>> X = np.zeros((8, 2))
    >>> y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> trusted = np.array([True, True, True, True, False, False, False, False])
    >>> for train, test in TrustedKFold(2).split(X, y, trusted=trusted):
    ...     print(train, test)
    [2 3 4 5 6 7] [0 1]
    [0 1 4 5 6 7] [2 3]
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED, "trusted": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral):
            raise TypeError(f"n_splits must be an integer >= 2, got {n_splits!r} of type {type(n_splits).__name__}.")
        if n_splits < 2:
            raise ValueError(f"TrustedKFold needs n_splits >= 2, got n_splits={n_splits}.")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False; "
                "set shuffle=True or leave random_state=None."
            )
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None, trusted=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups, trusted : object
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y=None, groups=None, trusted=None):
        """Generate (train, test) indices; test indices are trusted rows only.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or torch Dataset
            Only its length is used.
        y : array-like of shape (n_samples,), default=None
            Labels; the trusted rows are stratified by them when possible.
        groups : object
            Ignored.
        trusted : array-like of bool of shape (n_samples,)
            The trusted (clean) rows. Required.

        Yields
        ------
        train : ndarray of int
            Every row not in the test fold (untrusted rows included).
        test : ndarray of int
            One fold of the trusted rows.
        """
        if trusted is None:
            raise ValueError(
                "TrustedKFold needs the trusted mask: call split(X, y, trusted=mask); " + ROUTING_HINT + "."
            )
        n_samples = n_rows(X)
        mask = check_trusted_mask(trusted, n_samples)
        trusted_idx = np.flatnonzero(mask)
        if trusted_idx.size < self.n_splits:
            raise ValueError(
                f"TrustedKFold(n_splits={self.n_splits}) needs at least {self.n_splits} trusted rows, "
                f"but the data has {trusted_idx.size}."
            )
        y_trusted = None if y is None else np.asarray(y)[trusted_idx]
        for _, test_local in self._local_splitter(y_trusted).split(trusted_idx, y_trusted):
            test = trusted_idx[test_local]
            in_test = np.zeros(n_samples, dtype=bool)
            in_test[test] = True
            yield np.flatnonzero(~in_test), test

    def _local_splitter(self, y_trusted):
        """The K-fold splitter of the trusted rows: stratified when it can be."""
        kwargs = {"n_splits": self.n_splits, "shuffle": self.shuffle, "random_state": self.random_state}
        if y_trusted is not None and type_of_target(y_trusted) in ("binary", "multiclass"):
            _, counts = np.unique(y_trusted, return_counts=True)
            # StratifiedKFold refuses only when no class has n_splits rows;
            # otherwise it warns about the small classes, which is worth seeing.
            if counts.max() >= self.n_splits:
                return StratifiedKFold(**kwargs)
        return KFold(**kwargs)


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
    >>> from sknoisy.model_selection import TrustedValidSplit
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
        labels, trusted = split_target_table(np.asarray(to_numpy(y)))
        trusted_idx = np.flatnonzero(trusted)
        if trusted_idx.size == 0:
            return dataset, None
        if self.random_state is None:
            order = trusted_idx[torch.randperm(trusted_idx.size).numpy()]
        else:
            order = check_random_state(self.random_state).permutation(trusted_idx)
        order_labels = labels[order]
        valid = []
        for label in np.unique(order_labels):
            members = order[order_labels == label]
            if members.size >= 2:
                n_valid = min(max(1, int(round(self.fraction * members.size))), members.size - 1)
                valid.append(members[:n_valid])
        if not valid:
            return dataset, None
        valid_idx = np.sort(np.concatenate(valid))
        train_idx = np.setdiff1d(np.arange(len(labels)), valid_idx)
        return take_rows(dataset, train_idx), take_rows(dataset, valid_idx)

    def __repr__(self):
        return f"TrustedValidSplit(fraction={self.fraction!r}, random_state={self.random_state!r})"


class NoisyHoldout:
    """skorch ``train_split``: a stratified hold-out of ``fraction`` of the (noisy) rows.

    Stage-1 nets keep the epoch of best loss on it (Patrini et al.'s
    checkpoint: a net trained to zero noisy loss gives near one-hot
    probabilities and T estimates collapse towards the identity). When the
    data are too small to stratify there is no hold-out.

    Parameters
    ----------
    fraction : float in (0, 1), default=0.2
        Share of the rows held out.
    random_state : int or None, default=None
        Seed of the split; None draws one from torch's RNG, which the net
        seeds with its own ``random_state`` during ``fit``.
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
        return take_rows(dataset, train_idx), take_rows(dataset, valid_idx)

    def __repr__(self):
        return f"NoisyHoldout(fraction={self.fraction!r}, random_state={self.random_state!r})"
