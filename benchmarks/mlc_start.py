"""Where MLC's T should start, with the 10% settings included (issue 11, phase E).

Command of the committed results (2 CPU cores)::

    python benchmarks/mlc_start.py --seeds 3 --n-jobs 2

Quick check (seconds)::

    python benchmarks/mlc_start.py --quick --out /tmp/mlc_start

``mlc_options.py`` and ``mlc_gold_start.py`` chose MLC's options on the 20%
and 40% settings only; on the MLC protocol's 10% settings the identity start
then ended with a T *worse than the identity* (its error grows after the
first epochs). This script measures, on the same data, validation split and
network as ``mlc_options.py`` (the test split is never loaded), at 10% and 40%
uniform, flip-random and flip-to-one noise:

* MLC (column normalisation, Adam look-ahead, one batch of trusted rows per
  step, trusted rows trained on) from three starts: the identity (the
  defaults of the first release of this study), GLC's gold estimate and the
  confident joint (no trusted row needed), each at two ``meta_lr``;
* the confident-joint start with two epochs of plain cross-entropy first
  (``warm_up_epochs=2``; the authors' code pre-trains with it);
* two references that separate the estimate from the method: GLC *given the
  true T* and MLC started from the true T (``meta_lr`` 0.05), which shows
  where the meta-gradient takes a T that is already right.

The 'column' normalisation keeps the column sums of the initial T (the
meta objective cannot see column scales); the first run of this script
rescaled them to 1, which moved a row-stochastic start whose columns do not
sum to 1 (flip-to-one noise) away from itself at the first step: from the
true T at flip-to-one 40%, a T error of 0.15-0.22 before any learning.

Rule: ``mlc_options.py``'s (eligible: mean T error at most GLC's and at most
the identity's in every setting; then the best accuracy, ties within 0.25
points by T error). When no variant is eligible, the fallback: the most
accurate variant whose mean T error is at most GLC's plus ``T_TOLERANCE``.

Written: ``mlc_start.md`` and ``mlc_start.png``.
"""

import time
import warnings

import numpy as np

import _common
import mlc_options
import mlc_protocol

RATES = (0.1, 0.4)
#: the options every MLC row shares (spelled out so that the library's defaults do not change the meaning)
SHARED = {"normalization": "column", "look_ahead": "optimizer", "meta_batch_size": None, "train_on_trusted": True,
          "virtual_lr": 0.01, "reset_each_step": False, "warm_up_epochs": 0}
#: (start, meta_lr) also run with two epochs of plain cross-entropy first (the authors' code pre-trains with it)
WARM_UP = (("confident_joint", 0.01), ("confident_joint", 0.02))
STARTS = (("identity", "identity", (0.25, 1.0)), ("gold", "GLC's gold estimate", (0.05, 0.01)),
          ("confident_joint", "confident joint", (0.05, 0.25, 0.02, 0.01)))
T_TOLERANCE = 0.01
TRUE_T_MLC = "MLC from the true T, meta_lr 0.05 (oracle start)"
TRUE_T_GLC = "GLC given the true T (oracle)"


def variants(quick=False):
    out = {}
    for spec, label, lrs in STARTS:
        for lr in lrs[:1] if quick else lrs:
            out[f"{label}, meta_lr {lr:g}"] = {**SHARED, "transition_matrix": spec, "meta_lr": lr}
    for spec, lr in WARM_UP[:1] if quick else WARM_UP:
        label = dict((s, l) for s, l, _ in STARTS)[spec]
        out[f"{label}, meta_lr {lr:g}, warm-up 2 epochs"] = {**SHARED, "transition_matrix": spec, "meta_lr": lr,
                                                              "warm_up_epochs": 2}
    return out


def run_task(args, seed, kind, rate, named):
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sknoisy import CrossEntropyClassifier, GLCClassifier, MetaLossCorrectionClassifier, transition_matrix_error
    from sknoisy.modules import MLP

    X, y, trusted, X_val, y_val, T = mlc_options.load_run(args, seed, kind, rate)
    net = {**mlc_protocol.net_params(args), "random_state": seed}
    out = {"seed": seed, "kind": kind, "rate": rate, "runs": {},
           "identity_T_error": transition_matrix_error(np.eye(len(T)), T)}

    def fit(name, clf, **fit_params):
        start = time.perf_counter()
        clf.fit(X, y, **fit_params)
        run = {"acc": float(np.mean(clf.predict(X_val) == y_val)), "time": time.perf_counter() - start}
        if hasattr(clf, "transition_matrix_"):
            run["T_error"] = transition_matrix_error(clf.transition_matrix_, T)
        if hasattr(clf, "initial_transition_matrix_"):
            run["T_error_start"] = transition_matrix_error(clf.initial_transition_matrix_, T)
        if "transition_matrix_error" in clf.history[-1]:
            run["T_error_per_epoch"] = list(clf.history[:, "transition_matrix_error"])
        out["runs"][name] = run

    fit("CE", CrossEntropyClassifier(MLP, **net))
    fit("GLC", GLCClassifier(MLP, **net), trusted=trusted)
    fit(TRUE_T_GLC, GLCClassifier(MLP, transition_matrix=T, **net), trusted=trusted)
    fit(TRUE_T_MLC, MetaLossCorrectionClassifier(
        MLP, true_transition_matrix=T, **net,
        **{**_common.MLC_EVERY_BATCH, **SHARED, "transition_matrix": T, "meta_lr": 0.05}), trusted=trusted)
    for name, params in named.items():
        fit(name, MetaLossCorrectionClassifier(MLP, true_transition_matrix=T, **net,
                                               **{**_common.MLC_EVERY_BATCH, **params}), trusted=trusted)
    return out


def choose(summary, names, references):
    """mlc_options' rule; when it finds no eligible variant, the fallback of the docstring."""
    if any(mlc_options.eligible(summary, n, references) for n in names):
        return mlc_options.choose(summary, names, references), "rule"
    close = [n for n in names if summary[n]["T_error"] <= references["glc"] + T_TOLERANCE]
    if not close:
        return None, "none"
    return max(close, key=lambda n: summary[n]["acc"]), "fallback"


def main(argv=None):
    args = mlc_options.parse_args(argv)  # the same arguments, data and quick run
    from joblib import Parallel, delayed

    kinds = mlc_options.KINDS[-1:] if args.quick else mlc_options.KINDS
    rates = (0.4,) if args.quick else RATES
    named = variants(args.quick)
    start = time.perf_counter()
    tasks = []
    jobs = [(seed, kind, rate) for kind, _ in kinds for rate in rates for seed in range(args.seeds)]
    for result in Parallel(n_jobs=args.n_jobs, return_as="generator")(
        delayed(run_task)(args, seed, kind, rate, named) for seed, kind, rate in jobs
    ):
        tasks.append(result)
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] seed {result['seed']} {result['kind']} {result['rate']}: "
              + " | ".join(f"{n} {100 * r['acc']:.1f}/{r.get('T_error', float('nan')):.3f}" for n, r in result["runs"].items()),
              flush=True)
    elapsed = time.perf_counter() - start
    every = ["CE", "GLC", TRUE_T_GLC, TRUE_T_MLC, *named]
    summary = mlc_options.summarise(tasks, every)
    references = mlc_options.references_of(tasks, summary)
    final, how = choose(summary, list(named), references)

    settings = [(k, label, r) for k, label in kinds for r in rates]
    setting_names = [f"{label} {int(r * 100)}%" for _, label, r in settings]

    def cells(name, key):
        return mlc_options.setting_cells(tasks, settings, name, key)

    rows = []
    for name in every:
        s = summary[name]
        good = ("yes" if mlc_options.eligible(summary, name, references) else "no") if name in named else "-"
        drift = f"{s['best_epoch']:.0f} / {s['last_near']}" if "last_near" in s else "-"
        starts = [t["runs"][name]["T_error_start"] for t in tasks if "T_error_start" in t["runs"][name]]
        rows.append([name, f"{s['acc']:.2f}", f"{s['T_error']:.3f}" if "T_error" in s else "-",
                     f"{np.mean(starts):.3f}" if starts else "-", good, drift,
                     f"{s['time']:.1f}", *cells(name, "acc"), *cells(name, "T_error")])
    identity = references["identity_by_setting"]
    rows.append(["identity (reference)", "-", f"{np.mean(list(identity.values())):.3f}", "-", "-", "-", "-",
                 *["-"] * len(settings), *[f"{identity[(k, r)]:.3f}" for k, _, r in settings]])
    headers = ["variant", "val acc (%)", "T error", "T error at the start", "eligible", "T drift: best epoch / last within 0.05", "fit (s)",
               *[f"acc {n}" for n in setting_names], *[f"T err {n}" for n in setting_names]]
    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    md = [_common.header_markdown("Where MLC's T should start, 10% settings included (issue 11, phase E)", facts,
                                  _common.command_line())]
    md.append(f"Same data, validation split and network as `mlc_options.md` ({args.seeds} seed(s) x {len(settings)} "
              f"settings; the test split is never loaded); every MLC row uses {SHARED}; GLC with the library's "
              f"defaults; wall time {elapsed / 60:.1f} min.\n")
    md.append(_common.markdown_table(headers, rows))
    verdict = {"rule": "the rule of `mlc_options.py`", "fallback": "no variant is eligible under the rule of "
               f"`mlc_options.py`; the fallback (best accuracy with a mean T error at most GLC's + {T_TOLERANCE:g})",
               "none": "no variant is eligible, not even under the fallback"}[how]
    md.append(f"\nChoice ({verdict}): **{final}**.\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlc_start.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(args.out / "mlc_start.png", {name: summary[name]["acc"] for name in every},
                       "mean validation accuracy (%)", "Where MLC's T starts", facts, _common.command_line(),
                       reference=("GLC", summary["GLC"]["acc"]))
    print(f"choice ({how}): {final}; wrote {args.out / 'mlc_start.md'} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
