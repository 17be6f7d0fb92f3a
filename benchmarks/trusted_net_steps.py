"""How long the trusted rows' own network must train: the trusted blend at a fraction of its optimizer steps (issue 20).

``TrustedBlendClassifier`` trains a plain network on the trusted rows alone for as many optimizer steps as
a full fit over every row takes, then ELR on every row: its whole fit costs about one CE fit more than
ELR's, above issue 20's 2.2x CE for two-network methods. This script asks whether the trusted network
needs that many steps: it trains it for the full count and for a half and a quarter of it (the same
network and seed, ``max_epochs`` scaled), and scores it alone and in the blend (``0.5 p_trusted + 0.5
p_elr``, the library's default weight; the ELR network is the same in every variant).

* data: the MNIST subset and the tabular set of ``instance_noise.py`` (its split per seed, test part
  dropped), a stratified 20% of the training part kept clean as the validation split every accuracy here
  is measured on; 20 trusted rows per class from the rest, which gets annotator-like noise (20% and 40%)
  or Xia et al.'s instance-dependent noise (40%); MLP(128), Adam 1e-3, batch 128, 20 epochs;
  development seeds 100 onwards (``--seeds``; never those of the committed accuracy results).

Verdict (the committed run, 5 development seeds): alone, the trusted network scores the same with half
the steps (+0.1 tabular, +0.0 MNIST) and a quarter costs 1.4 points on the tabular set; in the blend,
half the steps gives -0.7 / +0.2 / +1.4 (tabular: annotator 40%, 20%, Xia 40%) and +0.3 / -0.0 / +0.4
(MNIST), +0.3 on the mean of the six settings; a quarter +0.5 on the mean but -1.7 in the setting the
blend is chosen for (tabular annotator 40%). Kept: half the steps (``TRUSTED_STEPS_FRACTION`` in
``sknoisy/_trusted_blend.py``), which halves the trusted network's cost.

Command of the committed results (one process; ``--n-jobs 2`` takes both cores)::

    python benchmarks/trusted_net_steps.py --seeds 5

Quick check (seconds; what the test suite runs)::

    python benchmarks/trusted_net_steps.py --quick --out /tmp/trusted_net_steps
"""

import copy
import statistics
import time
import warnings

import numpy as np

import _common
import _validation_study
from trusted_rows_tries import DATASETS, FIRST_SEED, net_params

SETTINGS = (("annotator", 0.4), ("annotator", 0.2), ("instance", 0.4))
#: fractions of the full fit's optimizer steps the trusted network takes
FRACTIONS = (1.0, 0.5, 0.25)


def run(dataset, noise, rate, seed, quick):
    """Validation accuracy (%) of the trusted network alone and in the blend, per fraction of its steps."""
    import torch

    from sknoisy import EarlyLearningClassifier
    from sknoisy._trusted import fit_trusted_net
    from sknoisy.modules import MLP

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    X, y, mask, X_val, y_val = _validation_study.noisy_validation_split(dataset, seed, noise, rate, quick,
                                                                         trusted_per_class=20)
    params = net_params(quick, seed)
    elr = EarlyLearningClassifier(MLP, **params).fit(X, y)
    p_elr = elr.predict_proba(X_val)
    acc = {"elr": 100 * float(np.mean(p_elr.argmax(1) == y_val))}
    for fraction in FRACTIONS:
        epochs = max(1, round(params["max_epochs"] * fraction))
        settings = copy.deepcopy(elr)  # fitted: fit_trusted_net reads its classes and settings
        settings.max_epochs = epochs
        started = time.process_time()
        p_trusted = fit_trusted_net(settings, X, np.searchsorted(elr.classes_, y), mask).predict_proba(X_val)
        acc[f"time x{fraction:g}"] = time.process_time() - started
        acc[f"trusted only x{fraction:g}"] = 100 * float(np.mean(p_trusted.argmax(1) == y_val))
        acc[f"blend x{fraction:g}"] = 100 * float(np.mean((0.5 * p_trusted + 0.5 * p_elr).argmax(1) == y_val))
    return (dataset, noise, rate, seed), acc


def parse_args(argv=None):
    return _validation_study.parse_seed_args(__doc__, argv, default_seeds=5)


def main(argv=None):
    args = parse_args(argv)
    acc, seeds, settings, elapsed = _validation_study.run_grid(args, run, DATASETS, SETTINGS, FIRST_SEED)

    def mean(name, setting):
        return statistics.fmean(acc[(*setting, s)][name] for s in seeds)

    def label(setting):
        return f"{setting[0]} {setting[1]} {setting[2]:.0%}"

    rows = [["ELR alone"] + [f"{mean('elr', s):.1f}" for s in settings]]
    for fraction in FRACTIONS:
        for kind in ("trusted only", "blend"):
            name = f"{kind} x{fraction:g}"
            base = f"{kind} x1"
            rows.append([f"{kind}, {fraction:g} of the steps"]
                        + [f"{mean(name, s):.1f} ({mean(name, s) - mean(base, s):+.1f})" for s in settings])
    times = [[f"{fraction:g} of the steps"]
             + [f"{statistics.median(acc[(*s, seed)][f'time x{fraction:g}'] for seed in seeds):.2f}" for s in settings]
             for fraction in FRACTIONS]
    per_seed = [[f"blend, {fraction:g} of the steps"]
                + [" / ".join(f"{acc[(*s, seed)][f'blend x{fraction:g}'] - acc[(*s, seed)]['blend x1']:+.1f}"
                              for seed in seeds) for s in settings]
                for fraction in FRACTIONS[1:]]
    title = "The trusted blend's trusted network at a fraction of its optimizer steps"
    lines, facts, command = _validation_study.report_head(title, __doc__, argv, elapsed)
    lines += ["## Validation accuracy", "",
              f"Mean validation accuracy (%) over seeds {', '.join(map(str, seeds))} with 20 trusted rows per "
              "class; in parentheses the difference from the same network trained for the full count of steps.", ""]
    lines.append(_common.markdown_table(["variant"] + [label(s) for s in settings], rows))
    lines += ["", "## Per seed", "", "The blend's difference from the full count of steps (points), seed by seed.", ""]
    lines.append(_common.markdown_table(["variant"] + [label(s) for s in settings], per_seed))
    lines += ["", "## Cost", "", "Median CPU time (s, one torch thread) of the trusted network's fit.", ""]
    lines.append(_common.markdown_table(["trusted network"] + [label(s) for s in settings], times))
    lines.append("")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "trusted_net_steps.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = {f"{d} {n} {r:.0%}, {f:g} of the steps": mean(f"blend x{f:g}", (d, n, r)) - mean("blend x1", (d, n, r))
              for d, n, r in settings for f in FRACTIONS[1:]}
    _common.bar_figure(out / "trusted_net_steps.png", values, "blend: points against the full count of steps",
                       title, facts, command, reference=("no change", 0.0))
    print((out / "trusted_net_steps.md").read_text())


if __name__ == "__main__":
    main()
