"""AutoNoisyClassifier against every single method, with 10% trusted rows and without (issue 14).

Command of the committed results (2 CPU cores)::

    python benchmarks/auto.py --seeds 3 --first-seed 3

Quick check (seconds; what the test suite runs)::

    python benchmarks/auto.py --quick --out /tmp/auto

Protocol (fixed before any result was seen; nothing is selected on the test split):

* data: ``sknoisy.make_noisy_classification`` with 6,250 rows, 20 features
  (10 informative), 6 classes of one Gaussian cluster each
  (``n_clusters_per_class=1``; the generator's default of two clusters and
  few informative features gives a problem where even clean labels reach
  only about 70% with this network, which says little about label noise),
  per seed; a stratified split keeps 5,000 training rows and 1,250 test
  rows, whose labels stay clean. The training labels are corrupted with
  the seed's noise, of each kind at 30% and 40%: ``uniform`` (a label drawn
  uniformly from every class, the true one included), ``symmetric`` (flip
  to a random other class) and ``flip_to_one`` (each class flips to one other
  class).
* trusted rows: with trusted rows, a random 10% of the training rows keep
  their clean label and are marked ``trusted``; without, every training
  label is noisy and no mask is passed.
* every method trains the same network with the same seed: sknoisy's ``MLP``
  (one hidden layer of 64 units), Adam, lr 1e-3, batch 128, 20 epochs (the
  classifiers' defaults). The single methods are the classifiers themselves
  with their defaults: CE, forward with its default T (learned with the
  network, ``'volmin'``), NCE+RCE, and, with trusted rows, GLC and MLC.
* the auto choice: ``AutoNoisyClassifier(MLP, random_state=seed)``
  with every default (``methods='auto'``, ``cv=3``): it scores the methods by
  ``TrustedKFold`` + trusted accuracy with trusted rows, and by the accuracy
  on held-out noisy labels without (recording two diagnostics through the T
  it estimates once: the noise-corrected accuracy and the forward-corrected
  log-loss). It never sees the test split.
* reported: clean test accuracy of the auto choice and of each single method
  (median over seeds), the best single method chosen by hand in hindsight
  (with trusted rows, the best of all; without, the best of those that need
  none), the gap of the auto choice to it, which method it chose on each
  seed, and its fit time (estimate of T, 3-fold search and refit), as wall
  time and as the CPU time of the process (one torch thread, ``n_jobs=1``):
  the machine is shared, so the CPU time is what an idle core would take.
  Goals: gap >= -1 point, fit under 2 minutes on 2 cores.

History of the criterion without trusted rows (so that the reported seeds
never chose it): on development seeds 100-101 (12 runs, ``--first-seed 100
--seeds 2``) the noisy accuracy had the lowest mean regret (0.22 points,
against 0.35 for the noise-corrected accuracy and 0.39 for the
forward-corrected log-loss), but the noise-corrected accuracy was made the
default for its unbiasedness under asymmetric noise. The first full run
(seeds 0-2, ``results/auto_noise_corrected_criterion.md``) showed the same
order (mean regret 1.33 / 1.32 against 0.42; a wrong T_hat at flip-to-one
40% made both T-based criteria pick forward, 14.7 points below NCE+RCE), so
the noisy accuracy became the criterion, and the committed run uses fresh
seeds 3-5. From 2026-12-06 the noisy accuracy chose by a preference order
within 1 point of the highest mean; since instance_forward and dividemix are
candidates (2026-12-07) it takes the highest mean (both chosen by
``auto_criterion.py`` on its own development seeds); the results table scores
the rule before (the old candidates, the 1-point margin) beside it on the same
runs.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

KINDS = ("uniform", "symmetric", "flip_to_one")
RATES = (0.3, 0.4)


def _rule_before(cv_scores):
    """auto's choice without trusted rows before instance_forward and dividemix were candidates."""
    from sknoisy._auto import prefer_within_margin

    preference = ("forward", "elr", "nce+rce", "ce")
    old = {m: v for m, v in cv_scores.items() if m in preference}
    results = {"param_method": list(old), "mean_test_score": list(old.values())}
    return list(old)[prefer_within_margin(results, margin=0.01, preference=preference)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds; default 3")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed..first-seed+N-1; default 0")
    parser.add_argument("--settings", default=None, help="comma-separated kind:rate pairs; default all six")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of every net; default 20")
    parser.add_argument("--n-train", type=int, default=5000, help="training rows; default 5000")
    parser.add_argument("--n-classes", type=int, default=6, help="classes; default 6")
    parser.add_argument("--n-jobs", type=int, default=1, help="n_jobs of AutoNoisyClassifier; default 1")
    parser.add_argument(
        "--out", type=Path, default=_common.RESULTS_DIR, help="output folder (default benchmarks/results)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.n_train, args.n_classes, args.n_jobs = 1, 2, 300, 3, 1
    return args


def setting_name(kind, rate):
    return f"{kind.replace('_', '-')} {int(round(rate * 100))}%"


def make_data(kind, rate, seed, args):
    from sklearn.model_selection import train_test_split

    from sknoisy import make_noisy_classification

    n_test = args.n_train // 4
    X, y_noisy, y_clean, _ = make_noisy_classification(
        args.n_train + n_test, 20, args.n_classes, noise=kind, rate=rate, random_state=seed,
        n_informative=10, n_clusters_per_class=1,
    )
    X = X.astype(np.float32)
    split = train_test_split(X, y_noisy, y_clean, test_size=n_test, stratify=y_clean, random_state=seed)
    X_train, X_test, y_noisy_train, _, y_clean_train, y_test = split
    rng = np.random.RandomState(seed)
    trusted = np.zeros(len(y_clean_train), dtype=bool)
    trusted[rng.choice(len(trusted), size=len(trusted) // 10, replace=False)] = True
    return X_train, X_test, y_noisy_train, y_clean_train, y_test, trusted


def run_setting(kind, rate, seed, args, log=print):
    """Every single method and the auto choice on one (noise, seed), with and without trusted rows."""
    from sknoisy._auto import AutoNoisyClassifier, _MethodCandidate
    from sknoisy.modules import MLP

    net_params = {"max_epochs": args.epochs}
    X_train, X_test, y_noisy, y_clean, y_test, trusted = make_data(kind, rate, seed, args)
    rows = []
    for with_trusted in (True, False):
        y = np.where(trusted, y_clean, y_noisy) if with_trusted else y_noisy
        mask = trusted if with_trusted else None
        singles = {}
        for method in _common.auto_methods(with_trusted):
            # as AutoNoisyClassifier builds them when it is given no T (forward then learns its own)
            clf = _MethodCandidate(method, MLP, net_params, None, seed).make_estimator()
            start = time.perf_counter()
            clf.fit(X_train, y, trusted=mask)
            singles[method] = (float(np.mean(clf.predict(X_test) == y_test)), time.perf_counter() - start)
        start, cpu_start = time.perf_counter(), time.process_time()
        auto = AutoNoisyClassifier(MLP, random_state=seed, n_jobs=args.n_jobs, **net_params)
        auto.fit(X_train, y, trusted=mask)
        fit_time, cpu_time = time.perf_counter() - start, time.process_time() - cpu_start
        acc = float(np.mean(auto.predict(X_test) == y_test))
        row = {
            "kind": kind, "rate": rate, "seed": seed, "trusted": with_trusted, "auto": acc,
            "chosen": auto.best_method_, "fit_time": fit_time, "cpu_time": cpu_time, "singles": singles,
            # the refit winner is the single method's very model (same data, settings and seed)
            "same_as_single": abs(acc - singles[auto.best_method_][0]) < 1e-12,
            "diagnostics": {
                key: dict(zip(auto.cv_results_["param_method"], auto.cv_results_[f"mean_test_{key}"]))
                for key in ("clean_accuracy_estimate", "forward_log_loss") if f"mean_test_{key}" in auto.cv_results_
            },
            "cv_scores": dict(zip(auto.cv_results_["param_method"], auto.cv_results_["mean_test_score"])),
        }
        rows.append(row)
        log(
            f"{setting_name(kind, rate)} seed {seed} {'trusted' if with_trusted else 'no trusted'}: auto "
            f"{100 * acc:.1f} ({auto.best_method_}, {fit_time:.0f} s, CPU {cpu_time:.0f} s); "
            + ", ".join(f"{m} {100 * a:.1f}" for m, (a, _) in singles.items())
        )
    return rows


def summarise(rows):
    """One table row per (setting, trusted): medians over seeds."""
    table = []
    keys = sorted(
        {(r["trusted"], r["kind"], r["rate"]) for r in rows}, key=lambda k: (not k[0], KINDS.index(k[1]), k[2])
    )
    for with_trusted, kind, rate in keys:
        group = [r for r in rows if (r["trusted"], r["kind"], r["rate"]) == (with_trusted, kind, rate)]
        methods = list(group[0]["singles"])
        medians = {m: statistics.median(r["singles"][m][0] for r in group) for m in methods}
        best = max(methods, key=lambda m: medians[m])
        auto = statistics.median(r["auto"] for r in group)
        table.append(
            {
                "setting": setting_name(kind, rate), "trusted": with_trusted, "medians": medians, "best": best,
                "auto": auto, "gap": auto - medians[best], "chosen": [r["chosen"] for r in group],
                "fit_time": statistics.median(r["fit_time"] for r in group),
                "max_fit_time": max(r["fit_time"] for r in group),
                "cpu_time": statistics.median(r["cpu_time"] for r in group),
                "max_cpu_time": max(r["cpu_time"] for r in group),
                "regret": statistics.median(max(a for a, _ in r["singles"].values()) - r["auto"] for r in group),
            }
        )
    return table


def write_results(rows, args, facts, command, elapsed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summarise(rows)
    title = "AutoNoisyClassifier: the automatic choice against each single method"
    md = [_common.header_markdown(title, facts, command)]
    md.append(
        f"Protocol: see the docstring of `benchmarks/auto.py`. {args.n_train} training rows, 20 features, "
        f"{args.n_classes} classes, {args.epochs} epochs, seeds {args.first_seed}.."
        f"{args.first_seed + args.seeds - 1}; accuracy (%) on the clean test split, **median over {args.seeds} "
        "seed(s)**. Best = the best single method chosen by hand in hindsight "
        "(with trusted rows among all, without among those that need none); gap = auto - best (goal >= -1.0); "
        "regret = median over seeds of (best single method of that seed - auto). Total run time "
        f"{elapsed / 60:.1f} min.\n"
    )
    for with_trusted in (True, False):
        part = [t for t in table if t["trusted"] == with_trusted]
        if not part:
            continue
        methods = list(part[0]["medians"])
        md.append(f"## {'With 10% trusted rows' if with_trusted else 'Without trusted rows'}\n")
        headers = [
            "setting", *methods, "best", "auto", "gap", "regret", "chosen (per seed)", "auto fit wall (s)",
            "auto fit CPU (s)",
        ]
        body = [
            [
                t["setting"], *(f"{100 * t['medians'][m]:.1f}" for m in methods), t["best"], f"{100 * t['auto']:.1f}",
                f"{100 * t['gap']:+.1f}", f"{100 * t['regret']:.1f}", ", ".join(t["chosen"]),
                f"{t['fit_time']:.0f} (max {t['max_fit_time']:.0f})",
                f"{t['cpu_time']:.0f} (max {t['max_cpu_time']:.0f})",
            ]
            for t in part
        ]
        mean_gap = statistics.fmean(t["gap"] for t in part)
        md.append(_common.markdown_table(headers, body))
        md.append(
            f"\nMean gap {100 * mean_gap:+.2f} points; settings within 1 point of the best: "
            f"{sum(t['gap'] >= -0.01 for t in part)}/{len(part)}; slowest auto fit "
            f"{max(t['max_fit_time'] for t in part):.0f} s wall, {max(t['max_cpu_time'] for t in part):.0f} s CPU.\n"
        )
    no_trusted = [r for r in rows if not r["trusted"]]
    if no_trusted:
        md.append("## Without trusted rows: what each criterion would have chosen (after the fact)\n")
        md.append(
            "The auto choice scores by the accuracy on the held-out noisy labels and takes the highest mean "
            "(`NOISY_MARGIN` = 0; exact ties to `NOISY_PREFERENCE`; chosen by `auto_criterion.py`); the row "
            "below it is the rule before: ce, forward, nce+rce and elr only, the first of forward > elr > "
            "nce+rce > ce within 1 point of the highest mean. The "
            "search also records, through the T_hat it estimated once, the noise-corrected accuracy "
            "(`mean(pinv(T_hat)[y_noisy, y_pred])`, left out when T_hat's condition number exceeds 20) and "
            "the forward-corrected noisy log-loss. Regret = best single method of the seed - the method that "
            "criterion ranks first (clean test accuracy, points), over the runs where the criterion was "
            "recorded.\n"
        )
        criteria = {
            "noisy accuracy, highest mean (the rule)": None,
            "old candidates, preference within 1 point (the rule before)": "before",
            "noise-corrected accuracy": "clean_accuracy_estimate",
            "forward-corrected log-loss": "forward_log_loss",
        }
        table_rows = []
        for label, key in criteria.items():
            regrets, picks = [], {}
            for r in no_trusted:
                if key is None:
                    method = r["chosen"]
                elif key == "before":
                    method = _rule_before(r["cv_scores"])
                elif key in r["diagnostics"]:
                    method = max(r["diagnostics"][key], key=r["diagnostics"][key].get)
                else:
                    continue
                regrets.append(max(a for a, _ in r["singles"].values()) - r["singles"][method][0])
                picks[method] = picks.get(method, 0) + 1
            if regrets:
                table_rows.append(
                    [
                        label, f"{100 * statistics.fmean(regrets):.2f}", f"{100 * max(regrets):.1f}",
                        f"{sum(x <= 0.01 for x in regrets)}/{len(regrets)}",
                        ", ".join(f"{m} x{n}" for m, n in sorted(picks.items())),
                    ]
                )
        md.append(
            _common.markdown_table(
                ["criterion", "mean regret", "max regret", "runs within 1 point", "methods chosen"], table_rows
            )
        )
        md.append("")
    same = sum(r["same_as_single"] for r in rows)
    md.append(
        f"Check: in {same}/{len(rows)} runs the auto choice's test accuracy equals that of the chosen single "
        "method fitted alone (same data, settings and seed), as it must.\n"
    )
    md.append("## Per seed\n")
    md.append(
        _common.markdown_table(
            ["setting", "trusted", "seed", "auto", "chosen", "cross-validated scores", "fit wall / CPU (s)"],
            [
                [
                    setting_name(r["kind"], r["rate"]), "yes" if r["trusted"] else "no", r["seed"],
                    f"{100 * r['auto']:.1f}", r["chosen"],
                    ", ".join(f"{m} {s:.3f}" for m, s in r["cv_scores"].items()),
                    f"{r['fit_time']:.0f} / {r['cpu_time']:.0f}",
                ]
                for r in rows
            ],
        )
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "auto.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
    for ax, with_trusted in zip(axes, (True, False)):
        part = [t for t in table if t["trusted"] == with_trusted]
        methods = list(part[0]["medians"])
        width = 0.8 / (len(methods) + 1)
        x = np.arange(len(part))
        for j, m in enumerate(methods):
            ax.bar(x + j * width, [100 * t["medians"][m] for t in part], width, label=m)
        ax.bar(x + len(methods) * width, [100 * t["auto"] for t in part], width, label="auto", color="black")
        ax.set_xticks(x + 0.4 - width / 2, [t["setting"] for t in part], rotation=20)
        low = min(min(t["medians"].values()) for t in part)
        ax.set_ylim(max(0, 100 * low - 10), 100)
        ax.set_ylabel("clean test accuracy (%), median")
        ax.set_title("with 10% trusted rows" if with_trusted else "without trusted rows")
        ax.legend(fontsize=8, ncol=3)
    fig.savefig(args.out / "auto.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)  # small nets run fastest on one thread; the search's workers get one each
    warnings.filterwarnings("ignore", category=UserWarning)
    facts = _common.machine_facts()
    facts["load average"] = ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1, 5, 15 min) at the start"
    start = time.perf_counter()
    rows = []
    settings = [(k, r) for k in KINDS for r in RATES]
    if args.settings:
        settings = [(pair.split(":")[0], float(pair.split(":")[1])) for pair in args.settings.split(",")]
    if args.quick:
        settings = [("flip_to_one", 0.4)]
    for kind, rate in settings:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.extend(run_setting(kind, rate, seed, args))
    elapsed = time.perf_counter() - start
    facts["load average"] += "; " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " at the end"
    write_results(rows, args, facts, _common.command_line(), elapsed)
    # every run's numbers, so that another rule can be scored on them after the fact
    (args.out / "auto.json").write_text(json.dumps(rows), encoding="utf-8")
    print(f"wrote {args.out / 'auto.md'} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
