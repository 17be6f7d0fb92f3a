"""sknoisy: neural-network classifiers robust to noisy labels, the scikit-learn way.

Convention everywhere: ``T[i, j] = p(noisy = j | clean = i)`` (rows sum to 1).

The data-set loaders and the optional submodules (``datasets``, ``plotting``,
``cli``) are imported on first use, so ``import sknoisy`` costs little more
than importing skorch; ``from sknoisy import load_digits_images`` works as usual.
"""

import importlib
import types

from ._auto import AutoNoisyClassifier
from ._classifier_registry import CLASSIFIER_METHODS, ClassifierMethod
from ._coteaching import CoTeachingClassifier
from ._dividemix import DivideMixClassifier
from ._elr import EarlyLearningClassifier
from ._glc import GLCClassifier
from ._instance_forward import InstanceForwardClassifier
from ._loss_correction import BackwardCorrectedClassifier, ForwardCorrectedClassifier
from ._meta import MetaLossCorrectionClassifier
from ._robust import RobustLossClassifier
from ._trusted import TrustedOnlyClassifier, TrustedTeacherClassifier
from ._trusted_blend import TrustedBlendClassifier
from .base import CrossEntropyClassifier, TrustedValidSplit
from .noise import (
    CIFAR10_ASYMMETRIC,
    INSTANCE_NOISE_KINDS,
    MNIST_ASYMMETRIC,
    NOISE_KINDS,
    add_noisy_copies,
    annotator_noise,
    corrupt_labels,
    empirical_transition_matrix,
    instance_dependent_noise,
    make_noisy_classification,
    make_transition_matrix,
)
from .model_selection import TrustedKFold, forward_corrected_log_loss_scorer, trusted_scorer
from .transition import (
    TransitionMatrixEstimator,
    from_cleanlab_noise_matrix,
    to_cleanlab_noise_matrix,
    transition_matrix_error,
)
from .label_issues import (
    find_label_issues,
    label_issue_scores,
    label_issue_scores_from_noisy,
    out_of_fold_label_issues,
    rank_label_issues,
)
from .persistence import load_model, save_model
from .utils._validation import check_transition_matrix
from ._version import __version__


# name -> submodule that defines it, imported on first access (PEP 562)
_LAZY = dict.fromkeys(
    ["CIFAR10_CLASSES", "load_digits_images", "load_mnist_subset", "make_mnist1d", "load_mnist_idx",
     "load_cifar10_batches"],
    "datasets",
)
_LAZY_SUBMODULES = ("datasets", "plotting", "cli")

# The public API is every name imported above plus the lazy ones: the import
# lines are the one list to keep up to date.
__all__ = [
    name for name, value in globals().items() if not name.startswith("_") and not isinstance(value, types.ModuleType)
] + list(_LAZY)


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later look-ups are plain attribute reads
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__, *_LAZY_SUBMODULES})
