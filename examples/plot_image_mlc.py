"""
=====================================================
Meta Loss Correction: a CNN learns T from 100 images
=====================================================

Meta Loss Correction (MLC, Wang, Hu and Hu, CVPR 2020) trains a network with
the forward-corrected loss on noisy labels and *learns* the transition
matrix ``T[i, j] = p(noisy = j | clean = i)`` along the way: at every step it
moves ``T`` in the direction that makes a virtual update of the network
better on a small trusted set.

Here a small CNN learns scikit-learn's 8x8 digits, 40% of whose training
labels were flipped to one other digit per class ("flip-to-one" noise), with
10 trusted images per class. We compare it with plain cross-entropy, look at
the learned ``T`` next to the true one, and at how ``T`` moves from where it
starts: by default from an estimate made from the noisy labels alone, or, as
in the authors' code, from the identity.
"""

# %%
# Noisy digits and a trusted subset
# ---------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sknoisy import (
    CrossEntropyClassifier,
    MetaLossCorrectionClassifier,
    corrupt_labels,
    load_digits_images,
    make_transition_matrix,
    transition_matrix_error,
)
from sknoisy.modules import SmallCNN
from sknoisy.plotting import plot_transition_matrices

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
epochs = 2 if QUICK else 30

X, y = load_digits_images()
if QUICK:
    X, y = X[:400], y[:400]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)

rng = np.random.RandomState(0)
T_true = make_transition_matrix("flip_to_one", 10, 0.4, random_state=0)
trusted = np.zeros(len(y_train), dtype=bool)
for digit in range(10):
    trusted[rng.permutation(np.flatnonzero(y_train == digit))[:10]] = True
y_noisy = y_train.copy()
y_noisy[~trusted] = corrupt_labels(y_train[~trusted], T_true, classes=np.arange(10), random_state=rng)
print(f"{trusted.sum()} trusted images; {np.mean(y_noisy != y_train):.0%} of the training labels are wrong")

# %%
# Plain cross-entropy against MLC
# -------------------------------
# :class:`~sknoisy.modules.SmallCNN` reads the 64 pixels of a row as an 8x8
# image. Both networks see the same rows. By default MLC starts ``T`` from the
# confident joint's estimate (out-of-fold probabilities of a plain network on
# the noisy labels; no trusted row needed), trains two epochs with plain
# cross-entropy, then trains on the trusted rows too and lets them steer ``T``
# with small meta steps: on the library's benchmarks larger ones moved even
# the true ``T`` away from the truth (``benchmarks/results/mlc_start.md``).
net = dict(max_epochs=epochs, lr=1e-3, batch_size=64, random_state=0)
ce = CrossEntropyClassifier(SmallCNN, **net).fit(X_train, y_noisy, trusted=trusted)
mlc = MetaLossCorrectionClassifier(SmallCNN, true_transition_matrix=T_true, **net)
mlc.fit(X_train, y_noisy, trusted=trusted)
print(f"test accuracy, plain cross-entropy: {ce.score(X_test, y_test):.3f}")
print(f"test accuracy, MLC:                 {mlc.score(X_test, y_test):.3f}")

# %%
# The learned transition matrix
# -----------------------------
# Each row of ``T`` tells where the labels of one clean digit went; the
# title gives the mean row L1 distance to the true matrix.
fig = plot_transition_matrices(T_true, mlc.transition_matrix_, titles=("true T", "T learned by MLC"))
plt.show()

# %%
# How ``T`` moved during training
# -------------------------------
# With ``true_transition_matrix`` (for monitoring only, never used to train)
# the history records the distance of ``T`` to the truth after every epoch.
# From the identity (``transition_matrix='identity'``, the authors' start)
# MLC has to learn the flips from the trusted images alone; it gets closer,
# but slowly, while the network trains with a poor ``T`` meanwhile.
from_identity = MetaLossCorrectionClassifier(
    SmallCNN, transition_matrix="identity", meta_lr=0.25, true_transition_matrix=T_true, **net
).fit(X_train, y_noisy, trusted=trusted)
print(f"test accuracy, MLC from the identity: {from_identity.score(X_test, y_test):.3f}")
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
for model, label in ((mlc, "default start (confident joint)"), (from_identity, "identity start, meta_lr 0.25")):
    errors = model.history[:, "transition_matrix_error"]
    ax.plot(np.arange(1, len(errors) + 1), errors, marker="o", label=label)
ax.axhline(transition_matrix_error(np.eye(10), T_true), color="grey", linestyle="--", label="identity")
ax.set_xlabel("epoch")
ax.set_ylabel("T error (mean row L1)")
ax.set_ylim(bottom=0)
ax.legend()
plt.show()
