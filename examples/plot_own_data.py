"""
==================================================================
Your own noisy labels: choose a method, find wrong labels, save it
==================================================================

The situation sknoisy is built for: labels that are already noisy, a few
rows that someone checked by hand, and three questions. Which correction
method should I train? Which of my labels are wrong? How do I keep the model?

This is the Python route of the ``sknoisy fit``, ``sknoisy issues`` and
``sknoisy predict`` commands:

* :class:`~sknoisy.AutoNoisyClassifier` tries the applicable methods and
  scores them by cross-validation on the checked rows only, then refits the
  best;
* :func:`~sknoisy.out_of_fold_label_issues` gives every row the probability
  that its label is wrong, from networks that did not train on it;
* :func:`~sknoisy.save_model` writes a folder (a readable JSON manifest and
  the weights) that :func:`~sknoisy.load_model` reads back without pickle.

Here the labels are corrupted on purpose, so that we can check the answers
against the truth; with your own data you only have the noisy labels.
"""

# %%
# Noisy labels and a few checked rows
# -----------------------------------
# 35% of each class's labels are moved to one other class ("flip-to-one"
# noise). A random 10% of the training rows were checked: they carry their
# true label and are marked ``trusted``. The test labels stay clean, to
# score the models at the end.
import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sknoisy import (
    AutoNoisyClassifier,
    ForwardCorrectedClassifier,
    load_model,
    make_noisy_classification,
    out_of_fold_label_issues,
    save_model,
)
from sknoisy.modules import MLP

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
n_samples, epochs, n_splits = (600, 3, 2) if QUICK else (4000, 20, 3)

X, y_noisy, y_clean, T_true = make_noisy_classification(
    n_samples, n_features=20, n_classes=5, n_informative=10, n_clusters_per_class=1,
    noise="flip_to_one", rate=0.35, random_state=0,
)
X_train, X_test, y_train_noisy, _, y_train_clean, y_test = train_test_split(
    X, y_noisy, y_clean, test_size=0.25, stratify=y_clean, random_state=0
)
rng = np.random.RandomState(0)
trusted = rng.rand(len(y_train_clean)) < 0.10
y_train = np.where(trusted, y_train_clean, y_train_noisy)  # what a user has
wrong = y_train != y_train_clean                           # what a user does not know
print(f"{len(y_train)} training rows, {trusted.sum()} checked; {wrong.mean():.0%} of the labels are wrong")

# %%
# Let the data choose the method
# ------------------------------
# Every method trains the same network with the same seed; the test folds of
# the cross-validation hold checked rows only, so a method is never rewarded
# for reproducing wrong labels. GLC and MLC are tried because there are
# checked rows of every class.
auto = AutoNoisyClassifier(MLP, max_epochs=epochs, cv=n_splits, random_state=0)
auto.fit(X_train, y_train, trusted=trusted)
print(auto.summary())
print(f"\nchosen: {auto.best_method_}; accuracy on the clean test labels: {auto.score(X_test, y_test):.3f}")

results = auto.cv_results_
order = np.argsort(results["rank_test_score"], kind="stable")
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.barh(
    [results["param_method"][i] for i in order][::-1],
    [results["mean_test_score"][i] for i in order][::-1],
    xerr=[results["std_test_score"][i] for i in order][::-1],
    color=["tab:green" if results["param_method"][i] == auto.best_method_ else "tab:gray" for i in order][::-1],
)
ax.set_xlabel(f"{n_splits}-fold accuracy on checked rows")
ax.set_xlim(0, 1)
ax.set_title("What AutoNoisyClassifier tried")
plt.show()

# %%
# Which labels are wrong?
# -----------------------
# The label-issue score of a row is ``1 - p(true class = given label | x,
# given label)``, with ``p(true class = i | x, given = j)`` proportional to
# ``p(true class = i | x) T[i, j]``. The probabilities come from networks
# trained on the other folds: a network that memorised a wrong label would
# vouch for it. We use the chosen method when it models the noise (it has a
# transition matrix), and forward correction otherwise.
chosen = auto.best_estimator_
scorer = chosen if hasattr(chosen, "transition_matrix_") else ForwardCorrectedClassifier(
    MLP, max_epochs=epochs, random_state=0
)
issues = out_of_fold_label_issues(scorer, X_train, y_train, trusted=trusted, cv=n_splits, random_state=0)

k = int(wrong.sum())
top = issues.order[:k]
print(f"scored with {type(scorer).__name__}; {np.sum(issues.scores > 0.5)} rows have a score above 0.5")
print(f"precision at the true number of wrong labels ({k}): {wrong[top].mean():.2f} "
      f"(a random ranking: {wrong.mean():.2f})")
print(f"suggested label right on {np.mean(issues.suggested[top][wrong[top]] == y_train_clean[top][wrong[top]]):.0%} "
      "of those wrong labels")
print("\nmost suspicious rows: row, given, suggested, true, score")
for i in issues.order[:5]:
    print(f"  {i:5d}  {y_train[i]}  {issues.suggested[i]}  {y_train_clean[i]}  {issues.scores[i]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
bins = np.linspace(0, 1, 21)
ax.hist(issues.scores[~wrong & ~trusted], bins=bins, alpha=0.7, label="label right")
ax.hist(issues.scores[wrong], bins=bins, alpha=0.7, label="label wrong")
ax.set_xlabel("label-issue score (out of fold)")
ax.set_ylabel("rows")
ax.legend()
ax.set_title("Wrong labels score high")
plt.show()

# %%
# Save the model, load it back
# ----------------------------
# The folder holds ``manifest.json`` (the estimator, its parameters, the
# classes, the transition matrix and the library versions, readable by a
# person) and ``weights.pt``, loaded with ``torch.load(weights_only=True)``:
# loading a folder never runs code from it. ``metadata`` keeps anything
# else you need to use the model, here the names of the features.
folder = save_model(chosen, os.path.join(tempfile.mkdtemp(), "model"),
                    metadata={"features": [f"x{j}" for j in range(X.shape[1])]})
loaded = load_model(folder)
same = np.array_equal(loaded.predict_proba(X_test), chosen.predict_proba(X_test))
print(f"saved {sorted(p.name for p in folder.iterdir())}; the loaded model predicts exactly as before: {same}")
manifest = json.loads((folder / "manifest.json").read_text())
print("manifest:", manifest["estimator"], {key: manifest["versions"][key] for key in ("sknoisy", "torch")})
