"""sknoisy: neural-network classifiers robust to noisy labels, the scikit-learn way.

Convention everywhere: ``T[i, j] = p(noisy = j | clean = i)`` (rows sum to 1).
"""

from ._glc import GLCClassifier
from ._loss_correction import BackwardCorrectedClassifier, ForwardCorrectedClassifier
from ._meta import MetaLossCorrectionClassifier
from ._robust import RobustLossClassifier
from .base import CrossEntropyClassifier, TrustedValidSplit
from .datasets import (
    CIFAR10_CLASSES,
    load_cifar10_batches,
    load_digits_images,
    load_mnist_idx,
    load_mnist_subset,
    make_mnist1d,
)
from .noise import (
    CIFAR10_ASYMMETRIC,
    MNIST_ASYMMETRIC,
    NOISE_KINDS,
    add_noisy_copies,
    corrupt_labels,
    empirical_transition_matrix,
    from_cleanlab_noise_matrix,
    make_noisy_classification,
    make_transition_matrix,
    to_cleanlab_noise_matrix,
    transition_matrix_error,
)
from .model_selection import TrustedKFold, forward_corrected_log_loss_scorer, trusted_scorer
from .transition import TransitionMatrixEstimator
from .utils._validation import check_transition_matrix

__version__ = "0.1.0.dev0"

__all__ = [
    # classifiers
    "CrossEntropyClassifier",
    "ForwardCorrectedClassifier",
    "BackwardCorrectedClassifier",
    "GLCClassifier",
    "MetaLossCorrectionClassifier",
    "RobustLossClassifier",
    # transition matrices
    "TransitionMatrixEstimator",
    "check_transition_matrix",
    "transition_matrix_error",
    "to_cleanlab_noise_matrix",
    "from_cleanlab_noise_matrix",
    "empirical_transition_matrix",
    # noise
    "NOISE_KINDS",
    "MNIST_ASYMMETRIC",
    "CIFAR10_ASYMMETRIC",
    "make_transition_matrix",
    "corrupt_labels",
    "add_noisy_copies",
    "make_noisy_classification",
    # data
    "CIFAR10_CLASSES",
    "load_digits_images",
    "load_mnist_subset",
    "make_mnist1d",
    "load_mnist_idx",
    "load_cifar10_batches",
    # model selection
    "TrustedKFold",
    "TrustedValidSplit",
    "trusted_scorer",
    "forward_corrected_log_loss_scorer",
]
