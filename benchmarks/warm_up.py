"""A few epochs of plain cross-entropy before the corrected loss (``warm_up_epochs``), on a validation split.

Command of the committed results (2 CPU cores)::

    python benchmarks/warm_up.py --seeds 3 --n-jobs 2

Quick check (seconds)::

    python benchmarks/warm_up.py --quick --out /tmp/warm_up

Why: forward correction with the *true* T was unsteady on the MNIST subset at
flip-to-one 40% (``mlc_protocol.md``: 82.1 +/- 8.3). Per seed, whole classes
had 0% recall exactly in the seeds whose T has a 2-cycle (class a flips to b
and b to a, at 0.4): the network merged the pair, which costs the corrected
loss little (a swapped pair of rows 0.6/0.4 costs 0.08 nats per row more
than the truth); seeds without a 2-cycle did not collapse. Starting with
plain cross-entropy, whose noisy majority label is still the clean one,
separates the pair first.

Protocol (fixed before the run; the **test split is never loaded**): the data,
settings and validation split of ``benchmarks/mlc_options.py`` (the MNIST
5,000 subset, the protocol's train split minus a stratified 20% clean
validation split; uniform / flip-random / flip-to-one at 20% and 40%; 20
trusted rows per class, used by GLC only), the MLC protocol's network and
training (MLP(128), Adam 1e-3, batch 128, 20 epochs). Each method with
``warm_up_epochs`` 0 and 2 (the default): forward with the true T, forward
with the anchor T-hat (``transition_matrix='anchor'``, estimated once, given to both), forward with the T
learned with the network (``'volmin'``), GLC (its estimate computed once,
given to both). Reported: mean validation accuracy per setting, the lowest
per-class recall (a collapsed class shows as 0), and the differences.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import _common
import mlc_options
import mlc_protocol

METHODS = [("forward_true", "Forward (true T)"), ("forward_hat", "Forward (T-hat, anchor)"),
           ("volmin", "Forward (volmin)"), ("glc", "GLC")]
WARM_UPS = (0, 2)


def run_task(args, seed, kind, rate):
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sknoisy import ForwardCorrectedClassifier
    from sknoisy._glc import GLCClassifier
    from sknoisy.modules import MLP

    X, y, trusted, X_val, y_val, T = mlc_options.load_run(args, seed, kind, rate)
    net = {**mlc_protocol.net_params(args), "random_state": seed}
    out = {"seed": seed, "kind": kind, "rate": rate, "acc": {}, "min_recall": {}}

    def score(key, clf):
        pred = clf.predict(X_val)
        out["acc"][key] = float(np.mean(pred == y_val))
        out["min_recall"][key] = float(min(np.mean(pred[y_val == c] == c) for c in np.unique(y_val)))

    T_hat = ForwardCorrectedClassifier(MLP, transition_matrix="anchor", **net).fit(X, y).transition_matrix_
    T_gold = GLCClassifier(MLP, **net).fit(X, y, trusted=trusted).transition_matrix_
    for k in WARM_UPS:
        score(("forward_true", k), ForwardCorrectedClassifier(MLP, transition_matrix=T, warm_up_epochs=k, **net).fit(X, y))
        score(("forward_hat", k), ForwardCorrectedClassifier(MLP, transition_matrix=T_hat, warm_up_epochs=k, **net).fit(X, y))
        score(("volmin", k), ForwardCorrectedClassifier(MLP, transition_matrix="volmin", warm_up_epochs=k, **net).fit(X, y))
        score(("glc", k), GLCClassifier(MLP, transition_matrix=T_gold, warm_up_epochs=k, **net).fit(X, y, trusted=trusted))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    args = parser.parse_args(argv)
    args.dataset, args.trusted_per_class = "mnist", 20
    if args.quick:
        args.seeds, args.dataset, args.trusted_per_class = 1, "digits", 5
    args.quick = bool(args.quick)
    import torch
    from joblib import Parallel, delayed

    torch.set_num_threads(1)
    kinds = mlc_options.KINDS[-1:] if args.quick else mlc_options.KINDS
    rates = (0.4,) if args.quick else mlc_options.RATES
    jobs = [(seed, kind, rate) for kind, _ in kinds for rate in rates for seed in range(args.seeds)]
    start = time.perf_counter()
    tasks = []
    for result in Parallel(n_jobs=args.n_jobs, return_as="generator")(delayed(run_task)(args, *job) for job in jobs):
        tasks.append(result)
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] seed {result['seed']} {result['kind']} {result['rate']}: "
              + " | ".join(f"{m} {k}: {100 * result['acc'][(m, k)]:.1f}" for m, _ in METHODS for k in WARM_UPS), flush=True)
    elapsed = time.perf_counter() - start

    settings = [(k, label, r) for k, label in kinds for r in rates]
    headers = ["setting"] + [f"{label}, warm-up {k}" for _, label in METHODS for k in WARM_UPS]
    acc_rows, rec_rows, diffs = [], [], {m: [] for m, _ in METHODS}
    for kind, label, rate in settings:
        runs = [t for t in tasks if t["kind"] == kind and t["rate"] == rate]
        acc_rows.append([f"{label} {int(rate * 100)}%"] + [
            _common.mean_std([t["acc"][(m, k)] for t in runs], scale=100) for m, _ in METHODS for k in WARM_UPS])
        rec_rows.append([f"{label} {int(rate * 100)}%"] + [
            ", ".join(f"{100 * t['min_recall'][(m, k)]:.0f}" for t in runs) for m, _ in METHODS for k in WARM_UPS])
        for m, _ in METHODS:
            diffs[m] += [100 * (t["acc"][(m, WARM_UPS[1])] - t["acc"][(m, WARM_UPS[0])]) for t in runs]
    means = [f"**{100 * np.mean([t['acc'][(m, k)] for t in tasks]):.2f}**" for m, _ in METHODS for k in WARM_UPS]
    acc_rows.append(["**mean**", *means])
    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    md = [_common.header_markdown("Plain cross-entropy warm-up before the corrected loss (warm_up_epochs)", facts,
                                  _common.command_line())]
    md.append(f"Protocol: the docstring of `benchmarks/warm_up.py`; {args.seeds} seed(s) x {len(settings)} settings; "
              f"validation accuracy (the test split is never loaded); wall time {elapsed / 60:.1f} min.\n")
    md.append("## Validation accuracy (%), mean ± std over seeds\n")
    md.append(_common.markdown_table(headers, acc_rows))
    md.append("\n## Lowest per-class recall (%), per seed (0: a class the network lost)\n")
    md.append(_common.markdown_table(headers, rec_rows))
    md.append(f"\n## Warm-up {WARM_UPS[1]} minus warm-up {WARM_UPS[0]} (points, over every run)\n")
    md.append(_common.markdown_table(["method", "mean", "median", "min", "max", "runs better / worse"], [
        [label, f"{np.mean(diffs[m]):+.2f}", f"{np.median(diffs[m]):+.2f}", f"{min(diffs[m]):+.2f}", f"{max(diffs[m]):+.2f}",
         f"{sum(d > 0 for d in diffs[m])} / {sum(d < 0 for d in diffs[m])}"] for m, label in METHODS]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "warm_up.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(args.out / "warm_up.png",
                       {f"{label}, warm-up {k}": 100 * np.mean([t["acc"][(m, k)] for t in tasks])
                        for m, label in METHODS for k in WARM_UPS},
                       "mean validation accuracy (%)", "CE warm-up before the corrected loss", facts,
                       _common.command_line())
    print(f"wrote {args.out / 'warm_up.md'} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
