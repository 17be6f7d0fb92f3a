"""
===========================================================
Choosing a correction method by grid search on trusted rows
===========================================================

A tabular problem with 40% of its training labels flipped, and a small
*trusted* subset (5% of the rows) whose labels were checked by hand. Which
correction method should we use, with which settings?

``GridSearchCV`` can answer, provided that it never scores a model on noisy
labels: a model that fits the noise would look good there. sknoisy's
:class:`~sknoisy.model_selection.TrustedKFold` puts only trusted rows in the
test folds, and :func:`~sknoisy.model_selection.trusted_scorer` scores only
trusted rows. The trusted mask reaches the splitter, the scorer and every
estimator of the ``Pipeline`` through scikit-learn's metadata routing.
"""

# %%
# A noisy problem with a trusted subset
# -------------------------------------
# ``make_noisy_classification`` returns the noisy labels, the clean ones and
# the true transition matrix ``T[i, j] = p(noisy = j | clean = i)``. We keep
# a clean test set aside and mark 5% of the training rows as trusted: their
# labels are the clean ones.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sknoisy import (
    CrossEntropyClassifier,
    ForwardCorrectedClassifier,
    GLCClassifier,
    MetaLossCorrectionClassifier,
    RobustLossClassifier,
    TransitionMatrixEstimator,
    make_noisy_classification,
)
from sknoisy.model_selection import TrustedKFold, trusted_scorer
from sknoisy.modules import MLP

QUICK = os.environ.get("SKNOISY_EXAMPLE_QUICK") == "1"  # tiny sizes for the test suite
n_samples, epochs, n_splits = (600, 3, 2) if QUICK else (3000, 30, 3)

X, y_noisy, y_clean, T = make_noisy_classification(
    n_samples, n_features=20, n_classes=4, n_informative=8, noise="pair", rate=0.4, random_state=0
)
X_train, X_test, y_train_noisy, _, y_train_clean, y_test = train_test_split(
    X, y_noisy, y_clean, test_size=0.3, stratify=y_clean, random_state=0
)
rng = np.random.RandomState(0)
trusted = rng.rand(len(y_train_clean)) < 0.05
y_train = np.where(trusted, y_train_clean, y_train_noisy)
print(f"{trusted.sum()} trusted rows out of {len(y_train)}; "
      f"{np.mean(y_train[~trusted] != y_train_clean[~trusted]):.0%} of the other labels are wrong")

# %%
# The candidates
# --------------
# One ``Pipeline`` whose classifier step is itself a parameter of the grid.
# Every classifier asks for the trusted mask with ``set_fit_request``;
# the ones that do not need it (plain cross-entropy, forward correction with
# anchor points, the robust loss) simply ignore it.
sklearn.set_config(enable_metadata_routing=True)

net = dict(max_epochs=epochs, lr=1e-2, batch_size=64, random_state=0, module__hidden_units=(64,))


def candidate(cls, **params):
    return cls(MLP, **params, **net).set_fit_request(trusted=True)


param_grid = [
    {"clf": [candidate(CrossEntropyClassifier)]},
    {
        "clf": [candidate(ForwardCorrectedClassifier, transition_matrix=TransitionMatrixEstimator(cv=2))],
        # T from anchor points (no trusted rows needed) or from the trusted rows.
        "clf__transition_matrix__method": ["anchor", "gold"],
    },
    {"clf": [candidate(GLCClassifier)]},
    {"clf": [candidate(MetaLossCorrectionClassifier)], "clf__meta_lr": [0.01, 0.05]},
    {"clf": [candidate(RobustLossClassifier, loss="nce+rce")]},
]
pipe = Pipeline([("scale", StandardScaler()), ("clf", candidate(CrossEntropyClassifier))])
grid = GridSearchCV(
    pipe,
    param_grid,
    cv=TrustedKFold(n_splits, shuffle=True, random_state=0),
    scoring=trusted_scorer("accuracy"),
)
grid.fit(X_train, y_train, trusted=trusted)

# %%
# The results
# -----------
# Scores are accuracies on held-out *trusted* rows only. The refitted best
# pipeline is then checked on the clean test set, which the search never saw.
def describe(params, sep=", "):
    name = type(params["clf"]).__name__.replace("Classifier", "")
    extra = [f"{key.rsplit('__', 1)[1]}={value}" for key, value in params.items() if key != "clf"]
    return sep.join([name, *extra])


results = pd.DataFrame(
    {
        "candidate": [describe(p) for p in grid.cv_results_["params"]],
        "trusted CV accuracy": grid.cv_results_["mean_test_score"],
        "std": grid.cv_results_["std_test_score"],
    }
)
print(results.to_string(index=False))
print(f"\nbest: {describe(grid.best_params_)}")
print(f"its accuracy on the clean test set: {grid.score(X_test, y_test, trusted=np.ones(len(y_test), bool)):.3f}")

fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
order = np.argsort(results["trusted CV accuracy"].to_numpy())
labels = np.array([describe(p, sep="\n") for p in grid.cv_results_["params"]])
ax.barh(
    labels[order],
    results["trusted CV accuracy"].to_numpy()[order],
    xerr=results["std"].to_numpy()[order],
    color="C0",
)
ax.set_xlabel("accuracy on held-out trusted rows (TrustedKFold)")
ax.set_xlim(0, 1)
ax.set_title("Grid search over correction methods, 40% pair noise")
plt.show()

# %%
# Turn metadata routing off again, so that the rest of a session is unchanged.
sklearn.set_config(enable_metadata_routing=False)
