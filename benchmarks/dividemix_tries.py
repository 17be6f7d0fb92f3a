"""DivideMixClassifier's defaults, chosen on validation splits of the training rows (issue 20).

``DivideMixClassifier`` (a two-component mixture on the rows' losses splits them after a warm-up; rows
that look noisy are learned as unlabeled from the network's sharpened guesses, with a class-prior penalty;
MixUp off by default; one network, no augmentation) is compared with the variants its defaults were chosen against,
each one default changed, and with CE, ELR, NCE+RCE, Co-teaching and the clean-label ceiling:

* data: the MNIST subset and the tabular set of ``instance_noise.py`` (its split per seed, test part
  dropped), a stratified 20% of the training part kept clean as the validation split every accuracy here
  is measured on; the rest gets Xia et al.'s instance-dependent noise (40%, 20%), annotator-like noise
  (40%) or class-conditional flip-random noise (40%); no trusted rows; MLP(128), Adam lr 1e-3, batch
  128, 20 epochs (the benchmark's); development seeds 100 onwards (``--seeds``), never those of
  ``instance_noise.py``'s results.

Command of the committed results (``--n-jobs 2`` takes both cores)::

    python benchmarks/dividemix_tries.py --seeds 5 --n-jobs 2

Quick check (seconds; what the test suite runs)::

    python benchmarks/dividemix_tries.py --quick --out /tmp/dividemix_tries
"""

import _validation_study
from trusted_rows_tries import DATASETS, FIRST_SEED

SETTINGS = (("instance", 0.4), ("instance", 0.2), ("annotator", 0.4), ("symmetric", 0.4))
#: name -> the DivideMixClassifier parameters that differ from its defaults
VARIANTS = {
    "dividemix (defaults)": {},
    "MixUp as the paper (mixup_alpha=4)": {"mixup_alpha": 4.0},
    "mixup_alpha=0.2": {"mixup_alpha": 0.2},
    "no unlabeled loss (unlabeled_weight=0)": {"unlabeled_weight": 0.0},
    "unlabeled_weight=5": {"unlabeled_weight": 5.0},
    "no sharpening (temperature=1)": {"temperature": 1.0},
    "clean_threshold=0.7": {"clean_threshold": 0.7},
    "no prior penalty (prior_weight=0)": {"prior_weight": 0.0},
    "warmup_epochs=7": {"warmup_epochs": 7},
    "warmup_epochs=14": {"warmup_epochs": 14},
}
REFERENCES = ("ce", "elr", "nce+rce", "coteaching")


def run(dataset, noise, rate, seed, quick):
    """Validation accuracy (%) and fit CPU seconds of every variant and reference on one split."""
    from sknoisy import DivideMixClassifier
    from sknoisy.modules import MLP

    variants = {name: (lambda params, y, y_clean, changes=changes: DivideMixClassifier(MLP, **params, **changes))
                for name, changes in VARIANTS.items()}
    return _validation_study.score_variants(dataset, noise, rate, seed, quick, REFERENCES, variants)


def parse_args(argv=None):
    return _validation_study.parse_seed_args(__doc__, argv, default_seeds=5)


def main(argv=None):
    args = parse_args(argv)
    results, seeds, settings, elapsed = _validation_study.run_grid(args, run, DATASETS, SETTINGS, FIRST_SEED)
    _validation_study.write_tries_report(
        args, argv, results, seeds, settings, elapsed, name="dividemix_tries",
        title="DivideMixClassifier's defaults on validation splits", doc=__doc__,
        names=[*REFERENCES, *VARIANTS, "ceiling"], default=next(iter(VARIANTS)),
        cost_note="every method's whole fit")


if __name__ == "__main__":
    main()
