"""How AutoNoisyClassifier should choose without trusted rows: rules over the held-out noisy scores (issue 21).

Without trusted rows, auto scores every method by its accuracy on held-out
noisy labels and took the highest mean. Under noise that is not symmetric
that favours CE (``results/auto.md``: 11.4 points lost at flip-to-one 40%,
seed 5), and under every noise the differences between methods shrink by
the noise (at 40% uniform noise and 6 classes a clean difference of 2 points
is about 1 point of noisy accuracy), so fold noise decides close calls.
This study records, for many data sets, noise kinds and seeds, every
method's noisy score on every fold and its clean test accuracy, then
compares choosing rules **after the fact, on the same runs**: the rule is
selected on development seeds and reported on other seeds.

Command of the committed results (2 CPU cores): the study of ce, forward, nce+rce and elr (issue
21), then instance_forward and dividemix added to its runs, on the same folds (issue 20)::

    python benchmarks/auto_criterion.py --n-jobs 2
    python benchmarks/auto_criterion.py --analyse benchmarks/results/auto_criterion.json \
        --add-methods dividemix,instance_forward --n-jobs 2

The second command appends a section comparing every rule with the old candidates alone and with
the added ones (regret always against the best of every method).

Quick check (seconds; what the test suite runs)::

    python benchmarks/auto_criterion.py --quick --out /tmp/auto_criterion

Protocol (fixed before any result was seen):

* data sets: ``blobs`` (``make_classification``: 6,250 rows, 20 features of
  which 10 informative, 6 classes of one cluster each, the data of
  ``auto.py`` and ``own_data.py``), ``tabular`` (``instance_noise.py``'s: 5,000
  rows, 6 classes of two clusters each) and ``mnist`` (the MNIST 5,000
  subset of ``mlc_protocol.py`` and ``instance_noise.py``); a stratified 80/20
  split per seed, the test part keeps its clean labels; the tabular sets are
  standardised on the training rows;
* noise on every training label (no trusted rows): uniform, flip-random and
  flip-to-one (``make_transition_matrix``, exact counts per class), Xia et
  al.'s instance-dependent noise and annotator-like noise
  (``sknoisy.noise``), each at 20% and 40%;
* network: MLP(128), Adam 1e-3, batch 128, 20 epochs, seed = the run's;
* per run: ``AutoNoisyClassifier(MLP, random_state=seed, ...)`` with every
  default (3 stratified folds, the methods ``methods='auto'`` tries without
  trusted rows), its per-fold scores from ``cv_results_``; every other method
  fitted alone as auto builds it, on all training rows (auto's refit is the
  chosen one's), scored on the clean test split;
* rules, a family fixed in advance: ``max`` (the highest mean noisy accuracy,
  the old rule); ``margin m`` (the first method, in a preference order,
  whose mean noisy accuracy is within ``m`` points of the highest, m in
  {0.5, 1, 1.5, 2, 3}); ``z-SE`` (the first method in that order whose mean
  is within ``z`` standard errors of the paired per-fold differences to the
  highest, z in {1, 2}); the order: the methods by their mean clean test
  accuracy over the **development** runs; ``always <method>`` as references;
* regret of a run = best single method's test accuracy - the chosen one's
  (points); the rule with the lowest mean regret on the development seeds
  (100, 101) is chosen, ties to the smaller margin; then reported on seeds
  0, 1, 2, which chose nothing.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

import _common
import instance_noise

DATASETS = ("blobs", "tabular", "mnist")
KINDS = ("uniform", "symmetric", "flip_to_one", "instance", "annotator")
KIND_NAMES = {"uniform": "uniform", "symmetric": "flip-random", "flip_to_one": "flip-to-one",
              "instance": "Xia et al.", "annotator": "annotator"}
RATES = (0.2, 0.4)
DEV_SEEDS = (100, 101)
REPORT_SEEDS = (0, 1, 2)
MARGINS = (0.5, 1.0, 1.5, 2.0, 3.0)
ZS = (1.0, 2.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes (each with one torch thread)")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    parser.add_argument("--add-methods", default=None,
                        help="comma-separated methods to add to the runs of --analyse's json: each is scored on "
                             "the same folds (auto's, from the run's seed) and fitted on the run's training rows")
    parser.add_argument("--analyse", type=Path, default=None,
                        help="only analyse the runs of this auto_criterion.json (no training)")
    args = parser.parse_args(argv)
    args.datasets, args.kinds = args.datasets.split(","), args.kinds.split(",")
    args.dev_seeds, args.report_seeds = DEV_SEEDS, REPORT_SEEDS
    if args.quick:
        args.datasets, args.kinds, args.dev_seeds, args.report_seeds = ["blobs"], ["flip_to_one"], (100,), (0,)
    return args


def net_params(quick):
    if quick:
        return {"module__hidden_units": (16,), "max_epochs": 2, "batch_size": 128, "lr": 1e-2}
    return {"module__hidden_units": (128,), "max_epochs": 20, "batch_size": 128, "lr": 1e-3}


def load_split(dataset, seed, quick):
    """instance_noise.py's split of ``mnist`` and ``tabular``; ``blobs`` is auto.py's kind of data."""
    if dataset != "blobs":
        return instance_noise.load_split(dataset, seed, quick)
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(6250, 20, n_informative=10, n_classes=6, n_clusters_per_class=1,
                               random_state=2000 + seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if quick:
        X_train, y_train = X_train[:600], y_train[:600]
    return X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test


def corrupt(kind, rate, X, y, seed):
    from sknoisy import corrupt_labels, make_transition_matrix
    from sknoisy.noise import annotator_noise, instance_dependent_noise

    rng = np.random.RandomState([seed, int(round(rate * 100)), KINDS.index(kind)])
    if kind == "instance":
        return instance_dependent_noise(X, y, rate, random_state=rng)
    if kind == "annotator":
        return annotator_noise(X, y, rate, random_state=rng)
    C = int(np.unique(y).size)
    T = make_transition_matrix(kind, C, rate, random_state=seed)
    return corrupt_labels(y, T, classes=np.arange(C), random_state=rng, exact=True)


def run_task(args, dataset, kind, rate, seed, methods="auto"):
    """auto's per-fold scores and every method's clean test accuracy on one run (``methods``: auto's)."""
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    from sknoisy._auto import AutoNoisyClassifier, _MethodCandidate
    from sknoisy.modules import MLP

    X_train, X_test, y_train, y_test = load_split(dataset, seed, args.quick)
    y_noisy = corrupt(kind, rate, X_train, y_train, seed)
    params = net_params(args.quick)
    start = time.perf_counter()
    auto = AutoNoisyClassifier(MLP, methods=methods, random_state=seed, **params).fit(X_train, y_noisy)
    auto_time = time.perf_counter() - start
    results = auto.cv_results_
    n_folds = sum(1 for key in results if key.startswith("split") and key.endswith("_test_score"))
    methods = [str(m) for m in results["param_method"]]
    folds = {m: [float(results[f"split{k}_test_score"][i]) for k in range(n_folds)] for i, m in enumerate(methods)}
    test = {auto.best_method_: float(np.mean(auto.predict(X_test) == y_test))}
    for method in methods:
        if method not in test:
            # as AutoNoisyClassifier builds it when it is given no T (forward then learns its own)
            clf = _MethodCandidate(method, MLP, params, None, seed).make_estimator().fit(X_train, y_noisy)
            test[method] = float(np.mean(clf.predict(X_test) == y_test))
    return {"dataset": dataset, "kind": kind, "rate": rate, "seed": seed, "folds": folds, "test": test,
            "chosen": auto.best_method_, "flipped": float(np.mean(y_noisy != y_train)), "auto_time": auto_time}


# ------------------------------------------------------------------ rules
def rule_max(run, order):
    means = {m: np.mean(s) for m, s in run["folds"].items()}
    return max(means, key=means.get)


rule_max.__name__ = "max (highest mean)"


def rule_margin(margin):
    """The library's rule (``prefer_within_margin``) with a margin of ``margin`` points and this order."""
    from sknoisy._auto import prefer_within_margin

    def choose(run, order):
        methods = list(run["folds"])
        results = {"param_method": methods, "mean_test_score": [np.mean(run["folds"][m]) for m in methods]}
        return methods[prefer_within_margin(results, margin=margin / 100, preference=order)]

    choose.__name__ = f"margin {margin:g}"
    return choose


def rule_se(z):
    def choose(run, order):
        folds = {m: np.asarray(s) for m, s in run["folds"].items()}
        top = max(folds, key=lambda m: folds[m].mean())
        for m in order:
            if m not in folds:
                continue
            diff = folds[top] - folds[m]
            se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else 0.0
            if diff.mean() <= z * se:
                return m
        return top

    choose.__name__ = f"{z:g}-SE"
    return choose


def rule_always(method):
    def choose(run, order):
        return method

    choose.__name__ = f"always {method}"
    return choose


def regret(run, method):
    return 100 * (max(run["test"].values()) - run["test"][method])


def evaluate(runs, rule, order):
    regrets = [regret(r, rule(r, order)) for r in runs]
    return {"mean": float(np.mean(regrets)), "max": float(np.max(regrets)),
            "within1": sum(g <= 1.0 for g in regrets), "n": len(regrets),
            "chosen": [rule(r, order) for r in runs]}


def dev_order(dev_runs):
    methods = sorted({m for r in dev_runs for m in r["test"]})
    mean = {m: np.mean([r["test"][m] for r in dev_runs if m in r["test"]]) for m in methods}
    return sorted(methods, key=mean.get, reverse=True)


def rules(methods):
    return [rule_max, *[rule_margin(m) for m in MARGINS], *[rule_se(z) for z in ZS],
            *[rule_always(m) for m in methods]]


def analyse(all_runs, args):
    dev = [r for r in all_runs if r["seed"] in args.dev_seeds]
    report = [r for r in all_runs if r["seed"] in args.report_seeds]
    order = dev_order(dev)
    family = rules(order)
    dev_scores = {rule.__name__: evaluate(dev, rule, order) for rule in family}
    selectable = [rule for rule in family if not rule.__name__.startswith("always")]
    chosen = min(selectable, key=lambda rule: (round(dev_scores[rule.__name__]["mean"], 6), family.index(rule)))
    report_scores = {rule.__name__: evaluate(report, rule, order) for rule in family}
    return order, family, dev_scores, report_scores, chosen


def write_outputs(all_runs, args, elapsed):
    from collections import Counter

    order, family, dev_scores, report_scores, chosen = analyse(all_runs, args)
    report = [r for r in all_runs if r["seed"] in args.report_seeds]
    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    md = [_common.header_markdown("Auto without trusted rows: which rule chooses best (issue 21)", facts,
                                  _common.command_line())]
    md.append(
        f"Protocol: see the docstring of `benchmarks/auto_criterion.py`. {len(all_runs)} runs "
        f"({len(args.datasets)} data sets x {len(args.kinds)} noise kinds x {len(RATES if not args.quick else (0.4,))} "
        f"rates x {len(args.dev_seeds) + len(args.report_seeds)} seeds); development seeds "
        f"{', '.join(map(str, args.dev_seeds))}, report seeds {', '.join(map(str, args.report_seeds))}. "
        f"Regret = best single method's clean test accuracy - the chosen method's (points). Run time "
        f"{elapsed / 60:.1f} min.\n"
    )
    md.append(f"Preference order (mean clean test accuracy over the development runs): {' > '.join(order)}.\n")
    md.append(f"**Rule chosen on the development seeds: {chosen.__name__}.**\n")
    rows = []
    for rule in family:
        name = rule.__name__
        d, r = dev_scores[name], report_scores[name]
        counts = Counter(r["chosen"])
        rows.append([f"**{name}**" if rule is chosen else name, f"{d['mean']:.2f}", f"{r['mean']:.2f}",
                     f"{r['max']:.1f}", f"{r['within1']}/{r['n']}",
                     ", ".join(f"{m} x{c}" for m, c in counts.most_common())])
    md.append(_common.markdown_table(
        ["rule", "dev mean regret", "report mean regret", "report max regret", "report runs within 1 point",
         "report: methods chosen"], rows))

    md.append("\n## Report seeds, per data set and noise kind: mean regret of the old rule (max) and the chosen one\n")
    rows = []
    for dataset in args.datasets:
        for kind in args.kinds:
            part = [r for r in report if (r["dataset"], r["kind"]) == (dataset, kind)]
            if not part:
                continue
            old, new = evaluate(part, rule_max, order), evaluate(part, chosen, order)
            best = Counter(max(r["test"], key=r["test"].get) for r in part).most_common(1)[0][0]
            rows.append([dataset, KIND_NAMES[kind], f"{old['mean']:.2f}", f"{new['mean']:.2f}",
                         f"{old['max']:.1f}", f"{new['max']:.1f}", best])
    md.append(_common.markdown_table(["data", "noise", "max: mean regret", "chosen: mean regret", "max: worst",
                                      "chosen: worst", "most often best"], rows))

    md.append("\n## Every run: clean test accuracy (%) and mean held-out noisy accuracy (%) of each method\n")
    rows = []
    for r in sorted(all_runs, key=lambda r: (r["seed"] not in args.dev_seeds, r["dataset"], r["kind"], r["rate"],
                                              r["seed"])):
        rows.append([r["dataset"], KIND_NAMES[r["kind"]], f"{round(100 * r['rate'])}%", str(r["seed"]),
                     ", ".join(f"{m} {100 * r['test'][m]:.1f} / {100 * np.mean(r['folds'][m]):.1f}"
                               for m in order if m in r["test"]),
                     rule_max(r, order), chosen(r, order)])
    md.append(_common.markdown_table(["data", "noise", "rate", "seed", "test / noisy CV", "max", "chosen"], rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "auto_criterion.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(
        args.out / "auto_criterion.png", {rule.__name__: report_scores[rule.__name__]["mean"] for rule in family},
        "mean regret on the report seeds (points; lower is better)",
        "Auto without trusted rows: rules", facts, _common.command_line(),
        reference=(f"chosen on the development seeds: {chosen.__name__}", report_scores[chosen.__name__]["mean"]),
    )
    return chosen, order


def restricted(runs, methods):
    """The runs with only ``methods`` as candidates: their fold scores; regret still against every method."""
    return [{**r, "folds": {m: s for m, s in r["folds"].items() if m in methods}} for r in runs]


def candidates_section(all_runs, args, base_methods):
    """Markdown: each selectable rule's regret with the old candidates and with the added methods too."""
    dev = [r for r in all_runs if r["seed"] in args.dev_seeds]
    report = [r for r in all_runs if r["seed"] in args.report_seeds]
    order_all = dev_order(dev)
    order_base = [m for m in order_all if m in base_methods]
    added = [m for m in order_all if m not in base_methods]
    rows = []
    for rule in rules(order_all):
        if rule.__name__.startswith("always"):
            continue
        base_dev = evaluate(restricted(dev, base_methods), rule, order_base)["mean"]
        base_rep = evaluate(restricted(report, base_methods), rule, order_base)
        all_dev = evaluate(dev, rule, order_all)["mean"]
        all_rep = evaluate(report, rule, order_all)
        rows.append([rule.__name__, f"{base_dev:.2f}", f"{all_dev:.2f}", f"{base_rep['mean']:.2f}",
                     f"{all_rep['mean']:.2f}", f"{base_rep['max']:.1f}", f"{all_rep['max']:.1f}"])
    lines = [
        f"\n## Candidates: {', '.join(base_methods)} alone, or with {', '.join(added)} too\n",
        "Each rule chooses among the old candidates (their preference order: "
        f"{' > '.join(order_base)}) or among all ({' > '.join(order_all)}); regret is always against the best "
        "of every method, so the columns compare like with like.\n",
        _common.markdown_table(["rule", "dev regret: old", "dev regret: all", "report regret: old",
                                "report regret: all", "report worst: old", "report worst: all"], rows),
    ]
    return "\n".join(lines) + "\n"


def add_methods(args):
    """Score ``--add-methods`` on the runs of ``--analyse``'s json (the same folds, seeds and data)."""
    from joblib import Parallel, delayed

    runs = json.loads(args.analyse.read_text())
    extra = args.add_methods.split(",")
    base_methods = sorted({m for r in runs for m in r["folds"]} - set(extra))
    start = time.perf_counter()
    jobs = [(r["dataset"], r["kind"], r["rate"], r["seed"]) for r in runs]
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = (delayed(run_task)(args, *job, methods=extra) for job in jobs)
    for i, added in enumerate(Parallel(n_jobs=args.n_jobs, return_as="generator")(tasks)):
        runs[i]["folds"].update(added["folds"])
        runs[i]["test"].update(added["test"])
        runs[i]["added_time"] = added["auto_time"]
        (args.out / "auto_criterion.json").write_text(json.dumps(runs[: i + 1]), encoding="utf-8")
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] {', '.join(map(str, jobs[i]))}: "
              + ", ".join(f"{m} {100 * a:.1f}/{100 * np.mean(added['folds'][m]):.1f}"
                          for m, a in added["test"].items()), flush=True)
    (args.out / "auto_criterion.json").write_text(json.dumps(runs), encoding="utf-8")
    return runs, base_methods, time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    if args.analyse is not None and args.add_methods:
        runs, base_methods, elapsed = add_methods(args)
        chosen, order = write_outputs(runs, args, elapsed)
        with open(args.out / "auto_criterion.md", "a", encoding="utf-8") as md:
            md.write(candidates_section(runs, args, base_methods))
        print(f"rule chosen: {chosen.__name__}; order {order}")
        return
    if args.analyse is not None:
        runs = json.loads(args.analyse.read_text())
        chosen, order = write_outputs(runs, args, 0.0)
        print(f"rule chosen: {chosen.__name__}; order {order}")
        return
    from joblib import Parallel, delayed

    rates = (0.4,) if args.quick else RATES
    seeds = (*args.dev_seeds, *args.report_seeds)
    jobs = [(d, k, rate, s) for s in seeds for d in args.datasets for k in args.kinds for rate in rates]
    start = time.perf_counter()
    runs = []
    args.out.mkdir(parents=True, exist_ok=True)
    for run in Parallel(n_jobs=args.n_jobs, return_as="generator")(delayed(run_task)(args, *job) for job in jobs):
        runs.append(run)
        (args.out / "auto_criterion.json").write_text(json.dumps(runs), encoding="utf-8")
        print(f"[{(time.perf_counter() - start) / 60:5.1f} min] {run['dataset']} {run['kind']} {run['rate']} seed "
              f"{run['seed']}: chose {run['chosen']}; "
              + ", ".join(f"{m} {100 * a:.1f}/{100 * np.mean(run['folds'][m]):.1f}" for m, a in run["test"].items()),
              flush=True)
    chosen, order = write_outputs(runs, args, time.perf_counter() - start)
    print(f"rule chosen: {chosen.__name__}; order {order}; wrote {args.out / 'auto_criterion.md'}")


if __name__ == "__main__":
    main()
