"""MLC's ``meta_step_every``: the cost and the accuracy of a meta step on every k-th batch (issue 22).

Issue 22 asks MLC for at most 2.6x the raw loop per epoch; ``speed.py`` measured 3.96x with a meta
step on every training batch (the noisy loss's gradient with a graph, the trusted rows through the
network at the look-ahead parameters and back, a vector-Jacobian product back to T, T's projection)
before the actual step. ``MetaLossCorrectionClassifier(meta_step_every=k)`` takes the meta step on
every k-th batch only, each moving T by k * meta_lr times the meta-gradient (the same movement per
epoch), each step bounded by ``meta_max_step`` (its largest entry at most 0.05). This script
measures k = 1, 2, 4 and 8 to choose the default, and beside them k = 4 with the paper's step
per meta step (meta_lr / 4 here) and k = 4 and k = 1 without the bound (k = 1 unbounded is the
paper's algorithm), on validation splits of the training rows only, both data sets, four
development seeds.

* cost: per-epoch CPU time on ``speed.py``'s tabular set (20,000 x 50, 10 classes, 10% trusted
  rows, MLP(128), Adam, batch 128, one torch thread, 5 epochs, first dropped), interleaved rounds;
* accuracy: the MNIST subset and the tabular set of ``instance_noise.py`` (its split per seed, test
  part dropped), a stratified 20% of the training part kept clean as the validation split every
  accuracy here is measured on; 20 trusted rows per class from the rest, which gets symmetric,
  pair or flip-to-one noise at 40%; MLP(128), Adam 1e-3, batch 128, 20 epochs, the library's MLC
  defaults otherwise; development seeds 100-103 (never those of the committed accuracy results).

Command of the committed results (2 CPU cores)::

    python benchmarks/mlc_step_every.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/mlc_step_every.py --quick --out /tmp/mlc_step_every
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import _common
import _validation_study

SEEDS = (100, 101, 102, 103)
DATASETS = ("mnist", "tabular")
NOISES = ("symmetric", "pair", "flip_to_one")
RATE = 0.4
#: (meta_step_every, meta_lr multiplier, meta_max_step bounded); the first is the reference of the differences
VARIANTS = ((1, 1, True), (2, 1, True), (4, 1, True), (8, 1, True), (4, 0.25, True), (4, 1, False), (1, 1, False))


def label(variant):
    k, scale, bounded = variant
    return (f"meta_step_every={k}" + (f", meta_lr x {scale:g}" if scale != 1 else "")
            + ("" if bounded else ", meta_max_step=None"))


def mlc(variant, **params):
    from sknoisy import MetaLossCorrectionClassifier
    from sknoisy._meta import DEFAULT_META_LR, DEFAULT_META_MAX_STEP
    from sknoisy.modules import MLP

    k, scale, bounded = variant
    return MetaLossCorrectionClassifier(MLP, meta_step_every=k, meta_lr=DEFAULT_META_LR * scale,
                                        meta_max_step=DEFAULT_META_MAX_STEP if bounded else None,
                                        module__hidden_units=(128,), optimizer=torch.optim.Adam, lr=1e-3,
                                        batch_size=128, train_split=None, verbose=0, **params)


def validation_accuracy(dataset, seed, noise, quick):
    """Validation accuracy (%) of each k on one (data set, seed, noise); one worker process."""
    torch.set_num_threads(1)
    X_fit, y_noisy, mask, X_val, y_val = _validation_study.noisy_validation_split(
        dataset, seed, noise, RATE, quick, trusted_per_class=20)
    scores = {}
    for variant in VARIANTS:
        net = mlc(variant, max_epochs=3 if quick else 20, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X_fit, y_noisy, trusted=mask)
        scores[variant] = 100 * float(np.mean(net.predict(X_val) == y_val))
    return (dataset, noise, seed), scores


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    parser.add_argument("--n-jobs", type=int, default=1,
                        help="worker processes for the accuracy part (the timed part runs alone first)")
    return parser.parse_args(argv)


def main(argv=None):
    from joblib import Parallel, delayed

    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    factories = {label(v): (lambda v=v, **params: mlc(v, **params)) for v in VARIANTS}
    times = _validation_study.epoch_costs(factories, 1 if args.quick else 4, args.quick)
    seeds = SEEDS[:1] if args.quick else SEEDS
    tasks = [(d, s, n) for d in DATASETS for n in NOISES for s in seeds]
    acc = dict(Parallel(n_jobs=args.n_jobs)(delayed(validation_accuracy)(*task, args.quick) for task in tasks))
    _validation_study.write_report(
        args, argv, name="mlc_step_every", title="MLC's meta_step_every: a meta step every k-th batch", doc=__doc__,
        variants=VARIANTS, label=label, times=times, acc=acc, settings=[(d, n) for d in DATASETS for n in NOISES],
        seeds=seeds, rate=RATE, goal=2.6, elapsed=time.perf_counter() - started,
        reference_text="a meta step on every batch (k = 1)", variant_header="meta step")


if __name__ == "__main__":
    main()
