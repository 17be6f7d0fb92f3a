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

import torch

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


def main(argv=None):
    _validation_study.run_step_every_study(
        argv, make=mlc, variants=VARIANTS, label=label, datasets=DATASETS, noises=NOISES, seeds=SEEDS,
        rate=RATE, trusted_per_class=20, name="mlc_step_every", doc=__doc__, goal=2.6,
        title="MLC's meta_step_every: a meta step every k-th batch",
        reference_text="a meta step on every batch (k = 1)", variant_header="meta step")


if __name__ == "__main__":
    main()
