"""Speed and memory: per-epoch time of every sknoisy estimator against plain skorch.

Command of the committed results (about 3 minutes on 2 CPU cores)::

    python benchmarks/speed.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/speed.py --quick --out /tmp/speed

Protocol (one process, one torch thread unless ``--threads``):

* data: scikit-learn's ``load_digits`` (1,797 x 64, 10 classes, pixels / 16)
  and ``make_classification`` (20,000 x 50, 20 informative, 10 classes,
  standardised); labels corrupted with 30% symmetric noise (known T); 10% of
  the rows marked trusted (with clean labels) for GLC and MLC, passed to every
  sknoisy estimator (they ignore it where unused).
* references: a raw PyTorch loop (``perm = torch.randperm(n)``;
  ``X[perm[i:i + 128]]``; ``F.cross_entropy``, Adam) and the same loop over
  a shuffled ``DataLoader(TensorDataset(X, y))``, measured in the same
  rounds; plain skorch ``NeuralNetClassifier(MLP, criterion=
  torch.nn.CrossEntropyLoss, train_split=None)``; every run uses the same
  module (``sknoisy.modules.MLP``, 128 hidden units), Adam, lr 1e-3, batch
  128, the same epochs (10 on digits, 5 on the tabular set), no validation
  split, a CPU-time epoch timer callback on every net. sknoisy builds Adam
  with torch's fused update (its default since 2026-12-06), the references
  use torch's default, as a hand-written loop does; two diagnostic rows (the
  raw loop with fused Adam, sknoisy with ``optimizer__fused=False``) show
  the optimizer's share.
* runs are interleaved round-robin (the starting estimator rotates each
  round) after one untimed warm-up round; ``--repeats`` timed rounds (>= 5).
  Per fit: per-epoch time is the median over the epochs after the first of
  skorch's own ``dur`` (wall) and of the CPU-time timer; it covers only the
  training epochs of the final network, never the one-time stage-1 work
  (GLC's stage 1, T estimation), which the full-fit columns include.
  A ratio is computed per round (estimator / plain skorch of the same round)
  and the median over rounds reported, with its min-max. CPU time (one
  torch thread) is the work done whatever else the machine runs, so the
  goals are judged on it; wall time is shown beside it.
* peak memory: each estimator is fitted once more in a fresh subprocess
  (after an untimed warm-up fit of plain skorch, so that lazily imported
  torch modules count for no one); the increase of the process's peak
  resident set size (``ru_maxrss``) during that fit is reported.
* diagnostic rows (in italics) attribute the differences: plain skorch with
  the batch collate sknoisy's base uses, the sknoisy losses inside plain
  skorch, RobustLossClassifier without gradient clipping and with skorch's
  own ``GradientNormClipping`` callback (what it used before its cheaper
  clipping), and NCE+RCE through autograd (the generic APL path, what the
  library used before its fused NCE+RCE), measured under the same protocol.
* the losses alone: forward + backward on one batch of 128 logits for
  C = 10, 100 and 1000.

Goals (issue 22), per-epoch CPU time against the raw loop: CE, forward
with a given T, GLC and NCE+RCE <= 1.25x, forward with a learned T
(VolMin) <= 1.4x, MLC <= 2.6x. Those of issues 5 and 12, against plain
skorch, are kept: forward / backward / APL (RobustLossClassifier, nce+rce,
with its default clipping) <= 1.05x and MLC <= 3.0x.
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import _common
import numpy as np
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from torch import nn

GOALS = {"forward": 1.05, "backward": 1.05, "apl": 1.05, "mlc": 3.0}
#: issue 22: per-epoch CPU time against the raw loop, by estimator name
RAW_GOALS = {
    "CrossEntropyClassifier": 1.25,
    "ForwardCorrectedClassifier (given T)": 1.25,
    "GLCClassifier": 1.25,
    "RobustLossClassifier (nce+rce, default clip 5)": 1.25,
    "ForwardCorrectedClassifier (learned T, volmin)": 1.4,
    "MetaLossCorrectionClassifier": 2.6,
}
#: issue 20: per-epoch CPU time of the methods for input-dependent noise against CrossEntropyClassifier
CE_GOALS = {
    "EarlyLearningClassifier": 2.0,
    "CoTeachingClassifier (two networks)": 2.2,
    "TrustedTeacherClassifier (student epochs)": 2.0,
    "InstanceForwardClassifier (T(x) epochs)": 2.0,
    "DivideMixClassifier (split epochs)": 2.0,
}
#: issue 20, for the methods whose timed epochs are one of two networks: the whole fit's CPU time against
#: CrossEntropyClassifier's whole fit (both networks, the same optimizer steps each)
CE_FIT_GOALS = {"TrustedBlendClassifier (ELR epochs)": 2.2}
CE = "CrossEntropyClassifier"
RAW = "raw loop (randperm + tensor indexing)"
RAW_FUSED = "raw loop with torch.optim.Adam(fused=True) (what sknoisy builds)"
CE_DEFAULT_ADAM = "CrossEntropyClassifier (optimizer__fused=False: torch's default Adam, as the raw loop)"
LOADER = "DataLoader loop (TensorDataset, shuffle=True)"
LOADER_CE = "CrossEntropyClassifier through the DataLoader (the fast path off)"
REF = "plain skorch NeuralNetClassifier (reference)"
#: plain skorch with the batch collate sknoisy's base uses: the like-for-like reference
STRICT_REF = "plain skorch + stack collate (as sknoisy's base)"
ROBUST = "RobustLossClassifier (nce+rce, default clip 5)"
PLAIN_APL = "plain skorch + stack collate + NCE+RCE + skorch's GradientNormClipping(5)"
ROBUST_SKORCH_CLIP = "RobustLossClassifier (nce+rce) with skorch's GradientNormClipping(5) instead of its own"
ROBUST_NO_CLIP = "RobustLossClassifier (nce+rce, no clipping)"
COMPOSED_NO_CLIP = "CE base + NCE+RCE through autograd (generic APL path), no clipping"


# ------------------------------------------------------------------ data
def load_data(name, quick=False):
    """X (float32), clean y, noisy y, trusted mask and the true T of a data set."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.preprocessing import StandardScaler

    from sknoisy import corrupt_labels, make_transition_matrix

    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    else:
        n = 2000 if quick else 20000
        X, y = make_classification(
            n, 50, n_informative=20, n_redundant=10, n_classes=10, flip_y=0.0, random_state=0
        )
        X = StandardScaler().fit_transform(X)
    X = X.astype(np.float32)
    n_classes = int(y.max()) + 1
    T = make_transition_matrix("symmetric", n_classes, 0.3)
    y_noisy = corrupt_labels(y, T, random_state=0)
    rng = np.random.default_rng(0)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[rng.choice(len(y), len(y) // 10, replace=False)] = True
    y_train = np.where(trusted, y, y_noisy).astype(np.int64)
    return X, y_train, trusted, T


# ------------------------------------------------- diagnostic components
def batch_collate(batch):
    """Collate (row, label) samples with one ``np.stack`` per field and batch.

    sknoisy's base does the same (torch's default collate makes one tensor
    per row first); giving it to plain skorch too separates that gain from
    the cost of sknoisy's losses and hooks.
    """
    from torch.utils.data import default_collate

    first = batch[0]
    if isinstance(first, tuple) and all(isinstance(part, (np.ndarray, np.generic)) for part in first):
        return tuple(torch.from_numpy(np.asarray(np.stack(parts))) for parts in zip(*batch))
    return default_collate(batch)


class ComposedNCERCE(nn.Module):
    """alpha * NCE + beta * RCE through autograd: the generic APL path (what the fused loss replaced)."""

    def __init__(self, alpha=1.0, beta=1.0, label_min=1e-4):
        super().__init__()
        self.alpha, self.beta, self.label_min = alpha, beta, label_min

    def forward(self, logits, target):
        from sknoisy.losses import active_passive_loss

        return active_passive_loss(
            logits, target.long(), "nce", "rce", alpha=self.alpha, beta=self.beta, label_min=self.label_min
        )


class InstanceForwardOnZeroScores(nn.Module):
    """The instance-forward loss as ``loss(logits, target)``: flip scores of zero (learnable), rates 0.3.

    ``through_autograd``: the same loss through autograd's thirty-odd nodes (what the fused node replaced).
    """

    def __init__(self, through_autograd=False):
        super().__init__()
        self.through_autograd = through_autograd

    def forward(self, logits, target):
        from sknoisy.losses import instance_forward_loss
        from sknoisy.losses._instance import _instance_forward_reference

        n_rows, n_classes = logits.shape
        scores = torch.zeros(n_rows, n_classes, n_classes, dtype=logits.dtype, requires_grad=True)
        rate = torch.full((n_classes,), 0.3, dtype=logits.dtype)
        if self.through_autograd:
            return _instance_forward_reference(logits, scores, target, rate, 0.3, -math.log(1e-4), 1e-7).mean()
        return instance_forward_loss(logits, scores, target, rate)


def check_diagnostic_losses():
    """The composed losses equal the library's fused ones, value and gradient (else the diagnostics mean nothing)."""
    from sknoisy.losses import make_loss

    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(64, 10, generator=gen)
    target = torch.randint(0, 10, (64,), generator=gen)
    z = logits.double().requires_grad_()
    fused = make_loss("nce+rce", alpha=1.0, beta=10.0)(z, target)
    composed = ComposedNCERCE(alpha=1.0, beta=10.0)(z, target)
    assert type(fused.grad_fn).__name__ == "_FusedNCERCEBackward", fused.grad_fn
    assert torch.allclose(fused, composed), (fused, composed)
    grads = [torch.autograd.grad(loss, z)[0] for loss in (fused, composed)]
    assert torch.allclose(*grads), "the library's fused NCE+RCE gradient differs from autograd's"
    fused, composed = (InstanceForwardOnZeroScores(through)(z, target) for through in (False, True))
    assert type(fused.grad_fn).__name__ == "_FusedInstanceForwardBackward", fused.grad_fn
    assert torch.allclose(fused, composed), (fused, composed)
    grads = [torch.autograd.grad(loss, z)[0] for loss in (fused, composed)]
    assert torch.allclose(*grads), "the library's instance-forward gradient differs from autograd's"


# ------------------------------------------------------------ raw loops
class RawLoop:
    """A hand-written PyTorch training loop with the estimators' fit interface and a skorch History.

    ``loader=False``: each epoch draws ``perm = torch.randperm(n)`` and trains
    on ``X[perm[i:i + batch]]`` (what a user writes by hand); ``loader=True``:
    a ``DataLoader(TensorDataset(X, y), shuffle=True)``. Same module,
    optimizer, learning rate and batch size as the estimators; the epoch's
    wall and CPU time go into the history as 'dur' and 'cpu_dur'.
    """

    def __init__(self, n_features, n_classes, epochs, loader=False, batch_size=128, lr=1e-3, fused=False):
        self.n_features, self.n_classes, self.epochs = n_features, n_classes, epochs
        self.loader, self.batch_size, self.lr, self.fused = loader, batch_size, lr, fused

    def fit(self, X, y):
        from skorch.history import History
        from torch.utils.data import DataLoader, TensorDataset

        from sknoisy.modules import MLP

        generator = torch.Generator().manual_seed(0)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            module = MLP(n_features=self.n_features, n_classes=self.n_classes, hidden_units=(128,))
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr, **({"fused": True} if self.fused else {}))
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        n, size = len(X), self.batch_size
        if self.loader:
            loader = DataLoader(TensorDataset(X, y), batch_size=size, shuffle=True, generator=generator)
        self.history = History()
        for _ in range(self.epochs):
            self.history.new_epoch()
            wall, cpu = time.perf_counter(), time.process_time()
            if self.loader:
                batches = iter(loader)
            else:
                perm = torch.randperm(n, generator=generator)
                batches = ((X[idx], y[idx]) for idx in (perm[i:i + size] for i in range(0, n, size)))
            for Xb, yb in batches:
                optimizer.zero_grad()
                loss = F.cross_entropy(module(Xb), yb)
                loss.backward()
                optimizer.step()
            self.history.record("dur", time.perf_counter() - wall)
            self.history.record("cpu_dur", time.process_time() - cpu)
        return self


# --------------------------------------------------------- the estimators
class CpuEpochTimer(Callback):
    """skorch callback: CPU time of each epoch in the history as 'cpu_dur'."""

    def on_epoch_begin(self, net, **kwargs):
        self.start_ = time.process_time()

    def on_epoch_end(self, net, **kwargs):
        net.history.record("cpu_dur", time.process_time() - self.start_)


def estimator_specs(X, y, T, epochs):
    """name -> (factory, fit kwargs, goal key or None, diagnostic?) in table order."""
    from skorch import NeuralNetClassifier
    from skorch.callbacks import GradientNormClipping

    from sknoisy import (
        BackwardCorrectedClassifier,
        CoTeachingClassifier,
        CrossEntropyClassifier,
        DivideMixClassifier,
        EarlyLearningClassifier,
        ForwardCorrectedClassifier,
        InstanceForwardClassifier,
        TrustedBlendClassifier,
        TrustedTeacherClassifier,
    )
    from sknoisy.losses import ForwardCorrectedCrossEntropy, make_loss
    from sknoisy.modules import MLP

    try:
        from sknoisy import GLCClassifier
    except ImportError:
        from sknoisy._glc import GLCClassifier
    try:
        from sknoisy import MetaLossCorrectionClassifier
    except ImportError:
        from sknoisy._meta import MetaLossCorrectionClassifier
    try:
        from sknoisy import RobustLossClassifier
    except ImportError:
        from sknoisy._robust import RobustLossClassifier

    n_classes = int(y.max()) + 1
    common = {
        "module__hidden_units": (128,),
        "optimizer": torch.optim.Adam,
        "lr": 1e-3,
        "batch_size": 128,
        "max_epochs": epochs,
        "train_split": None,
        "verbose": 0,
    }
    collate = {"iterator_train__collate_fn": batch_collate}

    def plain(**extra):
        callbacks = [("cpu_timer", CpuEpochTimer())] + extra.pop("callbacks", [])
        params = {"criterion": torch.nn.CrossEntropyLoss, **common, **extra}
        return lambda: NeuralNetClassifier(
            MLP, module__n_features=X.shape[1], module__n_classes=n_classes, callbacks=callbacks, **params
        )

    def ours(cls, **extra):
        callbacks = [("cpu_timer", CpuEpochTimer())] + extra.pop("callbacks", [])
        return lambda: cls(MLP, random_state=0, callbacks=callbacks, **common, **extra)

    from sknoisy import TransitionMatrixEstimator

    def raw(loader, fused=False):
        return lambda: RawLoop(X.shape[1], n_classes, epochs, loader=loader, fused=fused)

    specs = {
        RAW: (raw(False), "plain", None, False),
        REF: (plain(), "plain", None, False),
        LOADER: (raw(True), "plain", None, False),
        "CrossEntropyClassifier": (ours(CrossEntropyClassifier), "sknoisy", None, False),
        "ForwardCorrectedClassifier (given T)": (
            ours(ForwardCorrectedClassifier, transition_matrix=T), "sknoisy", "forward", False),
        "ForwardCorrectedClassifier (estimated T, anchor-97, cv=3)": (
            ours(ForwardCorrectedClassifier, transition_matrix=TransitionMatrixEstimator(method="anchor", cv=3)),
            "sknoisy", "forward", False),
        "ForwardCorrectedClassifier (learned T, volmin)": (
            ours(ForwardCorrectedClassifier, transition_matrix="volmin"), "sknoisy", None, False),
        "BackwardCorrectedClassifier (given T)": (
            ours(BackwardCorrectedClassifier, transition_matrix=T), "sknoisy", "backward", False),
        "GLCClassifier": (ours(GLCClassifier), "sknoisy", None, False),
        "MetaLossCorrectionClassifier": (ours(MetaLossCorrectionClassifier), "sknoisy", "mlc", False),
        ROBUST: (ours(RobustLossClassifier, loss="nce+rce"), "sknoisy", "apl", False),
        "EarlyLearningClassifier": (ours(EarlyLearningClassifier), "sknoisy", None, False),
        "CoTeachingClassifier (two networks)": (ours(CoTeachingClassifier), "sknoisy", None, False),
        # the timer sees the student's epochs; the teacher's fit on the trusted rows is in the full fit time
        "TrustedTeacherClassifier (student epochs)": (ours(TrustedTeacherClassifier), "sknoisy", None, False),
        # likewise: the ELR network's epochs timed, the trusted network's fit in the full fit time
        "TrustedBlendClassifier (ELR epochs)": (ours(TrustedBlendClassifier), "sknoisy", None, False),
        # the T(x) network's epochs timed; its stage 1 (a VolMin fit, no timer) is in the full fit time
        "InstanceForwardClassifier (T(x) epochs)": (ours(InstanceForwardClassifier), "sknoisy", None, False),
        # one warm-up epoch (not timed: the first epoch never is), then the epochs that split and mix
        "DivideMixClassifier (split epochs)": (ours(DivideMixClassifier, warmup_epochs=1), "sknoisy", None, False),
        # diagnostics: where the time goes, and what the library's fused loss and cheap clipping replaced
        RAW_FUSED: (raw(False, fused=True), "plain", None, True),
        CE_DEFAULT_ADAM: (
            ours(CrossEntropyClassifier, optimizer__fused=False), "sknoisy", None, True),
        "CrossEntropyClassifier (iterator_train__shuffle=True)": (
            ours(CrossEntropyClassifier, iterator_train__shuffle=True), "sknoisy", None, True),
        LOADER_CE: (
            ours(CrossEntropyClassifier, iterator_train__num_workers=0), "sknoisy", None, True),
        STRICT_REF: (plain(**collate), "plain", None, True),
        "plain skorch + stack collate + ForwardCorrectedCrossEntropy": (
            plain(criterion=ForwardCorrectedCrossEntropy, criterion__transition_matrix=T, **collate),
            "plain", None, True),
        PLAIN_APL: (
            plain(criterion=make_loss("nce+rce"), callbacks=[("clip", GradientNormClipping(5.0))], **collate),
            "plain", None, True),
        ROBUST_SKORCH_CLIP: (
            ours(RobustLossClassifier, loss="nce+rce", clip_grad_norm=None,
                 callbacks=[("clip", GradientNormClipping(5.0))]),
            "sknoisy", None, True),
        ROBUST_NO_CLIP: (ours(RobustLossClassifier, loss="nce+rce", clip_grad_norm=None), "sknoisy", None, True),
        COMPOSED_NO_CLIP: (ours(CrossEntropyClassifier, criterion=ComposedNCERCE), "sknoisy", None, True),
    }
    return specs


def fit_once(factory, kind, X, y, trusted):
    net = factory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wall, cpu = time.perf_counter(), time.process_time()
        if kind == "plain":
            net.fit(X, y)
        else:
            net.fit(X, y, trusted=trusted)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    durs = net.history[:, "dur"]
    cpus = net.history[:, "cpu_dur"]
    skip = 1 if len(durs) > 1 else 0  # the first epoch pays one-time costs
    return {
        "epoch_wall": statistics.median(durs[skip:]),
        "epoch_cpu": statistics.median(cpus[skip:]),
        "fit_wall": wall,
        "fit_cpu": cpu,
    }


def run_timing(specs, X, y, trusted, repeats):
    names = list(specs)
    records = {name: [] for name in names}
    for round_ in range(repeats + 1):  # round 0 is the untimed warm-up
        offset = round_ % len(names)
        for name in names[offset:] + names[:offset]:
            factory, kind, _, _ = specs[name]
            result = fit_once(factory, kind, X, y, trusted)
            if round_ > 0:
                records[name].append(result)
    return records


# ------------------------------------------------------- loss per batch
def loss_microbenchmark(classes, batch_size, rounds):
    """Forward + backward time of each loss on one (batch_size, C) batch of logits, in microseconds."""
    from sknoisy import make_transition_matrix
    from sknoisy.losses import (
        BackwardCorrectedCrossEntropy,
        ForwardCorrectedCrossEntropy,
        make_loss,
    )

    results = {}
    for n_classes in classes:
        T = make_transition_matrix("symmetric", n_classes, 0.3)
        losses = {
            "torch CrossEntropyLoss (reference)": torch.nn.CrossEntropyLoss(),
            "ForwardCorrectedCrossEntropy": ForwardCorrectedCrossEntropy(T),
            "BackwardCorrectedCrossEntropy": BackwardCorrectedCrossEntropy(T),
            "make_loss('nce+rce') (fused: one autograd node)": make_loss("nce+rce"),
            "*nce+rce through autograd (generic APL path)*": ComposedNCERCE(),
        }
        if n_classes <= 100:  # its (batch, C, C) flip targets: 0.5 GB at C = 1000
            losses["InstanceForwardLoss (fused: one autograd node; flip scores included)"] = InstanceForwardOnZeroScores()
            losses["*instance-forward loss through autograd*"] = InstanceForwardOnZeroScores(through_autograd=True)
        gen = torch.Generator().manual_seed(0)
        logits = torch.randn(batch_size, n_classes, generator=gen)
        target = torch.randint(0, n_classes, (batch_size,), generator=gen)

        def call(loss, logits=logits, target=target):
            z = logits.clone().requires_grad_()
            loss(z, target).backward()

        calls = {}
        for name, loss in losses.items():  # calls per measurement: about 20 ms each
            start = time.perf_counter()
            call(loss)
            calls[name] = max(3, int(0.02 / max(time.perf_counter() - start, 1e-6)))
        times = {name: [] for name in losses}
        for _ in range(rounds):
            for name, loss in losses.items():
                start = time.perf_counter()
                for _ in range(calls[name]):
                    call(loss)
                times[name].append((time.perf_counter() - start) / calls[name] * 1e6)
        results[n_classes] = {name: statistics.median(values) for name, values in times.items()}
    return results


def loss_table(results):
    classes = list(results)
    names = list(dict.fromkeys(name for c in classes for name in results[c]))
    ref = names[0]
    rows = []
    for name in names:
        rows.append([name] + [
            f"{results[c][name]:.0f} ({results[c][name] / results[c][ref]:.1f}x)" if name in results[c] else "-"
            for c in classes
        ])
    return _common.markdown_table(["loss"] + [f"C = {c}: us (x CE)" for c in classes], rows)


# ------------------------------------------------------------- peak memory
def memory_child(dataset, name, threads, quick):
    """Run in a subprocess: the peak-RSS increase (MB) of one fit."""
    torch.set_num_threads(threads)
    X, y, trusted, T = load_data(dataset, quick)
    specs = estimator_specs(X, y, T, epochs=2)
    # warm-up: lazily imported torch/skorch modules count for no one
    fit_once(specs[REF][0], "plain", X[:256], y[:256], trusted[:256])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    factory, kind, _, _ = specs[name]
    fit_once(factory, kind, X, y, trusted)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # numpy and Python allocations only (torch's allocator is invisible to
    # tracemalloc): shows copies of X or of probability arrays
    tracemalloc.start()
    fit_once(factory, kind, X, y, trusted)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # ru_maxrss is in KiB on Linux
    return {"delta_mb": (after - before) / 1024.0, "peak_mb": after / 1024.0, "traced_mb": traced / 1e6}


def run_memory(dataset, names, threads, quick):
    results = {}
    for name in names:
        cmd = [sys.executable, __file__, "--_memory-child", dataset, name, "--threads", str(threads)]
        if quick:
            cmd.append("--quick")
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"memory run of {name!r} failed:\n{proc.stderr[-2000:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


# ------------------------------------------------------------------ report
def summarise(records, specs):
    rows = {}
    for name, values in records.items():
        row = {}
        for key in ("epoch_wall", "epoch_cpu", "fit_wall", "fit_cpu"):
            own = [v[key] for v in values]
            ratios = [v[key] / r[key] for v, r in zip(values, records[REF])]
            row[key] = statistics.median(own)
            row[key + "_ratio"] = statistics.median(ratios)
            row[key + "_range"] = (min(ratios), max(ratios))
        raw = [v["epoch_cpu"] / r["epoch_cpu"] for v, r in zip(values, records[RAW])]
        row["epoch_cpu_raw"] = statistics.median(raw)
        row["epoch_cpu_raw_range"] = (min(raw), max(raw))
        raw_wall = [v["epoch_wall"] / r["epoch_wall"] for v, r in zip(values, records[RAW])]
        row["epoch_wall_raw"] = statistics.median(raw_wall)
        if RAW_FUSED in records:
            row["epoch_cpu_raw_fused"] = statistics.median(
                v["epoch_cpu"] / r["epoch_cpu"] for v, r in zip(values, records[RAW_FUSED]))
        if CE in records:
            row["epoch_cpu_ce"] = statistics.median(
                v["epoch_cpu"] / r["epoch_cpu"] for v, r in zip(values, records[CE]))
            row["fit_cpu_ce"] = statistics.median(v["fit_cpu"] / r["fit_cpu"] for v, r in zip(values, records[CE]))
        if STRICT_REF in records:
            strict = [v["epoch_cpu"] / r["epoch_cpu"] for v, r in zip(values, records[STRICT_REF])]
            row["epoch_cpu_strict"] = statistics.median(strict)
        rows[name] = row
    return rows


def verdict(name, row, goal_key):
    if goal_key is None:
        return "-"
    goal = GOALS[goal_key]
    ok = row["epoch_cpu_ratio"] <= goal
    return f"{'met' if ok else '**missed**'} (<= {goal:.2f}x)"


def raw_verdict(name, row):
    goal = RAW_GOALS.get(name)
    if goal is None:
        return "-"
    return f"{'met' if row['epoch_cpu_raw'] <= goal else '**missed**'} (<= {goal:.2f}x)"


def dataset_table(rows, specs, memory):
    headers = [
        "estimator", "epoch CPU (ms)", "x raw loop CPU [min-max]", "x raw loop wall", "goal vs raw (issue 22)",
        "ratio CPU vs plain skorch [min-max]", "epoch wall (ms)", "ratio wall",
        "goal (CPU ratio)", "ratio CPU vs plain + stack collate", "full fit wall (s)", "full fit / plain",
        "peak RSS +MB", "numpy/Python peak MB",
    ]
    out = []
    for name, row in rows.items():
        _, _, goal_key, diagnostic = specs[name]
        label = f"*{name}*" if diagnostic else name
        lo, hi = row["epoch_cpu_range"]
        raw_lo, raw_hi = row["epoch_cpu_raw_range"]
        mem = memory.get(name)
        out.append([
            label,
            f"{1000 * row['epoch_cpu']:.1f}",
            f"{row['epoch_cpu_raw']:.3f}x [{raw_lo:.2f}-{raw_hi:.2f}]",
            f"{row['epoch_wall_raw']:.3f}x",
            raw_verdict(name, row),
            f"{row['epoch_cpu_ratio']:.3f}x [{lo:.2f}-{hi:.2f}]",
            f"{1000 * row['epoch_wall']:.1f}",
            f"{row['epoch_wall_ratio']:.3f}x",
            verdict(name, row, goal_key),
            f"{row['epoch_cpu_strict']:.3f}x" if "epoch_cpu_strict" in row else "-",
            f"{row['fit_wall']:.2f}",
            f"{row['fit_wall_ratio']:.2f}x",
            f"{mem['delta_mb']:.1f}" if mem else "-",
            f"{mem['traced_mb']:.1f}" if mem else "-",
        ])
    return _common.markdown_table(headers, out)


def attribution(dataset, rows):
    """Markdown bullets splitting the per-epoch CPU cost (needs the diagnostic rows)."""

    def cpu(name):
        return rows[name]["epoch_cpu"] if name in rows else None

    needed = [
        LOADER_CE, REF, STRICT_REF, "CrossEntropyClassifier", "ForwardCorrectedClassifier (given T)",
        ROBUST, ROBUST_NO_CLIP, "plain skorch + stack collate + ForwardCorrectedCrossEntropy",
        PLAIN_APL, ROBUST_SKORCH_CLIP, COMPOSED_NO_CLIP,
    ]
    if any(cpu(name) is None for name in needed):
        return []
    plain, strict = cpu(REF), cpu(STRICT_REF)
    robust, robust_noclip = cpu(ROBUST), cpu(ROBUST_NO_CLIP)
    return [
        (f"- {dataset}: skorch's per-row default collate costs plain skorch {plain / strict:.2f}x against one "
        f"`np.stack` per batch; sknoisy's base (CrossEntropyClassifier) through the same DataLoader and collate "
        f"runs at {cpu(LOADER_CE) / strict:.3f}x plain skorch with that collate (the cost of the target table, "
        f"hooks and callbacks), and with its in-memory fast path (whole-tensor indexing) at "
        f"{cpu(needed[3]) / strict:.3f}x: the batch assembly was the largest share of a step."),
        (f"- {dataset}: the forward-corrected loss itself costs {cpu(needed[7]) / strict:.2f}x in plain skorch "
        f"with the same collate (ForwardCorrectedClassifier: {cpu(needed[4]) / strict:.2f}x): on a network "
        "this small the loss is a visible share of each step (see the loss table)."),
        (f"- {dataset}: RobustLossClassifier(nce+rce) = {robust / plain:.3f}x plain skorch "
        f"({robust / strict:.3f}x plain skorch with the same collate). Its default clipping (the APL "
        f"authors' clip at 5) costs {robust / robust_noclip:.3f}x over no clipping; skorch's "
        f"GradientNormClipping callback in its place costs {cpu(ROBUST_SKORCH_CLIP) / robust_noclip:.3f}x "
        f"(RobustLossClassifier with it: {cpu(ROBUST_SKORCH_CLIP) / plain:.3f}x plain skorch; the same loss "
        f"and callback inside plain skorch with the same collate: {cpu(PLAIN_APL) / plain:.3f}x). The fused "
        f"NCE+RCE against the same loss through autograd (both unclipped, sknoisy's base): "
        f"{robust_noclip / cpu(COMPOSED_NO_CLIP):.3f}x."),
    ] + _optimizer_attribution(dataset, cpu)


def _optimizer_attribution(dataset, cpu):
    """The optimizer's share: sknoisy builds Adam fused, the raw loop (like plain skorch) does not."""
    default_ce = cpu(CE_DEFAULT_ADAM)
    if default_ce is None or cpu(RAW_FUSED) is None:
        return []
    return [
        (f"- {dataset}: optimizer. sknoisy builds Adam with torch's fused update (`fused=True`), the raw loop "
        f"and plain skorch use torch's default. CrossEntropyClassifier with the default Adam runs at "
        f"{default_ce / cpu(RAW):.3f}x the raw loop (fused: {cpu(CE) / cpu(RAW):.3f}x); the raw loop with "
        f"fused Adam runs at {cpu(RAW_FUSED) / cpu(RAW):.3f}x the raw loop, and CrossEntropyClassifier at "
        f"{cpu(CE) / cpu(RAW_FUSED):.3f}x that loop (same optimizer on both sides: what is left is skorch's "
        "and sknoisy's own per-batch work). The diagnostic rows inside plain skorch keep its default Adam, "
        "so the collate and loss bullets above compare like with like only among themselves."),
    ]


def plot(all_rows, all_specs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(all_rows)
    names = [n for n in all_rows[datasets[0]] if not all_specs[datasets[0]][n][3] and n != RAW]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(names) + 1.8))
    height = 0.8 / len(datasets)
    ypos = np.arange(len(names))
    for k, dataset in enumerate(datasets):
        ratios = [all_rows[dataset][n]["epoch_cpu_raw"] for n in names]
        lows = [all_rows[dataset][n]["epoch_cpu_raw_range"][0] for n in names]
        highs = [all_rows[dataset][n]["epoch_cpu_raw_range"][1] for n in names]
        err = np.array([np.subtract(ratios, lows), np.subtract(highs, ratios)])
        ax.barh(ypos + k * height, ratios, height, xerr=err, capsize=2, label=dataset)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.axvline(1.25, color="tab:green", ls="--", lw=1, label="goal 1.25x (CE, forward given T, GLC, NCE+RCE)")
    ax.axvline(1.4, color="tab:olive", ls="--", lw=1, label="goal 1.4x (forward, learned T)")
    ax.axvline(2.6, color="tab:red", ls="--", lw=1, label="goal 2.6x (MLC)")
    ax.set_yticks(ypos + height * (len(datasets) - 1) / 2)
    ax.set_yticklabels([n.replace(" (", "\n(") for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("CPU time per epoch / raw PyTorch loop (median of paired rounds, min-max)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("sknoisy per-epoch cost relative to a hand-written loop")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run (seconds) to check that the script works")
    p.add_argument("--datasets", nargs="+", choices=("digits", "tabular"), default=["digits", "tabular"])
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (>= 5 for the committed results)")
    p.add_argument("--epochs-digits", type=int, default=10)
    p.add_argument("--epochs-tabular", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: CPU time = work done)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-diagnostics", action="store_true", help="skip the diagnostic rows")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for speed.md and speed.png (default: benchmarks/results)")
    p.add_argument("--_memory-child", nargs=2, metavar=("DATASET", "NAME"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args._memory_child:
        print(json.dumps(memory_child(*args._memory_child, args.threads, args.quick)))
        return
    torch.set_num_threads(args.threads)
    check_diagnostic_losses()
    out = args.out or _common.RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.repeats, args.epochs_digits, args.epochs_tabular = 1, 2, 2
    started = time.perf_counter()
    load_before = os.getloadavg()
    all_rows, all_specs, sections = {}, {}, []
    for dataset in args.datasets:
        X, y, trusted, T = load_data(dataset, args.quick)
        epochs = args.epochs_digits if dataset == "digits" else args.epochs_tabular
        specs = estimator_specs(X, y, T, epochs)
        if args.no_diagnostics or args.quick:
            specs = {name: spec for name, spec in specs.items() if not spec[3]}
        if args.quick:
            specs = {name: specs[name] for name in (RAW, REF, CE, *CE_GOALS)}
        print(f"[{dataset}] timing {len(specs)} estimators x {args.repeats} rounds ...", flush=True)
        records = run_timing(specs, X, y, trusted, args.repeats)
        rows = summarise(records, specs)
        memory = {}
        if not args.no_memory:
            print(f"[{dataset}] peak memory ...", flush=True)
            names = [n for n in specs if not specs[n][3]]
            if args.quick:
                names = names[:2]
            memory = run_memory(dataset, names, args.threads, args.quick)
        all_rows[dataset], all_specs[dataset] = rows, specs
        title = (
            f"{dataset}: {X.shape[0]} x {X.shape[1]}, {int(y.max()) + 1} classes, {epochs} epochs per fit, "
            f"{args.repeats} timed rounds"
        )
        sections.append((title, dataset_table(rows, specs, memory), rows, specs))
    print("loss per batch ...", flush=True)
    loss_classes = (10, 100) if args.quick else (10, 100, 1000)
    loss_results = loss_microbenchmark(loss_classes, 128, 1 if args.quick else 7)
    load_after = os.getloadavg()
    elapsed = time.perf_counter() - started

    png = out / "speed.png"
    plot(all_rows, all_specs, png)
    facts = _common.machine_facts("cpu")
    facts["load average (1 min) at start / end"] = f"{load_before[0]:.2f} / {load_after[0]:.2f}"
    lines = [
        _common.header_markdown("Speed and memory against a raw PyTorch loop and plain skorch", facts, _common.command_line()),
        f"Total run time: {elapsed / 60:.1f} min.",
        "",
        ("Per-epoch time is the median over the epochs after the first (final network only: stage 1 and T "
        "estimation are one-time costs, in the full-fit columns). Ratios are medians over rounds of "
        "estimator / reference in the same round, the reference being the raw loop (a hand-written PyTorch "
        "loop: `perm = torch.randperm(n)`, `X[perm[i:i + 128]]`, same module, Adam and batch) or plain "
        "skorch; sknoisy's estimators batch in-memory arrays by whole-tensor indexing (unshuffled by "
        "default, skorch's default; the italic rows show it shuffled and through the DataLoader). Goals are judged on CPU time (one torch thread), "
        "the steadier measure on a shared machine; wall time is shown beside it. sknoisy's base stacks "
        "each batch with one `np.stack` where skorch's default collate makes a tensor per row, which "
        "makes it faster than plain skorch on small networks; the column 'vs plain + stack collate' "
        "compares with plain skorch given the same collate (like for like). Rows in italics are "
        "diagnostics: the sknoisy losses inside plain skorch, RobustLossClassifier without clipping, and "
        "what the library did before (skorch's clipping callback, NCE+RCE through autograd), measured "
        "under the same protocol. Peak RSS +MB: increase of the process's peak resident memory during "
        "one fit in a fresh subprocess (after a warm-up fit, so 0 means the fit needed no more memory than "
        "the warm-up had already touched); numpy/Python peak MB: tracemalloc's peak over a second fit "
        "(numpy and Python objects: copies of X, probability arrays; torch tensors are not traced). "
        "Data: X is float32; GLC, MLC and the trusted-rows methods use the 10% trusted rows."),
        "",
    ]
    for title, table, rows, specs in sections:
        lines += [f"## {title}", "", table, ""]
    lines += [
        "## Loss alone: forward + backward on one batch of 128 logits",
        "",
        ("Median over rounds (interleaved) of the time of `loss(logits, target).backward()`; in parentheses "
        "the multiple of torch's fused cross-entropy (one kernel). The forward-corrected loss takes the "
        "whole product softmax @ T up to 64 classes (fewer tensor operations) and gathers the target's "
        "column of T above, O(batch x C) (the product costs 42x CE at C = 1000); the library's NCE+RCE is one autograd node with a hand-written gradient, checked "
        "equal (value and gradient) to the generic APL path through autograd (in italics) before this "
        "table is made; so is InstanceForwardClassifier's loss (its flip scores' gradient included; not run "
        "at C = 1000, where its C x C flip targets per row take 0.5 GB)."),
        "",
        loss_table(loss_results),
        "",
    ]
    lines += ["## Where the time goes", ""]
    for title, table, rows, specs in sections:
        lines += attribution(title.split(":")[0], rows)
    lines += ["", "## Goals", "", "Issue 22 (per-epoch CPU time against the raw loop of the same round, "
              "which builds torch's default Adam as a hand-written loop does; sknoisy builds it fused, so the "
              "ratio against the raw loop with fused Adam is given beside it):", ""]
    for title, table, rows, specs in sections:
        for name, row in rows.items():
            if name in RAW_GOALS:
                same_optimizer = (
                    f"; {row['epoch_cpu_raw_fused']:.3f}x the raw loop with fused Adam (same optimizer)"
                    if "epoch_cpu_raw_fused" in row else ""
                )
                lines.append(f"- {title.split(':')[0]}: {name}: {row['epoch_cpu_raw']:.3f}x CPU "
                             f"({row['epoch_wall_raw']:.3f}x wall) -> {raw_verdict(name, row)}{same_optimizer}")
    lines += ["", "Issue 20 (per-epoch CPU time against CrossEntropyClassifier of the same round):", ""]
    for title, table, rows, specs in sections:
        for name, row in rows.items():
            if name in CE_GOALS and "epoch_cpu_ce" in row:
                goal = CE_GOALS[name]
                lines.append(f"- {title.split(':')[0]}: {name}: {row['epoch_cpu_ce']:.3f}x CPU -> "
                             f"{'met' if row['epoch_cpu_ce'] <= goal else '**missed**'} (<= {goal:.2f}x)")
            if name in CE_FIT_GOALS and "fit_cpu_ce" in row:
                goal = CE_FIT_GOALS[name]
                lines.append(f"- {title.split(':')[0]}: {name}: {row['epoch_cpu_ce']:.3f}x CPU per ELR epoch; "
                             f"whole fit (both networks) {row['fit_cpu_ce']:.3f}x CE's whole fit -> "
                             f"{'met' if row['fit_cpu_ce'] <= goal else '**missed**'} (<= {goal:.2f}x)")
    lines += ["", "Issues 5 and 12 (against plain skorch):", ""]
    for title, table, rows, specs in sections:
        for name, row in rows.items():
            goal_key = specs[name][2]
            if goal_key and not specs[name][3]:
                lines.append(f"- {title.split(':')[0]}: {name}: {row['epoch_cpu_ratio']:.3f}x CPU "
                             f"({row['epoch_wall_ratio']:.3f}x wall) per epoch -> {verdict(name, row, goal_key)}")
    lines += ["", f"![per-epoch ratios]({png.name})", ""]
    md = out / "speed.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
