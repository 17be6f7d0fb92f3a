"""
=====================================================
Massive label noise: many wrong labels per right one
=====================================================

Rolnick, Veit, Belongie and Shavit (2017), "Deep learning is robust to
massive label noise", kept every clean training example and *added*
``alpha`` copies of it with uniformly random labels. With ``alpha = 20`` only
one label in 21 (plus the random copies that happen to be right) is correct,
and yet plain cross-entropy still learns: on average the correct label keeps
the plurality. They also found that larger batches help, as they average
out the noise of each gradient step.

:func:`~sknoisy.add_noisy_copies` builds that data; we train the same
network with plain cross-entropy for several ``alpha`` and two batch sizes.
"""

# %%
# Diluting the digits
# -------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sknoisy import CrossEntropyClassifier, add_noisy_copies, load_digits_images
from sknoisy.modules import MLP
from sknoisy.plotting import plot_accuracy_vs_noise

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
alphas = [0, 2] if QUICK else [0, 5, 10, 20]
batch_sizes = [128] if QUICK else [32, 256]
epochs = 2 if QUICK else 15

X, y = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

X_aug, y_aug, is_clean = add_noisy_copies(X_train, y_train, 5, random_state=0)
# A random label is right one time in ten, so about (1 + 5 / 10) / (1 + 5) of the labels are correct.
print(f"alpha=5: {len(y_aug)} training rows, {is_clean.sum()} of them the clean originals; "
      f"about {(1 + 5 / 10) / (1 + 5):.0%} of the labels are correct")

# %%
# Training with plain cross-entropy
# ---------------------------------
# The number of epochs is fixed, so a larger ``alpha`` also means more
# gradient steps on more (mostly wrong) labels.
results = []
for alpha in alphas:
    X_aug, y_aug, _ = add_noisy_copies(X_train, y_train, alpha, random_state=0)
    for batch_size in batch_sizes:
        clf = CrossEntropyClassifier(
            MLP, module__hidden_units=(256,), max_epochs=epochs, lr=1e-3, batch_size=batch_size, random_state=0
        ).fit(X_aug, y_aug)
        accuracy = clf.score(X_test, y_test)
        results.append({"batch size": batch_size, "alpha": alpha, "accuracy": accuracy})
        print(f"alpha {alpha:2d}, batch size {batch_size:3d}: test accuracy {accuracy:.3f}")

# %%
# Accuracy against alpha
# ----------------------
# With ``alpha = 20`` about 86% of the training labels are wrong, and the
# network is still far above chance (10%). The larger batch holds up better
# as ``alpha`` grows, as Rolnick et al. observed. The degradation is faster
# than in the paper: 1,257 clean digits are far fewer than MNIST's 60,000.
ax = plot_accuracy_vs_noise(results, x="alpha", y="accuracy", hue="batch size")
ax.set_xlabel("alpha: noisy copies per clean example")
ax.set_ylabel("test accuracy (clean labels)")
ax.set_ylim(0, 1)
ax.set_title("Digits, MLP, cross-entropy on diluted data")
plt.show()
