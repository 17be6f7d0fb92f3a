"""``sknoisy fit --method auto`` then ``sknoisy predict`` on a noisy CSV, against each method chosen by hand (issue 14).

Command of the committed results (2 CPU cores)::

    python benchmarks/own_data.py --seeds 3

The same on images (``.npz``; results in ``own_data_images.md``)::

    python benchmarks/own_data.py --data images --seeds 3

Quick check (seconds; what the test suite runs)::

    python benchmarks/own_data.py --quick --out /tmp/own_data

Question: a user with a CSV of noisy labels (some rows checked by hand, or
none) runs ``sknoisy fit --method auto`` and ``sknoisy predict``, with every
default. Is the model as accurate, on clean test labels, as the best single
method they could have picked by hand (within 1 point), and does ``fit``
take under 2 minutes?

Protocol (fixed before any result was seen; nothing is selected on the test split):

* data, per seed: ``sknoisy.make_noisy_classification`` with 6,250 rows, 20
  features (10 informative), 6 classes of one Gaussian cluster each; a
  stratified split keeps 5,000 training rows and 1,250 test rows whose labels
  stay clean. The training labels are corrupted at rate 0.4 by each kind of
  noise: ``uniform`` (a label drawn uniformly from every class, the true
  one included: 33% of the labels change), ``symmetric`` (flip-random: 40%
  go to a random other class) and ``flip_to_one`` (40% of each class go to
  one other class).
* files: ``train.csv`` (an ``id`` column, the 20 features written exactly as
  float32, the ``label`` column and a 1/0 ``checked`` column marking a random
  10% of the rows, whose label is the clean one); ``train_unchecked.csv``
  (the same rows without the ``checked`` column, every label noisy);
  ``test.csv`` (``id`` and the features only).
* the commands, run as a user runs them (a new process each, every default:
  MLP with 64 hidden units, 20 epochs, Adam lr 1e-3, batch 128, one torch
  thread, 5-fold cross-validation, seed 0)::

      sknoisy fit train.csv --target label --trusted-column checked --id-column id -o model
      sknoisy fit train_unchecked.csv --target label --id-column id -o model
      sknoisy predict model test.csv --id-column id -o predictions.csv

  scored by the accuracy of the ``prediction`` column on the clean test
  labels. Timed: wall clock and CPU time of each command's process (it
  starts Python, imports torch, reads the CSV, trains and saves).
* by hand: each single method the command knows, fitted in this process on
  the same standardised features with the same network and seed (the
  classifiers with their defaults; forward learns its own T): every method
  of the classifier registry that ``methods='auto'`` tries, those that need
  trusted rows only with checked rows. The best by hand is the best median
  over seeds, in hindsight.
* reported: medians over seeds; gap = auto - best by hand (goal >= -1.0
  point); the method ``fit`` chose on each seed; fit times (goal < 120 s);
  the load average of the machine (shared with other jobs) at the start and
  the end; per run, the accuracy ``fit`` printed (its interval with checked
  rows) beside the test accuracy (issue 21: every interval must hold it).
* ``--data images``: the same commands on ``.npz`` files of images, where
  ``sknoisy fit`` trains its small CNN: scikit-learn's ``load_digits``
  (1,797 images of 8x8 pixels, values / 16, 10 classes), a stratified
  split of 1,400 training and 397 test images, noise of each kind at rate
  0.3 on the training labels, a random 5% of the training images checked
  (70: the case issue 21 found an optimistic printed accuracy in);
  ``train.npz`` holds ``X`` (n, 8, 8), ``y``, ``trusted`` and ``id``,
  ``train_unchecked.npz`` the same without ``trusted``, ``test.npz`` ``X``
  and ``id``. By hand: each method with the command's small CNN.
"""

import argparse
import csv
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

KINDS = ("uniform", "symmetric", "flip_to_one")
ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds; default 3")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed..first-seed+N-1; default 0")
    parser.add_argument("--data", choices=("csv", "images"), default="csv",
                        help="generated rows in a CSV (default) or digit images in .npz files")
    parser.add_argument("--rate", type=float, default=None,
                        help="noise rate of every kind; default 0.4 (csv), 0.3 (images)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated noise kinds; default {','.join(KINDS)}")
    parser.add_argument("--fit-cv", type=int, default=None, help="pass --cv N to sknoisy fit (default: its own)")
    parser.add_argument("--only", choices=("checked", "unchecked"), default=None, help="run one of the two cases")
    parser.add_argument(
        "--compare-cv", type=int, default=None, metavar="N",
        help="with the checked column, also run sknoisy fit --cv N, to compare its choices with the default's",
    )
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR, help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    args.kinds = args.kinds.split(",")
    images = args.data == "images"
    if args.rate is None:
        args.rate = 0.3 if images else 0.4
    args.n_train, args.n_classes = (1400, 10) if images else (5000, 6)
    args.checked_fraction = 0.05 if images else 0.1
    args.name = "own_data_images" if images else "own_data"
    # the command's defaults, or tiny ones
    args.cli_options, args.net = [], {"hidden": 64, "epochs": 20, "cv": 5}
    if args.quick:
        args.seeds, args.n_train = 1, 300
        args.n_classes = 10 if images else 3
        args.net = {"hidden": 8, "epochs": 2, "cv": 2}
        args.cli_options = ["--hidden", "8", "--epochs", "2", "--cv", "2"]
    if args.fit_cv is not None:
        args.net["cv"] = args.fit_cv
        args.cli_options = [*args.cli_options, "--cv", str(args.fit_cv)]
    return args


# --------------------------------------------------------------------------
# data and files
# --------------------------------------------------------------------------
def make_data(kind, seed, args):
    from sklearn.model_selection import train_test_split

    from sknoisy import make_noisy_classification

    if args.data == "images":
        return make_images(kind, seed, args)
    n_test = args.n_train // 4
    X, y_noisy, y_clean, _ = make_noisy_classification(
        args.n_train + n_test, 20, args.n_classes, noise=kind, rate=args.rate, random_state=seed,
        n_informative=10, n_clusters_per_class=1,
    )
    X = X.astype(np.float32)
    X_train, X_test, y_noisy_train, _, y_clean_train, y_test = train_test_split(
        X, y_noisy, y_clean, test_size=n_test, stratify=y_clean, random_state=seed
    )
    return X_train, X_test, y_noisy_train, y_clean_train, y_test, draw_checked(y_clean_train, seed, args)


def draw_checked(y_train, seed, args):
    rng = np.random.RandomState(seed)
    checked = np.zeros(len(y_train), dtype=bool)
    checked[rng.choice(len(checked), size=int(len(checked) * args.checked_fraction), replace=False)] = True
    return checked


def make_images(kind, seed, args):
    """scikit-learn's digits as images (n, 8, 8); the training labels corrupted at ``args.rate``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from sknoisy import corrupt_labels, make_transition_matrix

    digits = load_digits()
    X, y = (digits.images / 16.0).astype(np.float32), digits.target
    n_test = args.n_train // 4 if args.quick else len(y) - args.n_train
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=args.n_train, test_size=n_test, stratify=y, random_state=seed
    )
    T = make_transition_matrix(kind, 10, args.rate, random_state=seed)
    y_noisy = corrupt_labels(y_train, T, random_state=seed, exact=True)
    return X_train, X_test, y_noisy, y_train, y_test, draw_checked(y_train, seed, args)


def write_npz(folder, X_train, X_test, y_noisy, y_clean, checked):
    ids = np.arange(len(X_train))
    np.savez(folder / "train.npz", X=X_train, y=np.where(checked, y_clean, y_noisy), trusted=checked, id=ids)
    np.savez(folder / "train_unchecked.npz", X=X_train, y=y_noisy, id=ids)
    np.savez(folder / "test.npz", X=X_test, id=len(X_train) + np.arange(len(X_test)))


def write_files(folder, X_train, X_test, y_noisy, y_clean, checked):
    features = [f"x{j}" for j in range(X_train.shape[1])]

    def cells(row):
        return [repr(float(v)) for v in row]  # float32 -> float64 repr: read back exactly

    y_checked = np.where(checked, y_clean, y_noisy)
    with open(folder / "train.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", *features, "label", "checked"])
        for i, row in enumerate(X_train):
            writer.writerow([f"t{i}", *cells(row), int(y_checked[i]), int(checked[i])])
    with open(folder / "train_unchecked.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", *features, "label"])
        for i, row in enumerate(X_train):
            writer.writerow([f"t{i}", *cells(row), int(y_noisy[i])])
    with open(folder / "test.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", *features])
        for i, row in enumerate(X_test):
            writer.writerow([f"s{i}", *cells(row)])


# --------------------------------------------------------------------------
# the command, as a user runs it
# --------------------------------------------------------------------------
def sknoisy(argv, args, log):
    """Run ``sknoisy argv``: a new process in full runs, in this one with --quick. Returns (out, wall, cpu)."""
    if args.quick:
        import contextlib
        import io

        from sknoisy.cli import main

        buffer, start, cpu = io.StringIO(), time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
            status = main(argv)
        if status != 0:
            raise RuntimeError(f"sknoisy {' '.join(argv)} exited with {status}")
        return buffer.getvalue(), time.perf_counter() - start, time.process_time() - cpu
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sknoisy", *argv], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"sknoisy {' '.join(argv)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def command_accuracy(folder, train_file, trusted, y_test, args, log, extra=()):
    tag = f"{train_file.stem}{''.join(extra)}"
    model, predictions = folder / f"model_{tag}", folder / f"predictions_{tag}.csv"
    fit = ["fit", str(train_file), "--id-column", "id", "-o", str(model), *args.cli_options, *extra]
    if train_file.suffix == ".csv":  # an .npz names its arrays X, y and trusted, the defaults
        fit[2:2] = ["--target", "label", *(["--trusted-column", "checked"] if trusted else [])]
    out, fit_wall, fit_cpu = sknoisy(fit, args, log)
    chosen = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(("chose: ", "method: ")))
    estimate = next(line for line in out.splitlines() if line.startswith("accuracy: "))
    _, predict_wall, _ = sknoisy(
        ["predict", str(model), str(folder / f"test{train_file.suffix}"), "--id-column", "id", "-o", str(predictions)],
        args, log
    )
    with open(predictions, newline="") as fh:
        rows = list(csv.DictReader(fh))
    predicted = np.array([int(row["prediction"]) for row in rows])
    return {
        "accuracy": float(np.mean(predicted == y_test)), "chosen": chosen, "estimate": estimate,
        "fit_wall": fit_wall, "fit_cpu": fit_cpu, "predict_wall": predict_wall,
    }


def by_hand(X_train, y, trusted, X_test, y_test, seed, methods, args):
    """Each single method on the standardised features, with the command's network and seed."""
    from sknoisy import CLASSIFIER_METHODS
    from sknoisy.cli._training import apply_scaler, fit_scaler, network

    scaler = fit_scaler(X_train)
    X_train, X_test = apply_scaler(X_train, scaler), apply_scaler(X_test, scaler)
    # the command's network: an MLP for rows, its small CNN for images
    options = argparse.Namespace(hidden=args.net["hidden"], epochs=args.net["epochs"], lr=1e-3, batch_size=128,
                                 device="cpu")
    module, net = network(options, X_train)
    scores = {}
    for name in methods:
        entry = CLASSIFIER_METHODS[name]
        clf = entry.estimator(module, **net, **entry.params, random_state=seed).fit(X_train, y, trusted=trusted)
        scores[name] = float(np.mean(clf.predict(X_test) == y_test))
    return scores


def run_setting(kind, seed, args, log):
    rows = []
    X_train, X_test, y_noisy, y_clean, y_test, checked = make_data(kind, seed, args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (write_npz if args.data == "images" else write_files)(folder, X_train, X_test, y_noisy, y_clean, checked)
        ext = ".npz" if args.data == "images" else ".csv"
        for trusted in [t for t in (True, False) if args.only in (None, "checked" if t else "unchecked")]:
            train_file = folder / (f"train{ext}" if trusted else f"train_unchecked{ext}")
            result = command_accuracy(folder, train_file, trusted, y_test, args, log)
            y = np.where(checked, y_clean, y_noisy) if trusted else y_noisy
            # the command seeds everything with its --seed (0 by default), so the hand-picked nets do too
            singles = by_hand(X_train, y, checked if trusted else None, X_test, y_test, 0,
                              _common.auto_methods(trusted), args)
            row = {"kind": kind, "seed": seed, "trusted": trusted, "singles": singles, **result}
            if trusted and args.compare_cv:
                other = command_accuracy(folder, train_file, trusted, y_test, args, log,
                                         extra=("--cv", str(args.compare_cv)))
                row["other_cv"] = other
                log(f"  with --cv {args.compare_cv}: {100 * other['accuracy']:.1f} ({other['chosen']}; fit "
                    f"{other['fit_wall']:.0f} s wall, {other['fit_cpu']:.0f} s CPU)")
            rows.append(row)
            log(
                f"{kind} seed {seed} {'checked' if trusted else 'unchecked'}: auto {100 * row['accuracy']:.1f} "
                f"({row['chosen']}; fit {row['fit_wall']:.0f} s wall, {row['fit_cpu']:.0f} s CPU; load "
                f"{os.getloadavg()[0]:.1f}); " + ", ".join(f"{m} {100 * a:.1f}" for m, a in singles.items())
            )
    return rows


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def summarise(rows, args):
    table = []
    for trusted in (True, False):
        for kind in args.kinds:
            group = [r for r in rows if r["kind"] == kind and r["trusted"] == trusted]
            if not group:
                continue
            methods = list(group[0]["singles"])
            medians = {m: statistics.median(r["singles"][m] for r in group) for m in methods}
            best = max(methods, key=lambda m: medians[m])
            auto = statistics.median(r["accuracy"] for r in group)
            table.append({
                "kind": kind, "trusted": trusted, "medians": medians, "best": best, "auto": auto,
                "gap": auto - medians[best], "chosen": [r["chosen"] for r in group],
                "fit_wall": statistics.median(r["fit_wall"] for r in group),
                "max_fit_wall": max(r["fit_wall"] for r in group),
                "fit_cpu": statistics.median(r["fit_cpu"] for r in group),
                "predict_wall": statistics.median(r["predict_wall"] for r in group),
            })
    return table


def _estimate_value(line):
    """The point estimate in fit's ``accuracy: 0.846, between ...`` line, or None (fit printed none)."""
    found = re.match(r"accuracy: (\d\.\d+),", line)
    return float(found.group(1)) if found else None


def _estimate_range(line):
    """``(low, high)`` of the interval fit prints with checked rows, or None."""
    found = re.search(r"between (\d\.\d+) and (\d\.\d+) \(", line)
    return (float(found.group(1)), float(found.group(2))) if found else None


def printed_estimate(line):
    value, bounds = _estimate_value(line), _estimate_range(line)
    if bounds is None:
        return "none"
    point = f"{100 * value:.1f} " if value is not None else ""
    return f"{point}[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"


def write_results(rows, args, facts, command, elapsed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarise(rows, args)
    name = f"{int(round(100 * args.rate))}%"
    images = args.data == "images"
    on = "on noisy images (.npz)" if images else "on a noisy CSV"
    what = f"{args.n_train} training images (8x8 digits)" if images else f"{args.n_train} training rows, 20 features"
    checked = f"{round(100 * args.checked_fraction)}% checked rows"
    md = [_common.header_markdown(f"sknoisy fit --method auto, then sknoisy predict, {on}", facts, command)]
    md.append(
        f"Protocol: see the docstring of `benchmarks/own_data.py`. {what}, "
        f"{args.n_classes} classes, noise rate {args.rate:g} of each kind, {checked}; every command with its "
        f"defaults{' but ' + ' '.join(args.cli_options) if args.cli_options else ''}; seeds "
        f"{args.first_seed}..{args.first_seed + args.seeds - 1}. Accuracy (%) on the clean test labels of the "
        f"`prediction` column written by `sknoisy predict`, **median over {args.seeds} seed(s)**. Best by hand = "
        "the single method with the best median (in hindsight; without checked rows among those that need "
        "none); gap = auto - best (goal >= -1.0). Fit times are those of the whole `sknoisy fit` process "
        f"(one torch thread; goal < 120 s). Total run time {elapsed / 60:.1f} min.\n"
    )
    for trusted in (True, False):
        part = [t for t in table if t["trusted"] == trusted]
        if not part:
            continue
        methods = list(part[0]["medians"])
        md.append(f"## {f'With the checked column ({checked})' if trusted else 'Without a checked column'}\n")
        headers = ["noise", *methods, "best by hand", "sknoisy fit auto", "gap", "chosen (per seed)",
                   "fit wall (s)", "fit CPU (s)", "predict wall (s)"]
        body = [
            [
                f"{t['kind']} {name}", *(f"{100 * t['medians'][m]:.1f}" for m in methods), t["best"],
                f"{100 * t['auto']:.1f}", f"{100 * t['gap']:+.1f}", ", ".join(t["chosen"]),
                f"{t['fit_wall']:.0f} (max {t['max_fit_wall']:.0f})", f"{t['fit_cpu']:.0f}",
                f"{t['predict_wall']:.1f}",
            ]
            for t in part
        ]
        md.append(_common.markdown_table(headers, body))
        met = sum(t["gap"] >= -0.01 for t in part)
        slowest = max(t["max_fit_wall"] for t in part)
        md.append(
            f"\nWithin 1 point of the best by hand: {met}/{len(part)} noise kinds; slowest `sknoisy fit` "
            f"{slowest:.0f} s wall ({'under' if slowest < 120 else 'NOT under'} 2 minutes).\n"
        )
    compared = [r for r in rows if "other_cv" in r]
    if compared:
        n = args.compare_cv
        md.append(f"## How many folds: `--cv {args.net['cv']}` (the default) against `--cv {n}`, with the checked column\n")
        body = []
        for kind in args.kinds:
            group = [r for r in compared if r["kind"] == kind]
            if not group:
                continue
            best = max(group[0]["singles"], key=lambda m: statistics.median(r["singles"][m] for r in group))
            best_median = statistics.median(r["singles"][best] for r in group)
            ours = statistics.median(r["accuracy"] for r in group)
            theirs = statistics.median(r["other_cv"]["accuracy"] for r in group)
            body.append([
                f"{kind} {name}", f"{100 * best_median:.1f} ({best})",
                f"{100 * ours:.1f} ({100 * (ours - best_median):+.1f}; {', '.join(r['chosen'] for r in group)})",
                f"{100 * theirs:.1f} ({100 * (theirs - best_median):+.1f}; "
                f"{', '.join(r['other_cv']['chosen'] for r in group)})",
                f"{statistics.median(r['fit_cpu'] for r in group):.0f} / "
                f"{statistics.median(r['other_cv']['fit_cpu'] for r in group):.0f}",
            ])
        md.append(_common.markdown_table(
            ["noise", "best by hand", f"--cv {args.net['cv']}: auto (gap; chosen)", f"--cv {n}: auto (gap; chosen)",
             f"fit CPU (s), --cv {args.net['cv']} / {n}"], body))
        md.append("")
    md.append("## Per seed\n")
    md.append(
        "The accuracy `sknoisy fit` printed for its model (measured on the checked rows by cross-validation, "
        "with its interval, or nothing without them) next to the accuracy its predictions reached on "
        "the clean test labels.\n"
    )
    md.append(
        _common.markdown_table(
            ["noise", "checked", "seed", "chosen", "test accuracy", "accuracy printed by fit", "fit wall / CPU (s)"],
            [
                [f"{r['kind']} {name}", "yes" if r["trusted"] else "no", r["seed"], r["chosen"],
                 f"{100 * r['accuracy']:.1f}", printed_estimate(r["estimate"]),
                 f"{r['fit_wall']:.0f} / {r['fit_cpu']:.0f}"]
                for r in rows
            ],
        )
    )
    errors = [100 * (_estimate_value(r["estimate"]) - r["accuracy"]) for r in rows
              if _estimate_value(r["estimate"]) is not None]
    if errors:
        md.append(
            f"\nPoint estimates printed (only where the interval is within +/- 5 points): {len(errors)}; minus test "
            f"accuracy: median {statistics.median(errors):+.1f} points (from {min(errors):+.1f} to {max(errors):+.1f}).\n"
        )
    ranges = [(r, _estimate_range(r["estimate"])) for r in rows]
    ranges = [(r, bounds) for r, bounds in ranges if bounds is not None]
    if ranges:
        held = sum(low <= r["accuracy"] <= high for r, (low, high) in ranges)
        widths = [100 * (high - low) / 2 for _, (low, high) in ranges]
        md.append(
            f"The interval printed with checked rows held the test accuracy in {held} of {len(ranges)} runs "
            f"(half-width median {statistics.median(widths):.1f} points). Without checked rows fit prints no "
            f"number ({sum(not r['trusted'] for r in rows)} runs).\n"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
    for ax, trusted in zip(axes, (True, False)):
        part = [t for t in table if t["trusted"] == trusted]
        if not part:
            continue
        methods = list(part[0]["medians"])
        width = 0.8 / (len(methods) + 1)
        x = np.arange(len(part))
        for j, m in enumerate(methods):
            ax.bar(x + j * width, [100 * t["medians"][m] for t in part], width, label=m)
        ax.bar(x + len(methods) * width, [100 * t["auto"] for t in part], width, label="sknoisy fit (auto)",
               color="black")
        ax.set_xticks(x + 0.4 - width / 2, [f"{t['kind']} {name}" for t in part])
        low = min(min(t["medians"].values()) for t in part)
        ax.set_ylim(max(0, 100 * low - 10), 100)
        ax.set_ylabel("clean test accuracy (%), median")
        ax.set_title(f"with {checked}" if trusted else "without checked rows")
        ax.legend(fontsize=8, ncol=3)
    fig.savefig(args.out / f"{args.name}.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the command's default --threads 1
    warnings.filterwarnings("ignore", category=UserWarning)
    facts = _common.machine_facts()
    facts["load average"] = ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1, 5, 15 min) at the start"
    start = time.perf_counter()
    rows = []
    for kind in args.kinds:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.extend(run_setting(kind, seed, args, log=lambda text: print(text, flush=True)))
    elapsed = time.perf_counter() - start
    facts["load average"] += "; " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " at the end"
    write_results(rows, args, facts, _common.command_line(), elapsed)
    print(f"wrote {args.out / (args.name + '.md')} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
