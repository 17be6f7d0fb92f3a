"""
=====================================================
Estimating the transition matrix T of noisy labels
=====================================================

:class:`~sknoisy.TransitionMatrixEstimator` estimates
``T[i, j] = p(noisy = j | clean = i)`` from the out-of-fold probabilities of
any scikit-learn classifier trained on the noisy labels. It is a transformer:
``transform`` returns the *denoised* class probabilities, so it sits in a
``Pipeline`` like any other step and speaks pandas with ``set_output``.

We first use it in a pipeline, then compare its five methods:

* ``'confident_joint'`` (Northcutt et al. 2021, the default), ``'anchor'``
  (Patrini et al. 2017) and ``'dual_t'`` (Yao et al. 2020) need nothing but
  the noisy labels;
* ``'gold'`` (Hendrycks et al. 2018) and ``'confusion'`` use a small set of
  trusted rows whose labels are known to be correct.
"""

# %%
# A problem with known noise
# --------------------------
# Four Gaussian blobs, whose class probabilities a logistic regression
# models exactly, so that what we see below is the estimators' doing. 30% of
# each class's labels are flipped to one other class.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoisy import TransitionMatrixEstimator, corrupt_labels, make_transition_matrix, transition_matrix_error
from sknoisy.plotting import plot_transition_matrices

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
n_samples = 600 if QUICK else 6000

X, y_clean = make_blobs(n_samples, n_features=5, centers=4, cluster_std=2.0, random_state=0)
T_true = make_transition_matrix("flip_to_one", 4, 0.3, random_state=0)
y_noisy = corrupt_labels(y_clean, T_true, random_state=0)
X_train, X_test, y_train_noisy, _, y_train_clean, y_test = train_test_split(
    X, y_noisy, y_clean, test_size=0.3, random_state=0
)
print("true T:")
print(T_true.round(2))

# %%
# In a Pipeline, with pandas output
# ---------------------------------
# The pipeline scales the features, then estimates ``T`` from 3-fold
# out-of-fold probabilities of a logistic regression. ``transform`` gives
# ``p(clean class | x)``, one column ``proba_<class>`` per class.
pipe = make_pipeline(
    StandardScaler(), TransitionMatrixEstimator(LogisticRegression(max_iter=1000), random_state=0)
).set_output(transform="pandas")
pipe.fit(X_train, y_train_noisy)
tme = pipe[-1]
print(f"T error of the default (confident joint) estimate: {transition_matrix_error(tme.transition_matrix_, T_true):.3f}")
denoised = pipe.transform(X_test)
print(denoised.head().round(3))

# %%
# The denoised probabilities are closer to the clean labels than the
# probabilities of the noisy labels (the same logistic regression,
# uncorrected), both in log-loss and, through their argmax, in accuracy:
noisy_proba = tme.estimator_.predict_proba(pipe[:-1].transform(X_test).to_numpy())
clean_proba = denoised.to_numpy()
for name, proba in [("noisy-label probabilities", noisy_proba), ("denoised with T", clean_proba)]:
    accuracy = np.mean(proba.argmax(axis=1) == y_test)
    print(f"{name:26s} accuracy {accuracy:.3f}  log-loss {log_loss(y_test, proba, labels=range(4)):.3f}")

# %%
# Four ways to estimate T
# -----------------------
# We now mark 5% of the training rows as trusted (their labels are the clean
# ones) and fit each method. The trusted mask is routed through the pipeline
# by metadata routing.
rng = np.random.RandomState(0)
trusted = rng.rand(len(y_train_clean)) < 0.05
y_train = np.where(trusted, y_train_clean, y_train_noisy)

estimates = {}
with sklearn.config_context(enable_metadata_routing=True):
    for method in ["confident_joint", "anchor", "dual_t", "gold", "confusion"]:
        step = TransitionMatrixEstimator(LogisticRegression(max_iter=1000), method=method, random_state=0)
        pipe = make_pipeline(StandardScaler(), step.set_fit_request(trusted=True))
        estimates[method] = pipe.fit(X_train, y_train, trusted=trusted)[-1].transition_matrix_

errors = pd.Series({m: transition_matrix_error(T_hat, T_true) for m, T_hat in estimates.items()}, name="T error")
print(errors.round(3).to_string())

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
errors.plot.bar(ax=ax, rot=20, color="C0")
ax.set_ylabel("mean row L1 error of T")
ax.set_title(f"{trusted.sum()} trusted rows of {len(y_train)}")
plt.show()

# %%
# The best estimate next to the truth:
best = errors.idxmin()
plot_transition_matrices(T_true, estimates[best], titles=("true T", f"'{best}' estimate"))
plt.show()
