"""Patrini et al. (CVPR 2017): forward vs backward loss correction, known vs estimated T.

Command of the committed results (2 CPU cores)::

    python benchmarks/patrini.py --seeds 5 --n-jobs 1

Quick check (seconds; what the test suite runs)::

    python benchmarks/patrini.py --quick --out /tmp/patrini

Protocol (fixed a priori; no hyper-parameter is selected on the test split):

* data: scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes), a
  stratified 70/30 train/test split drawn per seed. Label noise is applied to
  the **train split only**; the test split keeps its clean labels.
* noise (per-sample draws from ``T[y]``, as in Patrini et al.): flip-to-one at
  20% and 40% (a new target class per clean class and seed), and the MNIST
  asymmetric preset (7->1, 2->7, 5<->6, 3->8) at 20% and 40%.
* network: ``MLP(hidden_units=(128,))``, Adam, lr 1e-3, batch 64, 40 epochs,
  identical for every method. The stage-1 networks of the estimated-T recipes
  use the library's default (the same settings, early stopping on a 20%
  *noisy* hold-out of the training rows, 3-fold out-of-fold probabilities).
* methods: plain CE on the noisy labels; forward and backward correction with
  the true T and with T-hat (the library's default,
  ``sknoisy.transition.DEFAULT_TRANSITION_METHOD``: the confident joint of the
  out-of-fold probabilities, chosen by ``benchmarks/t_estimation.py``); CE on
  the clean labels (ceiling). GLC and MLC (10 trusted rows per class, drawn from
  the train split, default settings) are listed as well for reference.
* T-estimation table: mean row-L1 error ``mean_i sum_j |T_hat[i,j] - T[i,j]|``
  of several estimators. The default (confident_joint), anchor, anchor-97,
  dual_t, gold and cleanlab's confident-joint estimate all read the **same**
  out-of-fold probabilities (``TransitionMatrixEstimator.oof_proba_`` of the
  forward-T-hat fit); the ``[temperature]`` rows read those of a second
  stage 1 with ``calibration='temperature'`` (same net and folds); GLC's
  T-hat comes from its own stage-1 net (trained on the untrusted rows) and
  MLC's T is learned during its training. The identity and the empirical T of
  the drawn labels are references (the latter is the best any estimator of the
  generating T can hope for on this sample).
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

import _common

METHODS = [
    ("ce", "CE (no correction)"),
    ("forward_T", "forward, true T"),
    ("forward_That", "forward, T-hat"),
    ("backward_T", "backward, true T"),
    ("backward_That", "backward, T-hat"),
    ("glc", "GLC (10 trusted/class)"),
    ("mlc", "MLC (10 trusted/class)"),
    ("ceiling", "CE on clean labels (ceiling)"),
]
ESTIMATORS = [
    ("identity", "identity (reference)"),
    ("default", "confident_joint: forward's T-hat (the default)"),
    ("cleanlab", "cleanlab confident joint"),
    ("anchor", "anchor (max)"),
    ("anchor97", "anchor-97 (quantile 0.97; the default before issue 12)"),
    ("dual_t", "dual_t (quantile 0.97)"),
    ("default_t", "confident_joint [temperature]"),
    ("anchor97_t", "anchor-97 [temperature]"),
    ("cleanlab_t", "cleanlab confident joint [temperature]"),
    ("gold", "gold (10 trusted/class)"),
    ("glc", "GLC's T-hat (own stage 1)"),
    ("mlc", "MLC's learned T"),
    ("empirical", "empirical T of the drawn labels (floor)"),
]
SETTINGS = [
    ("flip_to_one", 0.2),
    ("flip_to_one", 0.4),
    ("asymmetric", 0.2),
    ("asymmetric", 0.4),
]
HEADLINE = ("flip_to_one", 0.4)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1); default 5")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs of every net; default 40")
    parser.add_argument("--trusted-per-class", type=int, default=10, help="trusted rows per class (GLC, MLC, gold)")
    parser.add_argument("--n-jobs", type=int, default=1, help="worker processes, one seed each (one torch thread each)")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR, help="output folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 1
        args.epochs = 3
    return args


def setting_name(kind, rate):
    label = "flip-to-one" if kind == "flip_to_one" else "asym. (MNIST preset)"
    return f"{label} {int(round(rate * 100))}%"


def make_T(kind, rate, seed):
    from sknoisy.noise import make_transition_matrix

    if kind == "asymmetric":
        return make_transition_matrix("asymmetric", 10, rate, preset="mnist")
    return make_transition_matrix(kind, 10, rate, random_state=seed)


def trusted_mask(y, per_class, rng):
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        mask[rng.choice(members, size=min(per_class, members.size), replace=False)] = True
    return mask


def run_seed(seed, args, net_params, log=print):
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    from sklearn.model_selection import train_test_split

    from cleanlab.count import estimate_py_and_noise_matrices_from_probabilities
    from sknoisy import (
        BackwardCorrectedClassifier,
        CrossEntropyClassifier,
        ForwardCorrectedClassifier,
        corrupt_labels,
        empirical_transition_matrix,
        from_cleanlab_noise_matrix,
        load_digits_images,
        transition_matrix_error,
    )
    from sknoisy._glc import GLCClassifier
    from sknoisy._meta import MetaLossCorrectionClassifier
    from sknoisy._stage1 import stage1_net
    from sknoisy.modules import MLP
    from sknoisy.transition import (
        DEFAULT_TRANSITION_METHOD,
        TransitionMatrixEstimator,
        estimate_anchor,
        estimate_confident_joint,
        estimate_dual_t,
        estimate_gold,
    )

    X, y = load_digits_images()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if args.quick:
        X_train, y_train = X_train[:300], y_train[:300]
    rng = np.random.RandomState(seed)
    trusted = trusted_mask(y_train, args.trusted_per_class, rng)

    def fit_score(label, cls, labels, trusted_rows=None, **kw):
        start = time.perf_counter()
        fit_params = {} if trusted_rows is None else {"trusted": trusted_rows}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                clf = cls(MLP, **net_params, random_state=seed, **kw).fit(X_train, labels, **fit_params)
            except (FloatingPointError, ValueError) as exc:
                # backward correction refuses a singular T-hat or may diverge: count it, never hide it
                if not isinstance(exc, FloatingPointError) and "singular" not in str(exc):
                    raise
                log(f"    {label}: failed: {exc}")
                return None, float("nan"), 0
        acc = float(np.mean(clf.predict(X_test) == y_test))
        n_ill = sum("condition" in str(w.message).lower() for w in caught)
        log(f"    {label:16s} acc {acc:.3f} ({time.perf_counter() - start:.1f}s)")
        return clf, acc, n_ill

    records, errors, examples = [], [], {}
    _, ceiling, _ = fit_score("ceiling", CrossEntropyClassifier, y_train)
    for kind, rate in SETTINGS:
        setting = setting_name(kind, rate)
        log(f"  seed {seed} {setting}")
        T = make_T(kind, rate, seed)
        y_noisy = corrupt_labels(y_train, T, random_state=rng)
        y_mixed = np.where(trusted, y_train, y_noisy)  # trusted rows reveal their clean label
        acc = {}
        _, acc["ce"], _ = fit_score("ce", CrossEntropyClassifier, y_noisy)
        _, acc["forward_T"], _ = fit_score("forward_T", ForwardCorrectedClassifier, y_noisy, transition_matrix=T)
        fwd, acc["forward_That"], _ = fit_score(
            "forward_That", ForwardCorrectedClassifier, y_noisy, transition_matrix=DEFAULT_TRANSITION_METHOD
        )
        T_hat = fwd.transition_matrix_
        _, acc["backward_T"], _ = fit_score("backward_T", BackwardCorrectedClassifier, y_noisy, transition_matrix=T)
        _, acc["backward_That"], n_ill = fit_score("backward_That", BackwardCorrectedClassifier, y_noisy, transition_matrix=T_hat)
        glc, acc["glc"], _ = fit_score("glc", GLCClassifier, y_mixed, trusted)
        mlc, acc["mlc"], _ = fit_score("mlc", MetaLossCorrectionClassifier, y_mixed, trusted, **_common.MLC_EVERY_BATCH)
        acc["ceiling"] = ceiling
        for method, value in acc.items():
            records.append({"seed": seed, "setting": setting, "method": method, "accuracy": value})

        oof = fwd.transition_matrix_estimator_.oof_proba_
        # the same stage-1 net and folds, calibration='temperature'
        stage1 = stage1_net(fwd, random_state=seed)
        oof_t = TransitionMatrixEstimator(stage1, calibration="temperature", refit=False, random_state=seed).fit(
            X_train, y_noisy
        ).oof_proba_

        def cleanlab_T(proba):
            _, noise_matrix, _, _ = estimate_py_and_noise_matrices_from_probabilities(labels=y_noisy, pred_probs=proba)
            return from_cleanlab_noise_matrix(noise_matrix)

        estimates = {
            "identity": np.eye(10),
            "default": T_hat,
            "cleanlab": cleanlab_T(oof),
            "anchor": estimate_anchor(oof, quantile=None),
            "anchor97": estimate_anchor(oof, quantile=0.97),
            "dual_t": estimate_dual_t(oof, y_noisy, quantile=0.97),
            "default_t": estimate_confident_joint(oof_t, y_noisy),
            "anchor97_t": estimate_anchor(oof_t, quantile=0.97),
            "cleanlab_t": cleanlab_T(oof_t),
            "gold": estimate_gold(oof[trusted], y_train[trusted]),
            "glc": glc.transition_matrix_,
            "mlc": mlc.transition_matrix_,
            "empirical": empirical_transition_matrix(y_train, y_noisy, classes=np.arange(10)),
        }
        if not np.allclose(estimate_confident_joint(oof, y_noisy), T_hat):
            log("    note: the classifier's T-hat differs from confident_joint on its own out-of-fold probabilities")
        for name, T_est in estimates.items():
            errors.append({"seed": seed, "setting": setting, "estimator": name, "error": transition_matrix_error(T_est, T)})
        if seed == 0 and (kind, rate) == HEADLINE:
            examples = {"T": T, **estimates}
        records.append({"seed": seed, "setting": setting, "method": "_ill_conditioned_warnings", "accuracy": n_ill})
    return records, errors, examples


def summarise(records, key, value, rows, settings, scale=100.0, digits=1):
    """A table: one row per ``rows`` entry, one column per setting, mean ± std over seeds."""
    table = []
    for name, label in rows:
        line = [label]
        for setting in settings:
            vals = [r[value] for r in records if r[key] == name and r["setting"] == setting and np.isfinite(r[value])]
            n_all = sum(1 for r in records if r[key] == name and r["setting"] == setting)
            cell = _common.mean_std(vals, scale=scale, digits=digits) if vals else "-"
            if vals and len(vals) < n_all:
                cell += f" ({n_all - len(vals)} failed)"
            line.append(cell)
        table.append(line)
    return table


def mean_of(records, key, name, setting, value):
    vals = [r[value] for r in records if r[key] == name and r["setting"] == setting and np.isfinite(r[value])]
    return float(np.mean(vals)) if vals else float("nan")


def write_outputs(records, errors, examples, args, elapsed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sknoisy.plotting import plot_accuracy_bars, plot_transition_matrix

    args.out.mkdir(parents=True, exist_ok=True)
    facts = _common.machine_facts("cpu")
    facts["cpu"] += f", {args.n_jobs} worker process(es)"
    command = _common.command_line()
    settings = [setting_name(k, r) for k, r in SETTINGS]
    headline = setting_name(*HEADLINE)
    acc_records = [r for r in records if not r["method"].startswith("_")]
    seeds = sorted({r["seed"] for r in records})

    md = [_common.header_markdown("Patrini et al. (CVPR 2017) on load_digits: forward vs backward, true vs estimated T", facts, command)]
    md.append(f"Seeds: {len(seeds)} ({', '.join(map(str, seeds))}); epochs {args.epochs}; wall time {elapsed / 60:.1f} min.")
    md.append("Test accuracy (%) on the clean test split, mean ± std over seeds. Noise on the train split only; "
              "hyper-parameters fixed a priori (see the script's docstring), nothing selected on the test split.\n")
    md.append(f"## (a) {headline}: the Core issue's table\n")
    md.append(_common.markdown_table(["method", "test accuracy (%)"], summarise(acc_records, "method", "accuracy", METHODS, [headline])))
    ce = mean_of(acc_records, "method", "ce", headline, "accuracy")
    ceil = mean_of(acc_records, "method", "ceiling", headline, "accuracy")
    lines = []
    for name, label in METHODS:
        if name in ("ce", "ceiling"):
            continue
        m = mean_of(acc_records, "method", name, headline, "accuracy")
        lines.append(f"- {label}: {100 * (m - ce):+.1f} points over CE, recovers {100 * (m - ce) / (ceil - ce):.0f}% of the accuracy lost to noise")
    md.append("\n" + "\n".join(lines) + "\n")

    md.append("## (b) forward vs backward, known vs estimated T, every setting\n")
    md.append(_common.markdown_table(["method", *settings], summarise(acc_records, "method", "accuracy", METHODS, settings)))
    ill = [r for r in records if r["method"] == "_ill_conditioned_warnings" and r["accuracy"] > 0]
    md.append(f"\nBackward with T-hat raised an ill-conditioning warning in {len(ill)} of "
              f"{len(seeds) * len(SETTINGS)} runs.\n")

    md.append("## (c) T-estimation error (mean row L1, lower is better)\n")
    md.append("The default (confident_joint, forward's T-hat), anchor, anchor-97, dual_t, gold and cleanlab read the same "
              "out-of-fold probabilities (`TransitionMatrixEstimator.oof_proba_`, 3 folds, stage-1 MLP with early "
              "stopping on noisy hold-out loss); the `[temperature]` rows read those of a second stage 1 with "
              "`calibration='temperature'` (each fold's model fitted on 80% of its training rows, its temperature on "
              "the other 20%). cleanlab: `cleanlab.count.estimate_py_and_noise_matrices_from_probabilities(labels, "
              "pred_probs)`, its `noise_matrix` converted with `sknoisy.from_cleanlab_noise_matrix`. The default was "
              "chosen by `benchmarks/t_estimation.py` (3 seeds, ten settings) before this run.\n")
    md.append(_common.markdown_table(["estimator", *settings], summarise(errors, "estimator", "error", ESTIMATORS, settings, scale=1.0, digits=3)))
    md.append("")
    (args.out / "patrini.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    fig = plt.figure(figsize=(16, 10), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.05])
    ax_a, ax_b = top.subplots(1, 2, width_ratios=[1, 1.6])
    plot_accuracy_bars([{**r, "accuracy": 100 * r["accuracy"]} for r in acc_records if r["setting"] == headline], y="accuracy", ax=ax_a)
    ax_a.set_ylabel("test accuracy (%)")
    ax_a.set_title(f"(a) {headline}, {len(seeds)} seeds")
    names = [n for n, _ in METHODS]
    width = 0.8 / len(settings)
    for k, setting in enumerate(settings):
        means = [100 * mean_of(acc_records, "method", n, setting, "accuracy") for n in names]
        ax_b.bar(np.arange(len(names)) + (k - (len(settings) - 1) / 2) * width, means, width, label=setting)
    ax_b.set_xticks(np.arange(len(names)))
    ax_b.set_xticklabels([n.replace("_", "\n") for n in names], fontsize=8)
    low = min(100 * r["accuracy"] for r in acc_records if np.isfinite(r["accuracy"]))
    ax_b.set_ylim(max(0.0, 10 * np.floor(low / 10) - 10), 100)
    ax_b.set_ylabel("test accuracy (%)")
    ax_b.set_title("(b) every setting (mean over seeds)")
    ax_b.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax_b.grid(True, axis="y", alpha=0.3)
    shown = ["T", "default", "cleanlab", "anchor97", "glc", "mlc"]
    axes = bottom.subplots(1, len(shown))
    for ax, name in zip(axes, shown):
        if name in examples:
            err = "" if name == "T" else f"\nerror {np.abs(examples[name] - examples['T']).sum(1).mean():.3f}"
            plot_transition_matrix(examples[name], ax=ax, annotate=False, colorbar=False,
                                   title=("true T" if name == "T" else name) + err)
    bottom.suptitle(f"(c) T estimates, {headline}, seed 0", fontsize=10)
    fig.suptitle(f"Patrini et al. 2017 on load_digits — {facts['date']} — {facts['cpu']} — {facts['versions'].split(',')[0]} — device {facts['device']}\n{command}", fontsize=8)
    fig.savefig(args.out / "patrini.png", dpi=90)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from joblib import Parallel, delayed

    torch.set_num_threads(1)  # the small nets here run fastest on one thread; the facts then say so
    net_params = {
        "module__hidden_units": (32,) if args.quick else (128,),
        "max_epochs": args.epochs,
        "batch_size": 64,
        "lr": 1e-2 if args.quick else 1e-3,
    }
    start = time.perf_counter()
    records, errors, examples = [], [], {}
    outputs = Parallel(n_jobs=args.n_jobs)(delayed(run_seed)(seed, args, net_params) for seed in range(args.seeds))
    for r, e, ex in outputs:
        records += r
        errors += e
        examples = examples or ex
    write_outputs(records, errors, examples, args, time.perf_counter() - start)
    print(f"wrote {args.out / 'patrini.md'} and {args.out / 'patrini.png'} in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
