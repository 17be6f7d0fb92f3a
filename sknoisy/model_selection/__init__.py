"""Model selection that never scores a model on labels it cannot trust.

With noisy labels, a cross-validation score computed on noisy test labels
rewards a model for fitting the noise. This package offers:

* :class:`TrustedKFold`: a splitter whose test folds hold only trusted rows
  (the training folds hold every other row, noisy and trusted);
* :func:`trusted_scorer`: a scorer that scores only the trusted rows of the
  set it is given;
* :func:`forward_corrected_log_loss_scorer`: for the case with no trusted
  rows at all, the log-loss of the *noisy* labels under the model's clean
  probabilities pushed through ``T`` (``p_noisy = p_clean @ T``), with
  :func:`noisy_accuracy_scorer` and :func:`noise_corrected_accuracy_scorer`;
* :class:`TrustedValidSplit`: a skorch ``train_split`` validating on trusted
  rows (also importable from ``sknoisy``).

The trusted mask reaches the splitter and the scorer through scikit-learn's
metadata routing::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    clf = GLCClassifier(MLP).set_fit_request(trusted=True)
    grid = GridSearchCV(clf, {"lr": [1e-3, 1e-2]}, cv=TrustedKFold(5),
                        scoring=trusted_scorer("accuracy"))
    grid.fit(X, y, trusted=mask)

Layering: the classifiers import :mod:`._split` for their skorch splits, so
no module of this package may import a classifier (``sknoisy.base`` and the
modules built on it); the splitters and scorers work through the estimator
API alone.
"""

from ._scorers import (
    forward_corrected_log_loss_scorer,
    noise_corrected_accuracy_scorer,
    noisy_accuracy_scorer,
    trusted_scorer,
)
from ._split import TrustedKFold, TrustedValidSplit

__all__ = [
    "TrustedKFold",
    "trusted_scorer",
    "forward_corrected_log_loss_scorer",
    "noisy_accuracy_scorer",
    "noise_corrected_accuracy_scorer",
    "TrustedValidSplit",
]
