"""Annotator-like noise with an out-of-fold weak model against a prefit one: are held-out rows as hard as new rows?

``annotator_noise``'s default weak model learns from the true labels of the
rows it corrupts (out of fold), so every row protects its own neighbourhood
and the flips settle between rows: a row that was corrupted with the others
but held out of a network's training is easier than a new row, and scores
on such rows (a cross-validation's test folds, trusted rows scored out of
fold) are optimistic. ``cv='prefit'`` with a weak model fitted on other rows
makes each row's noise depend on that row alone. This measures the gap.

Command of the committed results (2 CPU cores)::

    python benchmarks/annotator_prefit.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/annotator_prefit.py --quick --out /tmp/annotator_prefit

Protocol: the MNIST 5,000 subset, a stratified 80/20 split per seed (the
1,000 test rows are the "new rows", never corrupted); noise at 40%,
``randomness=0``, the default weak model (standardised logistic
regression). **Out of fold** (the default, ``cv=5``): all 4,000 training
rows are corrupted; **prefit**: the weak model is fitted on 1,000 of them
(clean labels) and corrupts the other 3,000 with ``cv='prefit'``. Then
plain cross-entropy (MLP(128), Adam 1e-3, batch 128, 20 epochs) trains on
80% of the corrupted rows; its accuracy on the clean labels of the other
20% ("held-out rows") and of the test rows ("new rows"); seeds 0-2.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import _common


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 1
    return args


def run_seed(seed, quick):
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sknoisy import CrossEntropyClassifier
    from sknoisy.datasets import load_mnist_subset
    from sknoisy.modules import MLP
    from sknoisy.noise import annotator_noise

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    X, y = load_mnist_subset()
    X = X.astype(np.float32)
    X_pool, X_new, y_pool, y_new = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    if quick:
        X_pool, y_pool, X_new, y_new = X_pool[:800], y_pool[:800], X_new[:200], y_new[:200]
    net = ({"module__hidden_units": (16,), "max_epochs": 2} if quick else
           {"module__hidden_units": (128,), "max_epochs": 20, "batch_size": 128, "lr": 1e-3})
    out = {}
    for how in ("out of fold", "prefit"):
        rng = np.random.RandomState(seed)
        if how == "prefit":
            X_weak, X_rows, y_weak, y_rows = train_test_split(X_pool, y_pool, train_size=0.25, stratify=y_pool,
                                                              random_state=seed)
            weak = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_weak, y_weak)
            y_noisy = annotator_noise(X_rows, y_rows, 0.4, estimator=weak, cv="prefit", random_state=rng)
        else:
            X_rows, y_rows = X_pool, y_pool
            y_noisy = annotator_noise(X_rows, y_rows, 0.4, random_state=rng)
        fit_idx, held_idx = train_test_split(np.arange(len(y_rows)), test_size=0.2, stratify=y_rows,
                                             random_state=seed)
        clf = CrossEntropyClassifier(MLP, random_state=seed, **net).fit(X_rows[fit_idx], y_noisy[fit_idx])
        out[how] = {
            "held_out": float(np.mean(clf.predict(X_rows[held_idx]) == y_rows[held_idx])),
            "new": float(np.mean(clf.predict(X_new) == y_new)),
            "flipped": float(np.mean(y_noisy != y_rows)),
        }
    return out


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    runs = []
    for seed in range(args.seeds):
        runs.append(run_seed(seed, args.quick))
        print(f"seed {seed}: " + "; ".join(f"{how}: held-out {100 * r['held_out']:.1f}, new {100 * r['new']:.1f}"
                                          for how, r in runs[-1].items()), flush=True)
    facts = _common.machine_facts("cpu")
    md = [_common.header_markdown("Annotator-like noise: out-of-fold weak model against a prefit one (issue 20)",
                                  facts, _common.command_line())]
    md.append(f"Protocol: see the docstring of `benchmarks/annotator_prefit.py`. Seeds 0..{args.seeds - 1}; clean "
              f"accuracy (%) of plain cross-entropy, mean ± std over seeds. Run time "
              f"{(time.perf_counter() - start) / 60:.1f} min.\n")
    rows, gaps = [], {}
    for how in ("out of fold", "prefit"):
        held = [r[how]["held_out"] for r in runs]
        new = [r[how]["new"] for r in runs]
        gaps[how] = 100 * (np.mean(held) - np.mean(new))
        rows.append([how, _common.mean_std(held, scale=100), _common.mean_std(new, scale=100), f"{gaps[how]:+.1f}",
                     f"{100 * np.mean([r[how]['flipped'] for r in runs]):.1f}"])
    md.append(_common.markdown_table(["weak model", "held-out rows of the corrupted set", "new rows",
                                      "gap (points)", "flipped (%)"], rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "annotator_prefit.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(args.out / "annotator_prefit.png", {f"{how}: held-out - new": gap for how, gap in gaps.items()},
                       "accuracy gap (points)", "Annotator noise: held-out rows against new rows", facts,
                       _common.command_line())
    print("\n".join(md[1:]))


if __name__ == "__main__":
    main()
