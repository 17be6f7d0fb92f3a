"""Faster per-batch losses for forward, GLC and VolMin that were tried and not kept (issue 22).

Issue 22 asks GLC for at most 1.25x the raw loop per epoch and VolMin (forward correction with a
learned T) for at most 1.4x; ``speed.py`` measured 1.28x and 1.67x. On a network this small a step
is a few hundred microseconds of per-operation overhead, so the losses' own work was rewritten in
the ways that usually cut it, each checked equal (value and gradient, float64) to the library's loss
before it is timed:

* **one autograd node** for the forward-corrected and GLC losses: the target's column of T gathered,
  the gradient with respect to the logits and to T written out (as the library's NCE+RCE), the
  log-softmax taken over the transposed view (torch's CPU kernel over the last dimension is several
  times slower below 16 classes: the last rows of the loss table);
* **one autograd node for VolMin's T and its log-determinant**: ``T = rownorm(I + sigmoid(W) * off)``
  and ``log|det T|`` from one float64 LU factorisation, the gradient written out
  (``dlogdet/dT = T^-T`` from the same factorisation);
* **the log-sum-exp form** of the forward correction: ``log (p @ T)_j = log_softmax(M)_j`` with
  ``M_j = logsumexp_k(z_k + log T_kj)``, so the loss is one fused cross-entropy on ``M`` (exact, no
  clamp).

Each variant replaces the library's loss inside the library's own classifiers (the same network,
optimizer, data and seed), so the epoch column compares like with like. None was kept: see the
verdict in the results. Since 2026-12-07 the library's VolMin loss builds T as one softmax; its
volume term is one product ``sum(T * G)`` whose value and gradient come from one float64 LU (the
committed results were run with that day's earlier form, the log-determinant's gradient through a
surrogate and its value computed apart; the two were within noise of each other, 0.97x per epoch in
an interleaved comparison). The form before 2026-12-07 is timed beside it as a reference row, not a try.

Command of the committed results (2 CPU cores, one torch thread, nothing else running)::

    python benchmarks/fused_loss_tries.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/fused_loss_tries.py --quick --out /tmp/fused_loss_tries
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import _common

CLASSES = 10
BATCH = 128


# ----------------------------------------------------------------- the tried variants
def log_softmax_rows(logits):
    """log_softmax over dim 1, taken over the transposed view on CPU below 16 classes."""
    if logits.device.type == "cpu" and 4 <= logits.shape[1] <= 15:
        return torch.log_softmax(logits.t(), dim=0).t()
    return torch.log_softmax(logits, dim=1)


def _library_loss():
    from sknoisy.losses import _transition

    return _transition._forward_corrected_loss


#: the library's formula (forward correction; GLC with ``trusted``), through autograd, captured
#: before any variant replaces it
_LIBRARY_LOSS = _library_loss()


def _reference(logits, target, T, eps, reduction, trusted=None):
    return _LIBRARY_LOSS(logits, target, T, eps, reduction, trusted=trusted)


def _pick(values, target):
    return values.gather(1, target.unsqueeze(1)).squeeze(1)


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


class FusedForwardCorrected(torch.autograd.Function):
    """Forward / GLC loss as one node: ``p . T[:, y]``, its gradient written out."""

    @staticmethod
    def forward(ctx, logits, target, T, trusted, eps, reduction):
        log_p = log_softmax_rows(logits)
        p = log_p.exp()
        columns = T.t().contiguous().index_select(0, target)
        q = torch.linalg.vecdot(p, columns)
        clamped = q.clamp(min=eps, max=1.0)
        loss = clamped.log().neg_()
        if trusted is not None:
            loss = torch.where(trusted, _pick(log_p, target).neg_(), loss)
        ctx.save_for_backward(logits, target, T, trusted, p, columns, q, clamped)
        ctx.constants = (eps, reduction)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad_output):
        logits, target, T, trusted, p, columns, q, clamped = ctx.saved_tensors
        eps, reduction = ctx.constants
        needs_logits, _, needs_T = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph: through the reference formula
            wanted = [t for t, needed in ((logits, needs_logits), (T, needs_T)) if needed]
            with torch.enable_grad():
                rows = _reference(logits, target, T, eps, "none", trusted=trusted)
                scale = grad_output if reduction == "none" else (
                    grad_output / rows.shape[0] if reduction == "mean" else grad_output).expand_as(rows)
                grads = iter(torch.autograd.grad(rows, wanted, scale, create_graph=True))
            return (next(grads) if needs_logits else None), None, (next(grads) if needs_T else None), None, None, None
        weight = grad_output if reduction == "none" else (grad_output / q.shape[0] if reduction == "mean" else grad_output)
        live = (clamped == q).to(q.dtype).mul_(weight)  # the clamp passes the gradient where inactive
        if trusted is not None:
            live = live.masked_fill_(trusted, 0.0)
        scaled = p * (live / q).unsqueeze(1)  # d/dz of -log(p . c) = p - c p / q; d/dT[k, y] = -p_k / q
        grad_logits = grad_T = None
        if needs_logits:
            grad_logits = p * live.unsqueeze(1) - columns * scaled
            if trusted is not None:
                rows = (p - F.one_hot(target, p.shape[1]).to(p.dtype)) * (weight * trusted).unsqueeze(1)
                grad_logits = torch.where(trusted.unsqueeze(1), rows, grad_logits)
        if needs_T:
            grad_T = T.new_zeros(T.shape).index_add_(0, target, scaled, alpha=-1.0).t()
        return grad_logits, None, grad_T, None, None, None


def fused_loss(logits, target, T, eps, reduction, trusted=None):
    if not (logits.requires_grad or T.requires_grad) or not torch.is_grad_enabled():
        return _reference(logits, target, T, eps, reduction, trusted=trusted)
    return FusedForwardCorrected.apply(logits, target, T, trusted, eps, reduction)


def log_sum_exp_loss(logits, target, T, eps, reduction, trusted=None):
    """``CE(M, y)`` with ``M_j = logsumexp_k(z_k + log T_kj)``: exact, T floored at eps inside the log."""
    M = torch.logsumexp(logits.unsqueeze(2) + T.clamp(min=eps).log(), dim=1)
    if trusted is not None:
        M = torch.where(trusted.unsqueeze(1), logits, M)
    return F.cross_entropy(M, target, reduction=reduction)


def _volmin_transition(W, off_diagonal):
    sigma = torch.sigmoid(W)
    unnormalised = torch.addcmul(1.0 - off_diagonal, sigma, off_diagonal)
    rows = unnormalised.sum(dim=1, keepdim=True)
    return unnormalised / rows, sigma, rows


class VolMinTransition(torch.autograd.Function):
    """``T = rownorm(I + sigmoid(W) * off)`` and ``log|det T|`` from one LU, as one node."""

    @staticmethod
    def forward(ctx, W, off_diagonal):
        T, sigma, rows = _volmin_transition(W, off_diagonal)
        LU, pivots, _ = torch.linalg.lu_factor_ex(T.to(torch.float64))
        ctx.save_for_backward(W, off_diagonal, T, sigma, rows, LU, pivots)
        return T, LU.diagonal().abs().log().sum().to(T.dtype)

    @staticmethod
    def backward(ctx, grad_T, grad_logdet):
        W, off_diagonal, T, sigma, rows, LU, pivots = ctx.saved_tensors
        if torch.is_grad_enabled():
            with torch.enable_grad():
                T_ref, _, _ = _volmin_transition(W, off_diagonal)
                logdet = torch.linalg.slogdet(T_ref.to(torch.float64)).logabsdet.to(T_ref.dtype)
                (grad_W,) = torch.autograd.grad((T_ref, logdet), (W,), (grad_T, grad_logdet), create_graph=True)
            return grad_W, None
        G = grad_T if grad_T is not None else torch.zeros_like(T)
        if grad_logdet is not None:
            identity = torch.eye(LU.shape[0], dtype=LU.dtype, device=LU.device)
            inverse_t = torch.linalg.lu_solve(LU, pivots, identity, adjoint=True)
            G = G + (grad_logdet.to(torch.float64) * inverse_t).to(T.dtype)
        grad_U = (G - (G * T).sum(dim=1, keepdim=True)) / rows
        return grad_U.mul_(sigma * (1.0 - sigma) * off_diagonal), None


def volmin_fused_forward(self, logits, target):
    """VolMinCrossEntropy.forward with T and log|det T| from one node."""
    from sknoisy.losses import forward_corrected_cross_entropy

    W = self.transition_logits
    T, volume = VolMinTransition.apply(W, self._off_diagonal.to(W.dtype))
    loss = forward_corrected_cross_entropy(logits, target, T, eps=self.eps, reduction=self.reduction)
    rows = target.shape[0] if self.reduction == "sum" else 1
    return loss + (self.volume_weight * rows) * volume.to(loss.dtype)


def volmin_before_forward(self, logits, target):
    """VolMinCrossEntropy.forward as the library had it before 2026-12-07 (the reference row ``BEFORE``).

    T built op by op (``rownorm(I + sigmoid(W) * off)``) and ``log|det T|`` through torch's ``slogdet``
    and autograd; the library now builds T as one softmax and carries the log-determinant's gradient
    through a surrogate whose ``T^-T`` comes from one float64 LU in numpy.
    """
    from sknoisy.losses import forward_corrected_cross_entropy

    W = self.transition_logits
    unnormalised = torch.eye(self.n_classes, dtype=W.dtype, device=W.device) + torch.sigmoid(W) * self._off_diagonal
    T = unnormalised / unnormalised.sum(dim=1, keepdim=True)
    loss = forward_corrected_cross_entropy(logits, target, T, eps=self.eps, reduction=self.reduction)
    volume = torch.linalg.slogdet(T.to(torch.float64)).logabsdet.to(loss.dtype)
    rows = target.shape[0] if self.reduction == "sum" else 1
    return loss + (self.volume_weight * rows) * volume


# ----------------------------------------------------------------- swapping a variant in
class Variant:
    """A context that puts a tried loss in place of the library's, everywhere the library calls it."""

    def __init__(self, loss=None, volmin_forward=None):
        self.loss, self.volmin_forward = loss, volmin_forward

    def __enter__(self):
        from sknoisy.losses import _transition

        self.saved = (_transition._forward_corrected_loss, _transition.VolMinCrossEntropy.forward)
        if self.loss is not None:
            _transition._forward_corrected_loss = self.loss
        if self.volmin_forward is not None:
            _transition.VolMinCrossEntropy.forward = self.volmin_forward
        return self

    def __exit__(self, *exc):
        from sknoisy.losses import _transition

        _transition._forward_corrected_loss, _transition.VolMinCrossEntropy.forward = self.saved


#: Not a try: the library's VolMin loss as it was before 2026-12-07, timed against today's
BEFORE = "VolMin's loss before 2026-12-07 (T op by op, slogdet through autograd)"
VARIANTS = {
    "library (autograd through the formula)": Variant(),
    BEFORE: Variant(volmin_forward=volmin_before_forward),
    "one node, gradient written out": Variant(loss=fused_loss, volmin_forward=volmin_fused_forward),
    "log-sum-exp form (one fused cross-entropy)": Variant(loss=log_sum_exp_loss),
}


def check_equal():
    """Each variant's value and first derivatives equal the library's (float64), second ones where used."""
    from sknoisy import make_transition_matrix
    from sknoisy.losses import GoldCorrectedCrossEntropy, VolMinCrossEntropy
    from sknoisy.losses import forward_corrected_cross_entropy as forward

    gen = torch.Generator().manual_seed(0)
    T = torch.tensor(make_transition_matrix("symmetric", CLASSES, 0.3))
    logits0 = torch.randn(32, CLASSES, generator=gen, dtype=torch.float64) * 3
    target = torch.randint(0, CLASSES, (32,), generator=gen)
    trusted = torch.rand(32, generator=gen) < 0.3
    volmin = VolMinCrossEntropy(T.numpy(), volume_weight=0.3).to(torch.float64)
    with torch.no_grad():
        volmin.transition_logits.add_(torch.randn(CLASSES, CLASSES, generator=gen, dtype=torch.float64) * 0.3)
    gold = GoldCorrectedCrossEntropy(T.numpy()).to(torch.float64)
    calls = {
        "forward": lambda z, Tm: forward(z, target, Tm),
        "GLC": lambda z, Tm: gold(z, target, trusted),
        "VolMin": lambda z, Tm: volmin(z, target),
    }
    results = {}
    for name, variant in VARIANTS.items():
        with variant:
            for call_name, call in calls.items():
                # T is the learned parameter W for VolMin; a fixed T (no gradient) for forward and GLC, as in
                # their classifiers. The second derivative is MLC's kind (of a gradient's norm).
                def params(z, Tm, call_name=call_name):
                    return (z, volmin.transition_logits) if call_name == "VolMin" else (z,)

                z, Tm = logits0.clone().requires_grad_(), T.clone()
                loss = call(z, Tm)
                grads = torch.autograd.grad(loss, params(z, Tm), create_graph=True)
                (second,) = torch.autograd.grad((grads[0] ** 2).sum(), params(z, Tm)[-1])
                z2 = logits0.clone().requires_grad_()
                first = torch.autograd.grad(call(z2, Tm), params(z2, Tm))
                results[(name, call_name)] = [t.detach() for t in (loss, *grads, second, *first)]
    reference = list(VARIANTS)[0]
    worst = {}
    for (name, call_name), values in results.items():
        diffs = [float((a - b).abs().max()) for a, b in zip(values, results[(reference, call_name)])]
        worst[(name, call_name)] = max(diffs)
    return worst


def loss_timings(rounds, calls_per_round):
    """Forward + backward of each loss on one (128, 10) float32 batch, microseconds, interleaved rounds."""
    from sknoisy import make_transition_matrix
    from sknoisy.losses import ForwardCorrectedCrossEntropy, GoldCorrectedCrossEntropy, VolMinCrossEntropy

    T = make_transition_matrix("symmetric", CLASSES, 0.3)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(BATCH, CLASSES, generator=gen)
    target = torch.randint(0, CLASSES, (BATCH,), generator=gen)
    trusted = torch.rand(BATCH, generator=gen) < 0.1
    losses = {
        "forward (T given)": (ForwardCorrectedCrossEntropy(T), lambda c, z: c(z, target)),
        "GLC (10% trusted rows)": (GoldCorrectedCrossEntropy(T), lambda c, z: c(z, target, trusted)),
        "VolMin (T learned, log-det)": (VolMinCrossEntropy(T, volume_weight=1e-2), lambda c, z: c(z, target)),
    }
    runs = {}
    for variant_name, variant in VARIANTS.items():
        for loss_name, (criterion, call) in losses.items():
            def run(variant=variant, criterion=criterion, call=call):
                with variant:
                    for _ in range(calls_per_round):
                        call(criterion, logits.clone().requires_grad_()).backward()
                return calls_per_round
            runs[(variant_name, loss_name)] = run
    runs[("torch", "cross-entropy")] = lambda: [
        F.cross_entropy(logits.clone().requires_grad_(), target).backward() for _ in range(calls_per_round)
    ] and calls_per_round
    runs[("torch", "log_softmax(dim=1)")] = lambda: [
        torch.log_softmax(logits.clone().requires_grad_(), 1).sum().backward() for _ in range(calls_per_round)
    ] and calls_per_round
    runs[("torch", "log_softmax over the transposed view")] = lambda: [
        log_softmax_rows(logits.clone().requires_grad_()).sum().backward() for _ in range(calls_per_round)
    ] and calls_per_round
    times = _common.interleaved_timings(runs, rounds)
    return {key: 1e6 * statistics.median(values) for key, values in times.items()}


def epoch_timings(rounds, n_rows, epochs):
    """Per-epoch CPU time of the library's classifiers with each variant swapped in, and of CE."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler
    from speed import CpuEpochTimer

    from sknoisy import (
        CrossEntropyClassifier,
        ForwardCorrectedClassifier,
        GLCClassifier,
        corrupt_labels,
        make_transition_matrix,
    )
    from sknoisy.modules import MLP

    X, y = make_classification(n_rows, 50, n_informative=20, n_redundant=10, n_classes=CLASSES, flip_y=0.0,
                               random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    T = make_transition_matrix("symmetric", CLASSES, 0.3)
    y_noisy = corrupt_labels(y, T, random_state=0)
    trusted = np.random.default_rng(0).random(n_rows) < 0.1
    y_train = np.where(trusted, y, y_noisy).astype(np.int64)
    common = dict(module__hidden_units=(128,), optimizer=torch.optim.Adam, lr=1e-3, batch_size=BATCH,
                  max_epochs=epochs, train_split=None, verbose=0, random_state=0, warm_up_epochs=0)
    estimators = {
        "forward (T given)": lambda: ForwardCorrectedClassifier(MLP, transition_matrix=T, **common),
        "GLC (10% trusted rows, T given)": lambda: GLCClassifier(MLP, transition_matrix=T, **common),
        "VolMin (T learned, log-det)": lambda: ForwardCorrectedClassifier(MLP, transition_matrix="volmin", **common),
    }
    epoch_cpu = {}

    def fit(make, variant):
        net = make()
        net.set_params(callbacks=[("cpu_timer", CpuEpochTimer())])
        with variant, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(X, y_train, trusted=trusted)
        return statistics.median(net.history[1:, "cpu_dur"])

    runs = {}
    for variant_name, variant in VARIANTS.items():
        for name, make in estimators.items():
            if variant_name != BEFORE or name.startswith("VolMin"):
                runs[(variant_name, name)] = (make, variant)
    ce_common = {k: v for k, v in common.items() if k != "warm_up_epochs"}
    runs[("torch", "CrossEntropyClassifier")] = (lambda: CrossEntropyClassifier(MLP, **ce_common), VARIANTS[
        "library (autograd through the formula)"])
    for key in runs:
        epoch_cpu[key] = []
    for round_ in range(rounds + 1):  # round 0 warms up
        for key, (make, variant) in runs.items():
            value = fit(make, variant)
            if round_:
                epoch_cpu[key].append(value)
    return {key: 1e3 * statistics.median(values) for key, values in epoch_cpu.items()}, epoch_cpu


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--out", type=Path, default=_common.RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    worst = check_equal()
    for key, value in worst.items():
        # rounding only: the log-sum-exp form takes another path to the same numbers (no row near the clamp)
        assert value < 1e-8, f"{key} differs from the library's loss by {value:.3g}"
    loss_us = loss_timings(rounds=3 if args.quick else 7, calls_per_round=20 if args.quick else 400)
    epoch_ms, raw = epoch_timings(rounds=1 if args.quick else 5, n_rows=2000 if args.quick else 20000,
                                  epochs=3 if args.quick else 5)
    elapsed = time.perf_counter() - started

    facts = _common.machine_facts("cpu")
    command = _common.command_line(argv)
    library = list(VARIANTS)[0]
    lines = [_common.header_markdown("Fused per-batch losses tried for issue 22 (not kept)", facts, command)]
    lines += [f"Total run time: {elapsed / 60:.1f} min.", ""]
    for part in __doc__.split("\n\n")[1:4]:  # what was tried, from this docstring: one line per item
        items = [" ".join(line.strip() for line in item.splitlines()) for item in ("\n" + part).split("\n* ")]
        lines += [items[0].strip()] if items[0].strip() else []
        lines += [f"* {item}" for item in items[1:]] + [""]
    lines += ["## Checked equal first", "",
              "Largest absolute difference from the library's loss (float64; value, first derivatives with and "
              "without a graph, and the second derivative MLC's look-ahead takes), before anything is timed:", ""]
    lines.append(_common.markdown_table(
        ["variant", "loss", "max abs difference"],
        [[name, call, f"{value:.1e}"] for (name, call), value in worst.items()]))
    lines += ["", f"## Loss alone: forward + backward on one ({BATCH}, {CLASSES}) float32 batch", "",
              "Median over interleaved rounds, microseconds per call (one torch thread); in parentheses the "
              "multiple of the library's loss.", ""]
    rows = []
    for (variant, loss), value in loss_us.items():
        base = loss_us.get((library, loss))
        rows.append([variant, loss, f"{value:.0f}" + (f" ({value / base:.2f}x)" if base else "")])
    lines.append(_common.markdown_table(["variant", "loss", "us per call"], rows))
    lines += ["", "## Per epoch, inside the library's classifiers", "",
              "20,000 x 50 rows (2,000 with --quick), MLP(128), Adam, batch 128, no warm-up epochs, T given "
              "except VolMin; median epoch CPU time (first epoch of each fit dropped) over interleaved fits; in "
              "parentheses the multiple of the same classifier with the library's loss in the same rounds.", ""]
    rows = []
    for (variant, name), value in epoch_ms.items():
        base = epoch_ms.get((library, name))
        ratios = ""
        if base and variant != library:
            per_round = [a / b for a, b in zip(raw[(variant, name)], raw[(library, name)])]
            ratios = f" ({statistics.median(per_round):.2f}x, rounds {min(per_round):.2f}-{max(per_round):.2f})"
        rows.append([variant, name, f"{value:.1f}{ratios}"])
    lines.append(_common.markdown_table(["variant", "estimator", "epoch CPU (ms)"], rows))
    best = {}
    for (variant, name) in epoch_ms:
        if variant not in (library, "torch", BEFORE):
            per_round = [a / b for a, b in zip(raw[(variant, name)], raw[(library, name)])]
            best[name] = min(best.get(name, (np.inf, None)), (statistics.median(per_round), variant))
    lines += ["", "## Verdict", ""]
    for (variant, name) in epoch_ms:
        if variant == BEFORE:
            per_round = [b / a for a, b in zip(raw[(variant, name)], raw[(library, name)])]
            lines.append(f"- {name}: the library's loss (since 2026-12-07: T as one softmax, the log-determinant's "
                         f"gradient through a surrogate from one numpy LU) takes {statistics.median(per_round):.2f}x "
                         f"the epoch of its form before (rounds {min(per_round):.2f}-{max(per_round):.2f}).")
    for name, (ratio, variant) in best.items():
        kept = "kept" if ratio < 0.95 else "not kept (not 5% faster)"
        lines.append(f"- {name}: the best variant, '{variant}', takes {ratio:.2f}x the library's epoch "
                     f"(median of the per-round ratios): {kept}.")
    lines += ["", "On this machine a small network's step is bounded by the fixed cost of each tensor operation "
              "and of each Python call: a hand-written autograd node saves autograd's bookkeeping but pays "
              "the same in Python, so the per-batch cost of forward, GLC and VolMin stays where it is.", ""]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "fused_loss_tries.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = {f"{variant[:28]} / {name}": value for (variant, name), value in epoch_ms.items()}
    _common.bar_figure(out / "fused_loss_tries.png", values, "epoch CPU (ms)", "Fused losses tried (issue 22)",
                       facts, command)
    print((out / "fused_loss_tries.md").read_text())


if __name__ == "__main__":
    main()
