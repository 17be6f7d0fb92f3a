"""Trusted-row methods under annotator-like noise: choose TrustedTeacherClassifier's defaults (issue 20).

A quick study, not the issue's benchmark (benchmarks/instance_noise.py, with the
noise generators of sknoisy.noise, is where the methods are compared on the test
split). Here the noise is a stand-in, written out below, and every figure is a
**validation** accuracy: the test split of each data set is never loaded.

* data: scikit-learn's digits (1,797 images, 10 classes) and a tabular
  ``make_classification`` set (4,000 rows, 20 features, 6 classes, class_sep 1.5); 25% of each
  is set aside as the test split (unused) and, of the rest, 25% is the
  validation split (clean labels) the figures are read on;
* noise (annotator-like stand-in): a logistic regression on 8 random features,
  fitted out of fold (5 folds) on the clean labels, gives every training row a
  margin (its probability of the true class minus the best other class); the
  ``--rate`` share of rows with the lowest margin take that model's most
  probable wrong class: the ambiguous rows, toward the plausible class;
* trusted rows: ``--trusted-per-class`` rows of each class, drawn at random,
  keep their clean label (and are never flipped);
* the network: MLP(64), Adam 1e-3, batch 64, 30 epochs, for every method.

Command of the committed results (benchmarks/results/trusted_teacher.md; about
15 minutes on a busy 2-core machine)::

    python benchmarks/trusted_teacher.py

``--methods`` picks some of the methods; ``--quick --out /tmp/x`` checks that
the script runs (seconds).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.preprocessing import StandardScaler

from sknoisy import CrossEntropyClassifier, GLCClassifier, TrustedOnlyClassifier, TrustedTeacherClassifier
from sknoisy.modules import MLP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, bar_figure, command_line, header_markdown, machine_facts, markdown_table  # noqa: E402

NET = dict(module__hidden_units=(64,), max_epochs=30, batch_size=64, lr=1e-3)

def _teacher(**params):
    return lambda seed: TrustedTeacherClassifier(MLP, random_state=seed, **NET, **params)


METHODS = {
    "ce": lambda seed: CrossEntropyClassifier(MLP, random_state=seed, **NET),
    "glc": lambda seed: GLCClassifier(MLP, random_state=seed, **NET),
    "trusted_only": lambda seed: TrustedOnlyClassifier(MLP, random_state=seed, **NET),
    "trusted_only_max_epochs": lambda seed: TrustedOnlyClassifier(MLP, match_steps=False, random_state=seed, **NET),
    **{f"distill_{lam:g}": _teacher(mode="distill", label_weight=lam) for lam in (0.0, 0.25, 0.5)},
    "distill_0.25_early_stopped_teacher": _teacher(mode="distill", label_weight=0.25, teacher_early_stopping=True),
    "filter_0.5": _teacher(mode="filter", confidence=0.5),
    "relabel_0.5": _teacher(mode="relabel", confidence=0.5),
}


def dataset(name, seed):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
    else:
        X, y = make_classification(
            4000, 20, n_informative=10, n_classes=6, n_clusters_per_class=2, class_sep=1.5, random_state=seed
        )
        X = StandardScaler().fit_transform(X).astype(np.float32)
    return X, y


def annotator_noise(X, y, rate, rng):
    """The stand-in: the lowest-margin rows of a weak model take its most probable wrong class."""
    features = rng.choice(X.shape[1], size=min(8, X.shape[1]), replace=False)
    proba = cross_val_predict(LogisticRegression(max_iter=500), X[:, features], y, cv=5, method="predict_proba")
    true = proba[np.arange(len(y)), y]
    wrong = proba.copy()
    wrong[np.arange(len(y)), y] = -np.inf
    margin = true - wrong.max(axis=1)
    flip = np.argsort(margin, kind="stable")[: int(round(rate * len(y)))]
    noisy = y.copy()
    noisy[flip] = wrong[flip].argmax(axis=1)
    return noisy


def setting(name, seed, rate, per_class):
    X, y = dataset(name, seed)
    rng = np.random.RandomState(seed)
    X_dev, _, y_dev, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)  # test unused
    X_tr, X_val, y_tr, y_val = train_test_split(X_dev, y_dev, test_size=0.25, stratify=y_dev, random_state=seed)
    trusted = np.zeros(len(y_tr), dtype=bool)
    for c in np.unique(y_tr):
        trusted[rng.choice(np.flatnonzero(y_tr == c), per_class, replace=False)] = True
    noisy = annotator_noise(X_tr, y_tr, rate, rng)
    y_fit = np.where(trusted, y_tr, noisy)
    actual = float((y_fit != y_tr).mean())
    return X_tr, y_fit, trusted, X_val, y_val, actual


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check that the script works")
    parser.add_argument("--datasets", nargs="+", default=["digits", "tabular"], choices=("digits", "tabular"))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--rate", type=float, default=0.4)
    parser.add_argument("--trusted-per-class", type=int, default=20)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder of the markdown table and figure")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        NET["max_epochs"] = 2
        args.datasets, args.seeds, args.methods = ["digits"], [0], ["ce", "trusted_only", "relabel_0.5"]
    command = command_line(None if argv is None else ["benchmarks/trusted_teacher.py", *argv])
    facts = machine_facts()
    scores = {m: [] for m in args.methods}
    times = {m: [] for m in args.methods}
    runs = []
    for name in args.datasets:
        for seed in args.seeds:
            X, y, trusted, X_val, y_val, actual = setting(name, seed, args.rate, args.trusted_per_class)
            row = [name, seed, f"{actual:.2f}", int(trusted.sum())]
            for m in args.methods:
                start = time.perf_counter()
                clf = METHODS[m](seed).fit(X, y, trusted=trusted)
                times[m].append(time.perf_counter() - start)
                scores[m].append(100 * float((clf.predict(X_val) == y_val).mean()))
                row.append(f"{scores[m][-1]:.1f}")
            runs.append(row)
            print(" | ".join(map(str, row)), flush=True)
    means = {m: float(np.mean(scores[m])) for m in args.methods}
    summary = [[m, f"{means[m]:.2f}", f"{np.mean(times[m]):.1f}"] for m in args.methods]
    text = "\n".join([
        header_markdown("Trusted-row methods under annotator-like noise (validation accuracy)", facts, command),
        "Protocol: see the docstring of benchmarks/trusted_teacher.py (validation split of the training rows; "
        "the test split is never loaded).",
        "",
        markdown_table(["method", "mean validation accuracy (%)", "mean fit seconds"], summary),
        "",
        markdown_table(["data", "seed", "noise", "trusted", *args.methods], runs),
        "",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trusted_teacher.md").write_text(text, encoding="utf-8")
    reference = ("trusted rows only", means["trusted_only"]) if "trusted_only" in means else None
    bar_figure(args.out / "trusted_teacher.png", means, "mean validation accuracy (%)",
               "trusted-row methods, annotator-like noise", facts, command, reference=reference)
    print(text)


if __name__ == "__main__":
    main()
