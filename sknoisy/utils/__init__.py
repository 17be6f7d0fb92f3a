"""Helpers shared by sknoisy's modules, and tools for testing estimators.

* :mod:`sknoisy.utils.estimator_checks` (public): checks of the contracts of
  an estimator of noisy labels that scikit-learn's checks cannot see;
* the private modules: input validation, row selection for any X, seeding,
  and ``_testing`` (the public estimators with fast settings, for test suites).

Nothing is imported here, so ``import sknoisy`` does not load the checks.
"""
