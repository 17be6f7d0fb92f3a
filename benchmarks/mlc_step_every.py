"""MLC's ``meta_step_every``: the cost and the accuracy of a meta step on every k-th batch (issue 22).

Issue 22 asks MLC for at most 2.6x the raw loop per epoch; ``speed.py`` measured 3.96x with a meta
step on every training batch (the noisy loss's gradient with a graph, the trusted rows through the
network at the look-ahead parameters and back, a vector-Jacobian product back to T, T's projection)
before the actual step. ``MetaLossCorrectionClassifier(meta_step_every=k)`` takes the meta step on
every k-th batch only, each moving T by k * meta_lr times the meta-gradient (the same movement per
epoch), each step bounded by ``meta_max_step`` (its largest entry at most 0.05). This script
measures k = 1, 2, 4 and 8 to choose the default, and beside them k = 4 with the paper's step
per meta step (meta_lr / 4 here) and k = 4 and k = 1 without the bound (k = 1 unbounded is the
paper's algorithm), on validation splits of the training rows only, both data sets, four
development seeds.

* cost: per-epoch CPU time on ``speed.py``'s tabular set (20,000 x 50, 10 classes, 10% trusted
  rows, MLP(128), Adam, batch 128, one torch thread, 5 epochs, first dropped), interleaved rounds;
* accuracy: the MNIST subset and the tabular set of ``instance_noise.py`` (its split per seed, test
  part dropped), a stratified 20% of the training part kept clean as the validation split every
  accuracy here is measured on; 20 trusted rows per class from the rest, which gets symmetric,
  pair or flip-to-one noise at 40%; MLP(128), Adam 1e-3, batch 128, 20 epochs, the library's MLC
  defaults otherwise; development seeds 100-103 (never those of the committed accuracy results).

Command of the committed results (2 CPU cores)::

    python benchmarks/mlc_step_every.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/mlc_step_every.py --quick --out /tmp/mlc_step_every
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import _common

SEEDS = (100, 101, 102, 103)
DATASETS = ("mnist", "tabular")
NOISES = ("symmetric", "pair", "flip_to_one")
RATE = 0.4
#: (meta_step_every, meta_lr multiplier, meta_max_step bounded); the first is the reference of the differences
VARIANTS = ((1, 1, True), (2, 1, True), (4, 1, True), (8, 1, True), (4, 0.25, True), (4, 1, False), (1, 1, False))


def label(variant):
    k, scale, bounded = variant
    return (f"meta_step_every={k}" + (f", meta_lr x {scale:g}" if scale != 1 else "")
            + ("" if bounded else ", meta_max_step=None"))


def mlc(variant, **params):
    from sknoisy import MetaLossCorrectionClassifier
    from sknoisy._meta import DEFAULT_META_LR, DEFAULT_META_MAX_STEP
    from sknoisy.modules import MLP

    k, scale, bounded = variant
    return MetaLossCorrectionClassifier(MLP, meta_step_every=k, meta_lr=DEFAULT_META_LR * scale,
                                        meta_max_step=DEFAULT_META_MAX_STEP if bounded else None,
                                        module__hidden_units=(128,), optimizer=torch.optim.Adam, lr=1e-3,
                                        batch_size=128, train_split=None, verbose=0, **params)


def cost(rounds, quick):
    """Per-epoch CPU time (s) of each k and of the raw loop, interleaved rounds."""
    from speed import RAW, CpuEpochTimer, estimator_specs, fit_once, load_data

    X, y, trusted, T = load_data("tabular", quick=quick)
    runs = {label(v): ((lambda v=v: mlc(v, max_epochs=5, random_state=0,
                                        callbacks=[("cpu_timer", CpuEpochTimer())])), "sknoisy")
            for v in VARIANTS}
    runs["raw loop"] = (estimator_specs(X, y, T, 5)[RAW][0], "plain")
    times = {name: [] for name in runs}
    for round_ in range(rounds + 1):
        for name, (factory, kind) in runs.items():
            result = fit_once(factory, kind, X, y, trusted)
            if round_:
                times[name].append(result["epoch_cpu"])
    return times


def validation_accuracy(dataset, seed, noise, quick):
    """Validation accuracy (%) of each k on one (data set, seed, noise); one worker process."""
    from instance_noise import load_split, trusted_mask
    from sklearn.model_selection import train_test_split

    from sknoisy import corrupt_labels, make_transition_matrix

    torch.set_num_threads(1)
    X_train, _, y_train, _ = load_split(dataset, seed, quick)
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.2, stratify=y_train,
                                                  random_state=seed)
    mask = trusted_mask(y_fit, 20, np.random.default_rng(seed))
    T = make_transition_matrix(noise, int(y_train.max()) + 1, RATE, random_state=seed)
    y_noisy = np.where(mask, y_fit, corrupt_labels(y_fit, T, random_state=seed))
    scores = {}
    for variant in VARIANTS:
        net = mlc(variant, max_epochs=3 if quick else 20, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X_fit, y_noisy, trusted=mask)
        scores[variant] = 100 * float(np.mean(net.predict(X_val) == y_val))
    return (dataset, noise, seed), scores


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="worker processes for the accuracy part (the timed part runs alone first)")
    return parser.parse_args(argv)


def main(argv=None):
    from joblib import Parallel, delayed

    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    times = cost(1 if args.quick else 4, args.quick)
    seeds = SEEDS[:1] if args.quick else SEEDS
    tasks = [(d, s, n) for d in DATASETS for n in NOISES for s in seeds]
    acc = dict(Parallel(n_jobs=args.n_jobs)(delayed(validation_accuracy)(*task, args.quick) for task in tasks))
    elapsed = time.perf_counter() - started

    facts = _common.machine_facts("cpu")
    command = _common.command_line(argv)
    lines = [_common.header_markdown("MLC's meta_step_every: a meta step every k-th batch", facts, command)]
    lines += [f"Total run time: {elapsed / 60:.1f} min.", ""]
    for part in __doc__.split("\n\n")[1:3]:
        items = [" ".join(line.strip() for line in item.splitlines()) for item in ("\n" + part).split("\n* ")]
        lines += [items[0].strip()] if items[0].strip() else []
        lines += [f"* {item}" for item in items[1:]] + [""]
    raw = times["raw loop"]
    settings = [(d, n) for d in DATASETS for n in NOISES]

    reference = VARIANTS[0]

    def mean_acc(v, setting):
        return statistics.fmean(acc[(*setting, s)][v] for s in seeds)

    def deltas(v):
        return [mean_acc(v, st) - mean_acc(reference, st) for st in settings]

    def worst_run(v):
        return min(acc[key][v] - acc[key][reference] for key in acc)

    rows = []
    for v in VARIANTS:
        ratios = [a / b for a, b in zip(times[label(v)], raw)]
        row = [label(v), f"{1e3 * statistics.median(times[label(v)]):.1f}", f"{statistics.median(ratios):.2f}x"]
        row += [f"{mean_acc(v, st):.1f} ({mean_acc(v, st) - mean_acc(reference, st):+.1f})" for st in settings]
        row += [f"{statistics.fmean(deltas(v)):+.2f}", f"{min(deltas(v)):+.1f}", f"{worst_run(v):+.1f}"]
        rows.append(row)
    rows.append(["raw loop", f"{1e3 * statistics.median(raw):.1f}", "1.00x"] + ["-"] * (len(settings) + 3))
    lines += ["## Cost and accuracy", "",
              "Epoch CPU: median over rounds; x raw loop: median of the per-round ratios (issue 22's goal: 2.6x). "
              f"Accuracy: mean validation accuracy (%) over seeds {', '.join(map(str, seeds))} at {RATE:.0%} noise, "
              "in parentheses the difference from a meta step on every batch (k = 1); then the mean and the "
              "worst of those differences over the settings, and the worst difference of a single run "
              "(same data set, noise and seed).", ""]
    lines.append(_common.markdown_table(
        ["meta step", "epoch CPU (ms)", "x raw loop"] + [f"{d} {n} (val %)" for d, n in settings]
        + ["mean diff", "worst diff", "worst run"], rows))
    lines += ["", "## Per seed (validation accuracy, %)", ""]
    lines.append(_common.markdown_table(
        ["data set", "noise", "seed"] + [label(v) for v in VARIANTS],
        [[d, n, str(s)] + [f"{acc[(d, n, s)][v]:.1f}" for v in VARIANTS] for d, n in settings for s in seeds]))
    lines.append("")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "mlc_step_every.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = {label(v): statistics.median([a / b for a, b in zip(times[label(v)], raw)]) for v in VARIANTS}
    _common.bar_figure(out / "mlc_step_every.png", values, "epoch CPU / raw loop", "MLC: meta step every k batches",
                       facts, command, reference=("goal 2.6x", 2.6))
    print((out / "mlc_step_every.md").read_text())


if __name__ == "__main__":
    main()
