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
10 trusted images per class. We compare it with plain cross-entropy and look
at the learned ``T`` next to the true one.
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
# image. Both networks see the same rows; MLC uses the trusted rows only to
# steer ``T`` and starts from the identity, i.e. from "no noise".
net = dict(max_epochs=epochs, lr=1e-3, batch_size=64, random_state=0)
ce = CrossEntropyClassifier(SmallCNN, **net).fit(X_train, y_noisy, trusted=trusted)
mlc = MetaLossCorrectionClassifier(SmallCNN, **net).fit(X_train, y_noisy, trusted=trusted)
print(f"test accuracy, plain cross-entropy: {ce.score(X_test, y_test):.3f}")
print(f"test accuracy, MLC:                 {mlc.score(X_test, y_test):.3f}")

# %%
# The learned transition matrix
# -----------------------------
# Each row of ``T`` tells where the labels of one clean digit went. MLC
# finds the flips from the trusted images alone; the title gives the mean
# row L1 distance to the true matrix.
fig = plot_transition_matrices(T_true, mlc.transition_matrix_, titles=("true T", "T learned by MLC"))
plt.show()

# %%
# How ``T`` moved during training
# -------------------------------
# The history records ``T`` at the end of every epoch; its distance to the
# true ``T`` shrinks as training goes on.
errors = [transition_matrix_error(T_epoch, T_true) for T_epoch in mlc.history[:, "transition_matrix"]]
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(np.arange(1, len(errors) + 1), errors, marker="o")
ax.axhline(transition_matrix_error(np.eye(10), T_true), color="grey", linestyle="--", label="identity (start)")
ax.set_xlabel("epoch")
ax.set_ylabel("T error (mean row L1)")
ax.set_ylim(bottom=0)
ax.legend()
plt.show()
