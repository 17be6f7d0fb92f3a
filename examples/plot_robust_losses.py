"""
================================================
Robust losses under symmetric label noise
================================================

Cross-entropy rewards a network for fitting every label, wrong ones
included: given enough epochs it memorises the noise. *Robust* losses bound
what a wrong label can cost. :class:`~sknoisy.RobustLossClassifier` trains
with one chosen by name, with no transition matrix and no trusted rows:

* ``'gce'``: generalised cross-entropy (Zhang and Sabuncu, NeurIPS 2018);
* ``'sce'``: symmetric cross-entropy, CE + reverse CE (Wang et al., ICCV 2019);
* ``'nce+rce'``: the Active Passive Loss of Ma et al. (ICML 2020), a
  normalised cross-entropy plus reverse cross-entropy.

We train each, and plain cross-entropy, on the 8x8 digits with a growing
share of labels flipped uniformly to another class ("symmetric" noise), and
measure accuracy on clean test labels.
"""

# %%
# The experiment
# --------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sknoisy import RobustLossClassifier, corrupt_labels, load_digits_images, make_transition_matrix
from sknoisy.modules import MLP
from sknoisy.plotting import plot_accuracy_vs_noise

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
rates = [0.0, 0.5] if QUICK else [0.0, 0.2, 0.4, 0.6]
losses = ["ce", "nce+rce"] if QUICK else ["ce", "gce", "sce", "nce+rce"]
epochs = 2 if QUICK else 40

X, y = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

results = []
for rate in rates:
    T = make_transition_matrix("symmetric", 10, rate)
    y_noisy = corrupt_labels(y_train, T, random_state=0)
    for loss in losses:
        clf = RobustLossClassifier(
            MLP, loss=loss, module__hidden_units=(256,), max_epochs=epochs, lr=1e-3, batch_size=64, random_state=0
        ).fit(X_train, y_noisy)
        results.append({"method": loss, "rate": rate, "accuracy": clf.score(X_test, y_test)})
        print(f"rate {rate:.1f}  {loss:8s} test accuracy {results[-1]['accuracy']:.3f}")

# %%
# Accuracy against the noise rate
# -------------------------------
# With clean labels every loss does about as well. As the noise grows,
# cross-entropy falls behind: the robust losses keep most of their accuracy.
ax = plot_accuracy_vs_noise(results, x="rate", y="accuracy", hue="method")
ax.set_xlabel("symmetric noise rate (share of training labels flipped)")
ax.set_ylabel("test accuracy (clean labels)")
ax.set_title("Digits, MLP: cross-entropy against robust losses")
plt.show()
