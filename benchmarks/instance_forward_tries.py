"""InstanceForwardClassifier's defaults, chosen on validation splits of the training rows (issue 20).

``InstanceForwardClassifier`` (forward correction through a per-row ``T(x)``: class flip rates from
VolMin's class-level T, flip targets from a head on the network's features (detached: its gradient
stays in the head), NCE+RCE plus a little cross-entropy, weight averaging over the second half of the
epochs) is compared with the variants its
defaults were chosen against, each one default changed, and with CE, forward (VolMin), NCE+RCE and the
clean-label ceiling:

* data: the MNIST subset and the tabular set of ``instance_noise.py`` (its split per seed, test part
  dropped), a stratified 20% of the training part kept clean as the validation split every accuracy here
  is measured on; the rest gets Xia et al.'s instance-dependent noise (40%, 20%), annotator-like noise
  (40%) or class-conditional flip-random noise (40%); no trusted rows; MLP(128), Adam lr 1e-3 (the
  benchmark's; the step-2 ``instance_lr`` is the method's own), batch 128, 20 epochs; development seeds
  100 onwards (``--seeds``), never those of ``instance_noise.py``'s results.

Command of the committed results (``--n-jobs 2`` takes both cores)::

    python benchmarks/instance_forward_tries.py --seeds 5 --n-jobs 2

Quick check (seconds; what the test suite runs)::

    python benchmarks/instance_forward_tries.py --quick --out /tmp/instance_forward_tries
"""

import numpy as np

import _validation_study
from trusted_rows_tries import DATASETS, FIRST_SEED

SETTINGS = (("instance", 0.4), ("instance", 0.2), ("annotator", 0.4), ("symmetric", 0.4))
#: name -> the InstanceForwardClassifier parameters that differ from its defaults (None: the true flip rate)
VARIANTS = {
    "instance_forward (defaults)": {},
    "step 2 at the benchmark's lr 1e-3 (instance_lr=None)": {"instance_lr": None},
    "no weight averaging (average_from=1)": {"average_from": 1.0},
    "NCE+RCE alone (ce_weight=0)": {"ce_weight": 0.0},
    "cross-entropy weight 1 (ce_weight=1)": {"ce_weight": 1.0},
    "true flip rate given (oracle: no stage 1)": {"flip_rate": None},
    "flip head started at stage 1's flip targets": {"start": "stage 1"},
    "flip head's gradient into the network's features (not detached)": {"attached": True},
    "flip head at the network's lr, in the network's optimizer group": {"one_group": True},
}
REFERENCES = ("ce", "forward", "nce+rce")


def run(dataset, noise, rate, seed, quick):
    """Validation accuracy (%) and fit CPU seconds of every variant and reference on one split."""
    return _validation_study.score_variants(
        dataset, noise, rate, seed, quick, REFERENCES,
        {name: (lambda params, y, y_clean, changes=changes: _variant(changes, params, y, y_clean))
         for name, changes in VARIANTS.items()})


def _variant(changes, params, y, y_clean):
    """The InstanceForwardClassifier of a variant (``flip_rate: None`` is the true flip rate of ``y``)."""
    from sknoisy import InstanceForwardClassifier
    from sknoisy.modules import MLP

    cls = InstanceForwardClassifier
    if "flip_rate" in changes:
        changes = {"flip_rate": float(np.mean(y != y_clean))}
    elif "start" in changes:
        cls, changes = _started_at_stage1(InstanceForwardClassifier), {}
    elif "attached" in changes:
        cls, changes = _on_attached_features(InstanceForwardClassifier), {}
    elif "one_group" in changes:
        cls, changes = _in_one_optimizer_group(InstanceForwardClassifier), {}
    return cls(MLP, **params, **changes)


def _started_at_stage1(cls):
    """``cls`` whose flip head starts at stage 1's flip targets: bias ``log(T[c, j] / sum_{j != c} T[c, j])``."""
    import torch

    class StartedAtStage1(cls):
        def initialize_module(self):
            super().initialize_module()
            T = getattr(self, "transition_matrix_", None)
            if T is not None:
                off = np.where(np.eye(len(T), dtype=bool), 0.0, T)
                off = off / off.sum(axis=1, keepdims=True)
                with torch.no_grad():
                    self.flip_module_.bias.copy_(torch.as_tensor(np.log(np.clip(off, 1e-6, 1.0)).reshape(-1)))
            return self

    return StartedAtStage1


def _on_attached_features(cls):
    """``cls`` whose flip head reads the features undetached: the flip targets' gradient reaches the network."""

    class OnAttachedFeatures(cls):
        def _flip_scores(self, features):
            return self.flip_module_(features.flatten(1))

    return OnAttachedFeatures


def _in_one_optimizer_group(cls):
    """``cls`` whose flip head learns in the network's optimizer group, at its rate (one group: cheaper steps)."""
    from sknoisy import CrossEntropyClassifier

    class InOneOptimizerGroup(cls):
        def get_params_for_optimizer(self, prefix, named_parameters):
            args, kwargs = CrossEntropyClassifier.get_params_for_optimizer(self, prefix, named_parameters)
            if prefix == "optimizer" and "lr" not in self.get_params_for("optimizer"):
                kwargs["lr"] = self.instance_lr
            return args, kwargs

    return InOneOptimizerGroup


def parse_args(argv=None):
    return _validation_study.parse_seed_args(__doc__, argv, default_seeds=5)


def main(argv=None):
    args = parse_args(argv)
    results, seeds, settings, elapsed = _validation_study.run_grid(args, run, DATASETS, SETTINGS, FIRST_SEED)
    _validation_study.write_tries_report(
        args, argv, results, seeds, settings, elapsed, name="instance_forward_tries",
        title="InstanceForwardClassifier's defaults on validation splits", doc=__doc__,
        names=[*REFERENCES, *VARIANTS, "ceiling"], default=next(iter(VARIANTS)),
        cost_note="instance_forward's includes its stage-1 VolMin fit")


if __name__ == "__main__":
    main()
