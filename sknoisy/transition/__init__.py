"""Estimating the noise transition matrix ``T``, and measuring an estimate.

Convention (the whole package): ``T[i, j] = p(noisy = j | clean = i)``, rows
sum to one, and the forward model is ``p_noisy(x) = p_clean(x) @ T``.

One concept a module:

* ``_estimates``: plain, vectorised functions that take an array of
  probabilities ``proba`` of shape ``(n_samples, n_classes)`` (for example
  out-of-fold ``predict_proba`` of a classifier trained on the noisy labels)
  and return an estimate ``T_hat``: :func:`estimate_anchor` (Patrini et al.
  2017), :func:`estimate_gold` (GLC, Hendrycks et al. 2018),
  :func:`estimate_confusion` (GLC's baseline), :func:`estimate_dual_t` (Yao
  et al. 2020), :func:`estimate_confident_joint` (Northcutt et al. 2021);
  and :func:`denoise_proba`, the plug-in inverse of the forward model;
* ``_registry``: :data:`TRANSITION_METHODS`, the one list of methods (name,
  whether it needs trusted rows, a summary, the estimate) that the
  transformer, the classifiers, the docs and the CLI read, and
  :data:`DEFAULT_TRANSITION_METHOD`, the method used when none is named;
* ``_estimator``: :class:`TransitionMatrixEstimator`, a scikit-learn
  transformer that computes the out-of-fold probabilities itself, estimates
  ``T`` with a registered method and transforms ``X`` into denoised class
  probabilities;
* ``_metrics``: :func:`transition_matrix_error` and the converters to and
  from cleanlab's ``noise_matrix`` (:func:`to_cleanlab_noise_matrix`,
  :func:`from_cleanlab_noise_matrix`);
* ``_checks``: :func:`check_informative`, which refuses a ``T`` whose rows
  are (nearly) identical (the noisy labels then say nothing about the clean
  class), and :func:`row_separation`, the distance it measures.
"""

from . import _checks, _estimates, _estimator, _metrics, _registry
from ._checks import UninformativeTransitionWarning, check_informative, row_separation
from ._estimates import (
    denoise_proba,
    estimate_anchor,
    estimate_confident_joint,
    estimate_confusion,
    estimate_dual_t,
    estimate_gold,
)
from ._estimator import TransitionMatrixEstimator
from ._metrics import from_cleanlab_noise_matrix, to_cleanlab_noise_matrix, transition_matrix_error
from ._registry import DEFAULT_TRANSITION_METHOD, TRANSITION_METHODS, TransitionMethod

__all__ = [*_estimates.__all__, *_checks.__all__, *_registry.__all__, *_estimator.__all__, *_metrics.__all__]
