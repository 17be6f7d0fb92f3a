"""VolMin's learned T when two classes flip into each other (a 2-cycle): a known limitation, measured.

Found in ``million_rows.py``'s run: its flip-to-one noise sends class 3 to
class 6 and class 6 to class 3 (30% each), and the T learned by
``ForwardCorrectedClassifier``'s default (VolMinNet) gave rows 3 and 6 the
same 0.5 / 0.5 split, where every other row was within 0.03 of the truth.
Why: in T's parameterisation (``T = rownorm(I + sigmoid(W) * off)``) the two
rows of a 2-cycle become equal, and ``log|det T|`` falls without bound, as the
two off-diagonal logits grow; along that path the fit term's pull back
vanishes with ``sigmoid'(W)`` while the volume term's stays about
``lambda / 2`` per logit, so once T passes a point it runs away. The
library's lambda (1e-2, chosen on validation accuracy by
``volmin_lambda.py``) makes that point near enough to be crossed.

Command of the committed results (2 CPU cores)::

    python benchmarks/volmin_two_cycle.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/volmin_two_cycle.py --quick --out /tmp/volmin_two_cycle

Protocol: ``make_noisy_classification`` without noise (50 features, 20
informative, 10 classes of one cluster each) for the training rows and
10,000 clean test rows; the training labels corrupted by
``corrupt_labels`` with a flip-to-one T at 30% whose flips are 3 -> 6 and
6 -> 3 (the 2-cycle) and ``c -> c + 1`` along 0-1-2, 4-5 and 7-8-9, with
2 -> 0, 5 -> 0 and 9 -> 7 (two 3-cycles, no other 2-cycle); ``ForwardCorrectedClassifier``
with every default (MLP(64) here, 20 epochs, lr 1e-3, batch 128) but
``volmin_lambda`` in {0, 1e-3, 1e-2 (the default)}; 4,000 and 20,000
training rows, seeds 0 and 1. Reported: the learned ``T[3, 6]`` and
``T[6, 3]`` (truth 0.3), the mean row-L1 error of the other 8 rows, the
clean test accuracy.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

LAMBDAS = (0.0, 1e-3, 1e-2)
FLIPS = {0: 1, 1: 2, 2: 0, 3: 6, 6: 3, 4: 5, 5: 0, 7: 8, 8: 9, 9: 7}
RATE = 0.3


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    return parser.parse_args(argv)


def true_transition_matrix():
    T = np.eye(10) * (1 - RATE)
    for source, target in FLIPS.items():
        T[source, target] = RATE
    return T


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    from sknoisy import ForwardCorrectedClassifier, make_noisy_classification
    from sknoisy.modules import MLP
    from sknoisy.noise import corrupt_labels

    sizes, seeds, epochs, n_test = (4_000, 20_000), (0, 1), 20, 10_000
    if args.quick:
        sizes, seeds, epochs, n_test = (1_000,), (0,), 3, 1_000
    T = true_transition_matrix()
    others = [c for c in range(10) if c not in (3, 6)]
    start = time.perf_counter()
    rows = []
    for n in sizes:
        for seed in seeds:
            X, _, y, _ = make_noisy_classification(n + n_test, 50, 10, noise="symmetric", rate=0.0, random_state=seed,
                                                   n_informative=20, n_clusters_per_class=1)
            X = X.astype(np.float32)
            X = (X - X[:n].mean(axis=0)) / X[:n].std(axis=0)
            y_noisy = corrupt_labels(y[:n], T, random_state=seed)
            for lam in LAMBDAS:
                clf = ForwardCorrectedClassifier(MLP, module__hidden_units=(64,), max_epochs=epochs, volmin_lambda=lam,
                                                 random_state=seed, verbose=0).fit(X[:n], y_noisy)
                T_hat = clf.transition_matrix_
                error = float(np.abs(T_hat[others] - T[others]).sum(axis=1).mean())
                accuracy = float(np.mean(clf.predict(X[n:]) == y[n:]))
                rows.append((n, seed, lam, T_hat[3, 6], T_hat[6, 3], error, accuracy))
                print(f"n={n} seed={seed} lambda={lam:g}: T[3,6]={T_hat[3, 6]:.3f} T[6,3]={T_hat[6, 3]:.3f} "
                      f"other rows' error {error:.3f}, test {100 * accuracy:.1f}%", flush=True)
    total = (time.perf_counter() - start) / 60

    table = []
    for n in sizes:
        for lam in LAMBDAS:
            mine = [r for r in rows if r[0] == n and r[2] == lam]
            table.append([f"{n:,}", f"{lam:g}" + (" (default)" if lam == 1e-2 else ""),
                          " / ".join(f"{r[3]:.2f}" for r in mine), " / ".join(f"{r[4]:.2f}" for r in mine),
                          f"{np.mean([r[5] for r in mine]):.3f}", f"{100 * np.mean([r[6] for r in mine]):.1f}"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    facts = _common.machine_facts()
    command = _common.command_line(argv)
    md = [_common.header_markdown("VolMin's learned T under a 2-cycle (3 -> 6 and 6 -> 3)", facts, command)]
    md.append(f"Protocol: see the docstring of `benchmarks/volmin_two_cycle.py`. Seeds {', '.join(map(str, seeds))} "
              f"(per seed, separated by /); {epochs} epochs; truth T[3, 6] = T[6, 3] = {RATE}; 0.5 / 0.5 is the "
              f"collapse (rows 3 and 6 equal). Total run time {total:.1f} min.\n")
    md.append(_common.markdown_table(
        ["training rows", "volmin_lambda", "learned T[3, 6]", "learned T[6, 3]", "other rows' mean L1 error",
         "clean test accuracy (%)"], table))
    (out / "volmin_two_cycle.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(out / "volmin_two_cycle.png",
                       {f"{r[0]:,} rows, seed {r[1]}, lambda {r[2]:g}": r[3] for r in rows},
                       "learned T[3, 6] (truth 0.3; 0.5 = rows 3 and 6 merged)",
                       "VolMin's T under a 2-cycle", facts, command, reference=("truth", RATE))
    print(f"wrote {out / 'volmin_two_cycle.md'}")


if __name__ == "__main__":
    main()
