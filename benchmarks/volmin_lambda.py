"""VolMin's lambda chosen across data sets, on validation splits of the training rows (issue 21).

``benchmarks/volmin.py`` chose ``volmin_lambda=1e-2`` on the MNIST subset alone, with no warm-up
epochs (the defaults of that time); on digits 1e-4 did better in 2 of 3 noise kinds. This study
chooses it again, with today's defaults, over three data sets weighted equally.

Command of the committed results (2 CPU cores)::

    python benchmarks/volmin_lambda.py --seeds 3 --n-jobs 2

Quick check (seconds; what the test suite runs)::

    python benchmarks/volmin_lambda.py --quick --out /tmp/volmin_lambda

Protocol (fixed before any result was seen; the **test split is never loaded**):

* data sets: the MNIST 5,000 subset and scikit-learn's 1,797 8x8 digits
  (``mlc_protocol.load_split``: 80/20 and 70/30 splits per seed, the test
  part dropped) and a tabular set (``make_classification``: 5,000 rows, 20
  features of which 10 informative, 6 classes, 2 clusters per class; 80%
  kept as training rows, standardised on them); from each training part a
  stratified 20% **validation split** keeps its clean labels, and every
  other row is trained on with a noisy label;
* noise: uniform, flip-random and flip-to-one (``make_transition_matrix``,
  exact counts per class) at 20% and 40%;
* networks: MNIST and tabular MLP(128), Adam 1e-3, batch 128, 20 epochs;
  digits MLP(128), batch 64, 40 epochs (the MLC protocol's);
* candidates: ``ForwardCorrectedClassifier`` with every default (T learned
  with the network, ``'volmin'``, warm-up epochs included) and
  ``volmin_lambda`` in {0, 1e-4, 1e-3, 1e-2, 1e-1, 0.3, 1}; CE as a reference;
* the choice: the highest mean validation accuracy, each data set weighted
  equally (the mean over data sets of the mean over settings and seeds);
  within 0.25 points of it, the lowest mean T error (mean row-L1 distance
  to the true T).

History: the grid first stopped at 1e-1; the first MNIST runs were best at that edge (by 0.3 to 4
points over 1e-2), so it was extended to 0.3 and 1 before the run that is committed.
"""

import argparse
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import _common
import instance_noise
import mlc_protocol

DATASETS = ("mnist", "digits", "tabular")
KINDS = (("uniform", "uniform"), ("symmetric", "flip-random"), ("flip_to_one", "flip-to-one"))
RATES = (0.2, 0.4)
LAMBDAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 0.3, 1.0)
TIE_POINTS = 0.25


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1); default 3")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: mnist, digits, tabular")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes (each with one torch thread)")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    args = parser.parse_args(argv)
    args.datasets = args.datasets.split(",")
    if args.quick:
        args.seeds, args.datasets = 1, ["digits", "tabular"]
    return args


def net_params(dataset, quick):
    return mlc_protocol.net_params(SimpleNamespace(quick=quick, dataset=dataset))


def load_training_rows(dataset, seed, quick):
    """The training part of the seed's split (the test part is never returned)."""
    if dataset != "tabular":
        X, _, y, _ = mlc_protocol.load_split(SimpleNamespace(quick=quick, dataset=dataset), seed)
        return np.asarray(X, dtype=np.float32), np.asarray(y)
    X, _, y, _ = instance_noise.load_split("tabular", seed, quick)
    return X, y


def run_task(args, dataset, seed, kind, rate):
    """CE and forward at every lambda on one (data set, seed, noise setting)."""
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sklearn.model_selection import train_test_split

    from sknoisy import (
        CrossEntropyClassifier,
        ForwardCorrectedClassifier,
        corrupt_labels,
        make_transition_matrix,
        transition_matrix_error,
    )
    from sknoisy.modules import MLP

    X, y = load_training_rows(dataset, seed, args.quick)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, stratify=y, random_state=1000 + seed)
    C = int(np.unique(y).size)
    T = make_transition_matrix(kind, C, rate, random_state=seed)
    rng = np.random.RandomState([seed, int(round(rate * 100)), [k for k, _ in KINDS].index(kind)])
    y_noisy = corrupt_labels(y_fit, T, classes=np.arange(C), random_state=rng, exact=True)
    net = {**net_params(dataset, args.quick), "random_state": seed}
    runs = {}

    def fit(name, clf):
        start = time.perf_counter()
        clf.fit(X_fit, y_noisy)
        run = {"acc": float(np.mean(clf.predict(X_val) == y_val)), "time": time.perf_counter() - start}
        if hasattr(clf, "transition_matrix_"):
            run["T_error"] = transition_matrix_error(clf.transition_matrix_, T)
        runs[name] = run

    fit("CE", CrossEntropyClassifier(MLP, **net))
    for lam in LAMBDAS:
        fit(lam, ForwardCorrectedClassifier(MLP, transition_matrix="volmin", volmin_lambda=lam, **net))
    return {"dataset": dataset, "seed": seed, "kind": kind, "rate": rate, "runs": runs}


def mean_of(tasks, name, key="acc", scale=1.0):
    values = [t["runs"][name][key] for t in tasks if name in t["runs"] and key in t["runs"][name]]
    return scale * float(np.mean(values)) if values else float("nan")


def dataset_mean(tasks, name, datasets, key="acc", scale=1.0):
    """Each data set weighted equally."""
    return float(np.mean([mean_of([t for t in tasks if t["dataset"] == d], name, key, scale) for d in datasets]))


def choose(tasks, datasets):
    accs = {lam: dataset_mean(tasks, lam, datasets, scale=100) for lam in LAMBDAS}
    best = max(accs.values())
    tied = [lam for lam in LAMBDAS if accs[lam] >= best - TIE_POINTS]
    return min(tied, key=lambda lam: dataset_mean(tasks, lam, datasets, "T_error"))


def write_outputs(args, tasks, elapsed):
    from sknoisy._loss_correction import DEFAULT_VOLMIN_LAMBDA

    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    label = dict(KINDS)
    datasets = [d for d in args.datasets if any(t["dataset"] == d for t in tasks)]
    chosen = choose(tasks, datasets)
    names = ["CE", *LAMBDAS]
    title = "VolMin's lambda across data sets, on validation splits (issue 21)"
    md = [_common.header_markdown(title, facts, _common.command_line())]
    md.append(
        f"Protocol: see the docstring of `benchmarks/volmin_lambda.py`. Seeds 0..{args.seeds - 1}; validation "
        f"accuracy (%) on clean rows carved out of the training rows (the test split is never loaded), mean ± "
        f"std over seeds; T error = mean row-L1 distance of the learned T to the true T. Run time "
        f"{elapsed / 60:.1f} min. The library's default when this ran: {DEFAULT_VOLMIN_LAMBDA:g}.\n"
    )
    md.append("## Choice\n")
    md.append(
        f"- lambda chosen (highest mean over data sets, ties within {TIE_POINTS} points broken by T error): "
        f"**{chosen:g}**\n"
    )
    rows = []
    for lam in LAMBDAS:
        rows.append([f"{lam:g}", *[f"{mean_of([t for t in tasks if t['dataset'] == d], lam, scale=100):.2f}"
                                   for d in datasets],
                     f"**{dataset_mean(tasks, lam, datasets, scale=100):.2f}**",
                     f"{dataset_mean(tasks, lam, datasets, 'T_error'):.3f}",
                     str(sum(mean_of([t for t in tasks if (t['dataset'], t['kind'], t['rate']) == s], lam)
                             >= max(mean_of([t for t in tasks if (t['dataset'], t['kind'], t['rate']) == s], m)
                                    for m in LAMBDAS) - 1e-12
                             for s in {(t['dataset'], t['kind'], t['rate']) for t in tasks}))])
    rows.append(["CE", *[f"{mean_of([t for t in tasks if t['dataset'] == d], 'CE', scale=100):.2f}"
                         for d in datasets], f"{dataset_mean(tasks, 'CE', datasets, scale=100):.2f}", "-", "-"])
    md.append(_common.markdown_table(
        ["lambda", *[f"{d} acc" for d in datasets], "mean acc", "mean T error", "settings where best (ties count)"],
        rows))
    for d in datasets:
        md.append(f"\n## {d}: validation accuracy (%), mean ± std over seeds (T error below)\n")
        part = [t for t in tasks if t["dataset"] == d]
        settings = sorted({(t["kind"], t["rate"]) for t in part}, key=lambda s: ([k for k, _ in KINDS].index(s[0]), s[1]))
        rows = []
        for kind, rate in settings:
            ts = [t for t in part if (t["kind"], t["rate"]) == (kind, rate)]
            rows.append([f"{label[kind]} {round(100 * rate)}%",
                         *[_common.mean_std([t["runs"][n]["acc"] for t in ts], scale=100) for n in names]])
            rows.append(["  T error", "-", *[f"{mean_of(ts, lam, 'T_error'):.3f}" for lam in LAMBDAS]])
        md.append(_common.markdown_table(["setting", "CE", *[f"lambda {lam:g}" for lam in LAMBDAS]], rows))
    md.append("\n## Fit time (s, median over runs)\n")
    md.append(_common.markdown_table(
        ["method", "median fit (s)"],
        [[f"{n}" if n == "CE" else f"lambda {n:g}",
          f"{np.median([t['runs'][n]['time'] for t in tasks]):.2f}"] for n in names]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "volmin_lambda.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(
        args.out / "volmin_lambda.png",
        {**{f"lambda {lam:g}": dataset_mean(tasks, lam, datasets, scale=100) for lam in LAMBDAS},
         "CE": dataset_mean(tasks, "CE", datasets, scale=100)},
        "validation accuracy (%), mean over data sets", title, facts, _common.command_line(),
        reference=(f"chosen: lambda {chosen:g}", dataset_mean(tasks, chosen, datasets, scale=100)),
    )
    return chosen


def main(argv=None):
    args = parse_args(argv)
    from joblib import Parallel, delayed

    rates = (0.4,) if args.quick else RATES
    jobs = [(d, seed, kind, rate) for d in args.datasets for kind, _ in KINDS for rate in rates
            for seed in range(args.seeds)]
    start = time.perf_counter()
    tasks = []
    for result in Parallel(n_jobs=args.n_jobs, return_as="generator")(delayed(run_task)(args, *j) for j in jobs):
        tasks.append(result)
        accs = " ".join(f"{n if n == 'CE' else f'{n:g}'} {100 * r['acc']:.1f}" for n, r in result["runs"].items())
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] {result['dataset']} {result['kind']} "
              f"{result['rate']} seed {result['seed']}: {accs}", flush=True)
    chosen = write_outputs(args, tasks, time.perf_counter() - start)
    print(f"lambda chosen: {chosen:g}; wrote {args.out / 'volmin_lambda.md'}")


if __name__ == "__main__":
    main()
