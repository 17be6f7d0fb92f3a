"""What the validation studies share (``mlc_step_every.py``, ``volmin_step_every_tries.py``, ``trusted_rows_tries.py``,
``trusted_net_steps.py``).

They compare variants on validation splits of the training rows only (the test part of
``instance_noise.py``'s split per seed is dropped; development seeds); the step-every studies also time
each variant per epoch against the raw loop on ``speed.py``'s tabular set, with the first variant as the
reference of the accuracy differences.
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

import _common


def epoch_costs(factories, rounds, quick):
    """Per-epoch CPU time (s) of each ``name -> factory(**params)`` and of the raw loop, interleaved rounds."""
    from speed import RAW, CpuEpochTimer, estimator_specs, fit_once, load_data

    X, y, trusted, T = load_data("tabular", quick=quick)
    runs = {name: ((lambda f=factory: f(max_epochs=5, random_state=0, callbacks=[("cpu_timer", CpuEpochTimer())])),
                   "sknoisy")
            for name, factory in factories.items()}
    runs["raw loop"] = (estimator_specs(X, y, T, 5)[RAW][0], "plain")
    times = {name: [] for name in runs}
    for round_ in range(rounds + 1):
        for name, (factory, kind) in runs.items():
            result = fit_once(factory, kind, X, y, trusted)
            if round_:
                times[name].append(result["epoch_cpu"])
    return times


def parse_seed_args(doc, argv, default_seeds):
    """``--quick``, ``--out``, ``--seeds`` (development seeds 100, 101, ...) and ``--n-jobs``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    parser.add_argument("--seeds", type=int, default=default_seeds,
                        help=f"development seeds 100, 101, ...; default {default_seeds}")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes")
    return parser.parse_args(argv)


def run_grid(args, run, datasets, settings, first_seed):
    """``run(dataset, noise, rate, seed, quick)`` on every data set, ``(noise, rate)`` setting and seed.

    ``--quick`` keeps the first data set, setting and seed. ``run`` returns ``(key, value)``; the
    worker processes are ``--n-jobs``. Returns ``(results, seeds, settings, elapsed)``: the values by
    key, the seeds, the ``(dataset, noise, rate)`` settings run and the wall time (s).
    """
    from joblib import Parallel, delayed

    started = time.perf_counter()
    seeds = range(first_seed, first_seed + (1 if args.quick else args.seeds))
    datasets = datasets[:1] if args.quick else datasets
    settings = [(d, n, r) for d in datasets for n, r in (settings[:1] if args.quick else settings)]
    tasks = [(*setting, s) for setting in settings for s in seeds]
    results = dict(Parallel(n_jobs=args.n_jobs)(delayed(run)(*task, args.quick) for task in tasks))
    return results, seeds, settings, time.perf_counter() - started


def noisy_validation_split(dataset, seed, noise, rate, quick, trusted_per_class=None, return_clean=False):
    """``(X_fit, y_noisy, mask, X_val, y_val)``: a clean stratified 20% of the training rows for validation.

    ``noise`` is a kind of :func:`sknoisy.make_transition_matrix` (class-conditional), 'instance'
    (Xia et al.'s instance-dependent noise) or 'annotator' (:func:`sknoisy.noise.annotator_noise`);
    ``trusted_per_class`` rows per class keep their clean label and are flagged in ``mask`` (None: no
    trusted rows, ``mask`` is None). ``return_clean``: the clean labels of ``X_fit`` come last.
    """
    from instance_noise import load_split, trusted_mask
    from sklearn.model_selection import train_test_split

    from sknoisy import corrupt_labels, make_transition_matrix
    from sknoisy.noise import annotator_noise, instance_dependent_noise

    X_train, _, y_train, _ = load_split(dataset, seed, quick)
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.2, stratify=y_train,
                                                  random_state=seed)
    if noise in ("instance", "annotator"):
        corrupt = instance_dependent_noise if noise == "instance" else annotator_noise
        y_noisy = corrupt(X_fit, y_fit, rate, random_state=seed)
    else:
        T = make_transition_matrix(noise, int(y_train.max()) + 1, rate, random_state=seed)
        y_noisy = corrupt_labels(y_fit, T, random_state=seed)
    mask = None
    if trusted_per_class:
        mask = trusted_mask(y_fit, trusted_per_class, np.random.default_rng(seed))
        y_noisy = np.where(mask, y_fit, y_noisy)
    return (X_fit, y_noisy, mask, X_val, y_val) + ((y_fit,) if return_clean else ())


def score_variants(dataset, noise, rate, seed, quick, references, variants):
    """``(key, (accuracy, cost))`` of a defaults study on one split, for :func:`run_grid`.

    Every registry method of ``references`` (with the registry's parameters), CE on the clean labels
    (``'ceiling'``) and every ``name -> make(params, y_noisy, y_clean)`` of ``variants`` are fitted on the
    noisy training part of :func:`noisy_validation_split` with ``trusted_rows_tries.net_params`` and scored
    on its clean validation part: accuracy (%) and the fit's CPU seconds (one torch thread) by name.
    """
    import torch

    from sknoisy import CLASSIFIER_METHODS, CrossEntropyClassifier
    from sknoisy.modules import MLP
    from trusted_rows_tries import net_params

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    X, y, _, X_val, y_val, y_clean = noisy_validation_split(dataset, seed, noise, rate, quick, return_clean=True)
    params = net_params(quick, seed)
    acc, cost = {}, {}

    def score(name, clf, labels=y):
        started = time.process_time()
        clf.fit(X, labels)
        cost[name] = time.process_time() - started
        acc[name] = 100 * float(np.mean(clf.predict(X_val) == y_val))

    CrossEntropyClassifier(MLP, **{**params, "max_epochs": 1}).fit(X, y)  # first-fit costs out of the timings
    for name in references:
        entry = CLASSIFIER_METHODS[name]
        score(name, entry.estimator(MLP, **params, **entry.params))
    score("ceiling", CrossEntropyClassifier(MLP, **params), labels=y_clean)
    for name, make in variants.items():
        score(name, make(params, y, y_clean))
    return (dataset, noise, rate, seed), (acc, cost)


def report_head(title, doc, argv, elapsed):
    """``(lines, facts, command)``: a report's header (machine facts, command, run time) and ``doc``'s
    second paragraph, the facts and command line its figure repeats."""
    facts = _common.machine_facts("cpu")
    command = _common.command_line(argv)
    lines = [_common.header_markdown(title, facts, command), f"Total run time: {elapsed / 60:.1f} min.", ""]
    lines += [" ".join(line.strip() for line in doc.split("\n\n")[1].splitlines()), ""]
    return lines, facts, command


def write_tries_report(args, argv, results, seeds, settings, elapsed, *, name, title, doc, names, default, cost_note):
    """Write ``<name>.md`` and ``<name>.png`` of a defaults study run by :func:`run_grid`.

    ``results[(dataset, noise, rate, seed)]`` is ``(accuracy, cost)``, each a dict by method name
    holding ``names`` (CE as ``'ce'``, the clean-label ceiling as ``'ceiling'``); ``default`` is the
    variant the others are compared with, seed by seed. ``cost_note`` says what a fit's cost includes.
    """

    def mean(method, setting):
        return statistics.fmean(results[(*setting, s)][0][method] for s in seeds)

    def recovered(method, setting):
        ce, ceiling = mean("ce", setting), mean("ceiling", setting)
        return 100 * (mean(method, setting) - ce) / (ceiling - ce) if ceiling != ce else float("nan")

    def label(setting):
        return f"{setting[0]} {setting[1]} {setting[2]:.0%}"

    rows = [[m] + [f"{mean(m, s):.1f} ({recovered(m, s):.0f}%)" for s in settings]
            + [f"{statistics.fmean(mean(m, s) for s in settings):.1f}"] for m in names]
    per_seed = [[m] + [" / ".join(f"{results[(*s, seed)][0][m] - results[(*s, seed)][0][default]:+.1f}"
                                  for seed in seeds) for s in settings]
                for m in names if m != default]
    costs = [[m] + [f"{statistics.median(results[(*s, seed)][1][m] / results[(*s, seed)][1]['ce'] for seed in seeds):.2f}x"
                    for s in settings] for m in names]
    lines, facts, command = report_head(title, doc, argv, elapsed)
    lines += ["## Validation accuracy", "",
              f"Mean validation accuracy (%) over seeds {', '.join(map(str, seeds))}, no trusted rows; in "
              "parentheses the share of CE's gap to the clean-label ceiling recovered; last column: the mean "
              "over the settings.", ""]
    lines.append(_common.markdown_table(["method"] + [label(s) for s in settings] + ["mean"], rows))
    lines += ["", "## Per seed", "", f"Difference from `{default}` (points), seed by seed.", ""]
    lines.append(_common.markdown_table(["method"] + [label(s) for s in settings], per_seed))
    lines += ["", "## Cost", "", "Median ratio of a whole fit's CPU time (one torch thread) to CE's on the same "
              f"split ({cost_note}).", ""]
    lines.append(_common.markdown_table(["method"] + [label(s) for s in settings], costs))
    lines.append("")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    variants = names[names.index(default) + 1:names.index("ceiling")]
    values = {f"{label(s)}: {m}": mean(m, s) - mean(default, s) for s in settings for m in variants}
    _common.bar_figure(out / f"{name}.png", values, f"points against {default}", title, facts, command,
                       reference=("the defaults", 0.0))
    print((out / f"{name}.md").read_text())


def write_report(args, argv, *, name, title, doc, variants, label, times, acc, settings, seeds, rate, goal,
                 elapsed, reference_text, variant_header="variant"):
    """Write ``<name>.md`` and ``<name>.png``: cost and accuracy of every variant, then every run."""
    facts = _common.machine_facts("cpu")
    command = _common.command_line(argv)
    lines = [_common.header_markdown(title, facts, command), f"Total run time: {elapsed / 60:.1f} min.", ""]
    for part in doc.split("\n\n")[1:3]:
        items = [" ".join(line.strip() for line in item.splitlines()) for item in ("\n" + part).split("\n* ")]
        lines += [items[0].strip()] if items[0].strip() else []
        lines += [f"* {item}" for item in items[1:]] + [""]
    raw = times["raw loop"]
    reference = variants[0]

    def mean_acc(v, setting):
        return statistics.fmean(acc[(*setting, s)][v] for s in seeds)

    def deltas(v):
        return [mean_acc(v, st) - mean_acc(reference, st) for st in settings]

    def worst_run(v):
        return min(acc[key][v] - acc[key][reference] for key in acc)

    def ratio(v):
        return statistics.median([a / b for a, b in zip(times[label(v)], raw)])

    rows = []
    for v in variants:
        row = [label(v), f"{1e3 * statistics.median(times[label(v)]):.1f}", f"{ratio(v):.2f}x"]
        row += [f"{mean_acc(v, st):.1f} ({mean_acc(v, st) - mean_acc(reference, st):+.1f})" for st in settings]
        row += [f"{statistics.fmean(deltas(v)):+.2f}", f"{min(deltas(v)):+.1f}", f"{worst_run(v):+.1f}"]
        rows.append(row)
    rows.append(["raw loop", f"{1e3 * statistics.median(raw):.1f}", "1.00x"] + ["-"] * (len(settings) + 3))
    lines += ["## Cost and accuracy", "",
              f"Epoch CPU: median over rounds; x raw loop: median of the per-round ratios (issue 22's goal: "
              f"{goal:g}x). Accuracy: mean validation accuracy (%) over seeds {', '.join(map(str, seeds))} at "
              f"{rate:.0%} noise, in parentheses the difference from {reference_text}; then the mean and the "
              "worst of those differences over the settings, and the worst difference of a single run "
              "(same data set, noise and seed).", ""]
    lines.append(_common.markdown_table(
        [variant_header, "epoch CPU (ms)", "x raw loop"] + [f"{d} {n} (val %)" for d, n in settings]
        + ["mean diff", "worst diff", "worst run"], rows))
    lines += ["", "## Per seed (validation accuracy, %)", ""]
    lines.append(_common.markdown_table(
        ["data set", "noise", "seed"] + [label(v) for v in variants],
        [[d, n, str(s)] + [f"{acc[(d, n, s)][v]:.1f}" for v in variants] for d, n in settings for s in seeds]))
    lines.append("")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _common.bar_figure(out / f"{name}.png", {label(v): ratio(v) for v in variants}, "epoch CPU / raw loop", title,
                       facts, command, reference=(f"goal {goal:g}x", goal))
    print((out / f"{name}.md").read_text())


def _variant_accuracies(make, variants, dataset, seed, noise, rate, quick, trusted_per_class):
    """Validation accuracy (%) of each variant on one (data set, seed, noise); one worker process."""
    import torch

    torch.set_num_threads(1)
    X_fit, y_noisy, mask, X_val, y_val = noisy_validation_split(dataset, seed, noise, rate, quick, trusted_per_class)
    scores = {}
    for variant in variants:
        net = make(variant, max_epochs=3 if quick else 20, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X_fit, y_noisy, trusted=mask)
        scores[variant] = 100 * float(np.mean(net.predict(X_val) == y_val))
    return (dataset, noise, seed), scores


def run_step_every_study(argv, *, make, variants, label, datasets, noises, seeds, rate, trusted_per_class=None,
                         **report):
    """Parse the options, time every variant, score it on every (data set, noise, seed), write the report.

    ``make(variant, **params)`` builds the estimator of a variant; ``report`` goes to :func:`write_report`
    (name, title, doc, goal, reference_text, variant_header).
    """
    import torch
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=report["doc"].split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="worker processes for the accuracy part (the timed part runs alone first)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    factories = {label(v): (lambda v=v, **params: make(v, **params)) for v in variants}
    times = epoch_costs(factories, 1 if args.quick else 4, args.quick)
    seeds = seeds[:1] if args.quick else seeds
    tasks = [(d, s, n) for d in datasets for n in noises for s in seeds]
    acc = dict(Parallel(n_jobs=args.n_jobs)(
        delayed(_variant_accuracies)(make, variants, d, s, n, rate, args.quick, trusted_per_class)
        for d, s, n in tasks))
    write_report(args, argv, variants=variants, label=label, times=times, acc=acc,
                 settings=[(d, n) for d in datasets for n in noises], seeds=seeds, rate=rate,
                 elapsed=time.perf_counter() - started, **report)
