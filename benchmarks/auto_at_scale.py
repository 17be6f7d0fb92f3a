"""AutoNoisyClassifier at scale: one held-out split against 5-fold cross-validation, cost and choice (issue 22).

Command of the committed results (2 CPU cores)::

    python benchmarks/auto_at_scale.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/auto_at_scale.py --quick --out /tmp/auto_at_scale

Question: from ``HOLDOUT_MIN_ROWS`` (100,000) rows on, ``selection='auto'``
compares the methods on one held-out split instead of cross-validation. Is
that at least 3 times cheaper than the 5-fold cross-validation of ``sknoisy
fit`` at 200,000 rows, and does it choose a method within 1 point (clean test
accuracy) of the one 5-fold cross-validation chooses?

Protocol (fixed before any result was seen; nothing is selected on the test split):

* data, per setting: ``sknoisy.make_noisy_classification`` with 220,000
  rows, 50 features (20 informative), 10 classes of one Gaussian cluster
  each, seed 0; the first 200,000 rows train, the last 20,000 are the test
  split, labels clean. Settings: flip-to-one 40% and symmetric 40% without
  trusted rows, and flip-to-one 40% with a random 1% of the training rows
  (2,000) trusted (clean label, in the mask).
* the two searches, one after the other in this process, on the same data:
  ``AutoNoisyClassifier(MLP, cv=5, selection='cv')`` and ``selection='holdout'``
  (``cv=5``: without trusted rows the held-out split is the first of the 5
  folds, with trusted rows the first fold of ``TrustedKFold(2)``), every other
  default (``methods='auto'``), the network of ``sknoisy fit``: MLP with 64
  hidden units, Adam lr 1e-3, batch 128, 10 epochs (half of ``fit``'s 20, to
  keep the 5-fold runs under an hour; the cost ratio does not depend on it),
  one torch thread, seed 0.
* reported: each search's fit time (wall and CPU time of this process: the
  search, the estimate of T where made, the refit), the method each chose, the
  clean test accuracy of each refitted choice, the cost ratio (cv / holdout,
  CPU time) and the accuracy difference (holdout - cv). Goals: ratio >= 3,
  difference >= -1 point.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SETTINGS = (("flip_to_one", 0.4, False), ("symmetric", 0.4, False), ("flip_to_one", 0.4, True))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--rows", type=int, default=200_000, help="training rows; default 200,000")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.cv = 3_000, 2, 2
    args.n_test = args.rows // 10
    return args


def setting_name(kind, rate, trusted):
    return f"{kind.replace('_', '-')} {int(round(rate * 100))}%, {'1% trusted' if trusted else 'no trusted rows'}"


def make_data(kind, rate, with_trusted, args):
    from sknoisy import make_noisy_classification

    X, y_noisy, y_clean, _ = make_noisy_classification(
        args.rows + args.n_test, 50, 10, noise=kind, rate=rate, random_state=0, n_informative=20,
        n_clusters_per_class=1,
    )
    X = X.astype(np.float32)
    n = args.rows
    trusted = None
    y = y_noisy[:n]
    if with_trusted:
        trusted = np.zeros(n, dtype=bool)
        trusted[np.random.RandomState(0).choice(n, size=n // 100, replace=False)] = True
        y = np.where(trusted, y_clean[:n], y_noisy[:n])
    return X[:n], y, trusted, X[n:], y_clean[n:]


def run_setting(kind, rate, with_trusted, args, log):
    from sknoisy._auto import AutoNoisyClassifier
    from sknoisy.modules import MLP

    X, y, trusted, X_test, y_test = make_data(kind, rate, with_trusted, args)
    net = {"max_epochs": args.epochs, "module__hidden_units": (64,)}
    row = {"setting": setting_name(kind, rate, with_trusted)}
    for selection in ("holdout", "cv"):
        auto = AutoNoisyClassifier(MLP, cv=args.cv, selection=selection, random_state=0, **net)
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auto.fit(X, y, trusted=trusted)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        accuracy = float(np.mean(auto.predict(X_test) == y_test))
        scores = dict(zip(auto.cv_results_["param_method"], auto.cv_results_["mean_test_score"]))
        row[selection] = {"wall": wall, "cpu": cpu, "chosen": auto.best_method_, "accuracy": accuracy,
                          "scores": scores, "selection_": auto.selection_}
        log(f"{row['setting']} {selection}: chose {auto.best_method_}, test {100 * accuracy:.1f}%, "
            f"{wall:.0f} s (CPU {cpu:.0f} s); scores " + ", ".join(f"{m} {s:.4f}" for m, s in scores.items()))
    return row


def main(argv=None):
    import torch

    args = parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(line):
        print(line, flush=True)

    facts = _common.machine_facts()
    facts["load average"] = "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min) at the start".format(*os.getloadavg())
    command = _common.command_line(argv)
    start = time.perf_counter()
    rows = [run_setting(kind, rate, trusted, args, log) for kind, rate, trusted in SETTINGS]
    facts["load average"] += "; {:.2f}, {:.2f}, {:.2f} at the end".format(*os.getloadavg())
    write_results(rows, args, facts, command, time.perf_counter() - start, out)
    return 0


def write_results(rows, args, facts, command, elapsed, out):
    table = []
    for row in rows:
        h, c = row["holdout"], row["cv"]
        table.append([
            row["setting"], c["chosen"], f"{100 * c['accuracy']:.1f}", f"{c['wall']:.0f}", f"{c['cpu']:.0f}",
            h["chosen"], f"{100 * h['accuracy']:.1f}", f"{h['wall']:.0f}", f"{h['cpu']:.0f}",
            f"{c['cpu'] / h['cpu']:.1f}x", f"{100 * (h['accuracy'] - c['accuracy']):+.1f}",
        ])
    ratios = [row["cv"]["cpu"] / row["holdout"]["cpu"] for row in rows]
    diffs = [100 * (row["holdout"]["accuracy"] - row["cv"]["accuracy"]) for row in rows]
    lines = [_common.header_markdown("AutoNoisyClassifier at scale: one held-out split against "
                                     f"{args.cv}-fold cross-validation", facts, command)]
    lines.append(
        f"Protocol: see the docstring of `benchmarks/auto_at_scale.py`. {args.rows:,} training rows, 50 features, "
        f"10 classes, {args.epochs} epochs, seed 0; accuracy (%) on {args.n_test:,} clean test rows. Times are "
        f"those of `fit` (search, estimate of T where made, refit), wall and CPU of this process (one torch thread). "
        f"Total run time {elapsed / 60:.1f} min.\n"
    )
    lines.append(_common.markdown_table(
        ["setting", f"{args.cv}-fold chose", "test", "wall (s)", "CPU (s)", "holdout chose", "test", "wall (s)",
         "CPU (s)", "cost ratio", "holdout - cv"],
        table,
    ))
    lines.append("")
    lines.append(f"Cost ratio ({args.cv}-fold / holdout, CPU time): min {min(ratios):.1f}x, median "
                 f"{_common.median(ratios):.1f}x (goal >= 3x). Accuracy of the holdout choice minus the "
                 f"{args.cv}-fold choice: min {min(diffs):+.1f}, mean {np.mean(diffs):+.1f} points (goal >= -1).\n")
    lines.append("Scores each search gave (accuracy on held-out noisy labels, or on trusted rows):\n")
    score_rows = []
    for row in rows:
        for selection in ("cv", "holdout"):
            scores = row[selection]["scores"]
            score_rows.append([row["setting"], selection,
                               ", ".join(f"{m} {s:.4f}" for m, s in sorted(scores.items(), key=lambda kv: -kv[1]))])
    lines.append(_common.markdown_table(["setting", "selection", "scores, best first"], score_rows))
    name = "auto_at_scale"
    (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = {}
    for row in rows:
        values[f"{row['setting']}: {args.cv}-fold"] = row["cv"]["cpu"]
        values[f"{row['setting']}: holdout"] = row["holdout"]["cpu"]
    _common.bar_figure(out / f"{name}.png", values, "CPU time of fit (s)", "auto: holdout against cross-validation",
                       facts, command)
    print(f"wrote {out / name}.md and .png")


if __name__ == "__main__":
    sys.exit(main())
