"""The flip targets' softmax of InstanceForwardLoss: torch's CPU kernel against the written-out form, by classes.

``InstanceForwardLoss`` takes a softmax over the last dimension of a
``(batch, C, C)`` tensor of flip scores on every training batch. Profiling
``InstanceForwardClassifier`` at 10 classes (issue 20's cost goal) found
torch's CPU softmax kernel to be the largest single operation of the step: over
a last dimension shorter than one CPU vector (16 float32 with AVX-512, 8 with
AVX2) it leaves its vectorised path. The library therefore writes the softmax
out (shift by the row's largest off-diagonal score, exp, normalise) from 4
classes to one vector of classes and keeps torch's kernel below and above
(``sknoisy.losses._instance._softmax_last``, which also takes the softmax of
the logits). This script measures the rule on the flip scores.

Command of the committed results (about a minute on 2 CPU cores)::

    python benchmarks/flip_softmax.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/flip_softmax.py --quick --out /tmp/flip_softmax

Protocol: one torch thread, float32, a batch of 128 rows; for each number of
classes ``C`` the softmax alone (the diagonal masked with ``-inf`` in both
forms) and the whole loss (``instance_forward_loss``, forward and backward,
the library's rule against torch's kernel at every ``C``), timed round-robin
(``_common.interleaved_timings``); medians over rounds, microseconds per call.
The written-out form is checked equal to torch's softmax (largest absolute
difference reported) before anything is timed. The CPU's vector capability
(``torch.backends.cpu.get_cpu_capability()``) is in the header: the crossover
is a property of the machine, and ``ATEN_CPU_CAPABILITY=avx2`` shows the AVX2
one on an AVX-512 machine.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

CLASSES = (2, 3, 4, 5, 8, 10, 12, 15, 16, 20, 50, 100)
BATCH = 128
SOFT_TORCH, SOFT_OURS = "softmax: torch's kernel", "softmax: written out"
LOSS_TORCH, LOSS_OURS = "loss: torch's kernel at every C", "loss: library's rule"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    return parser.parse_args(argv)


def timings(n_classes, rounds, calls):
    """Median microseconds per call of each form, and the written-out form's largest difference from torch's."""
    from sknoisy.losses import _instance
    from sknoisy.losses._instance import _diagonal_excluded, instance_forward_loss

    gen = torch.Generator().manual_seed(n_classes)
    scores = torch.randn(BATCH, n_classes, n_classes, generator=gen) * 3
    mask = _diagonal_excluded(n_classes, scores.device, scores.dtype)

    def torch_kernel(s):
        return torch.softmax(s + mask, dim=-1)

    def written_out(s):
        masked = s + mask
        exp = (masked - masked.amax(dim=-1, keepdim=True)).exp()
        return exp / exp.sum(dim=-1, keepdim=True)

    difference = float((torch_kernel(scores) - written_out(scores)).abs().max())
    logits = torch.randn(BATCH, n_classes, generator=gen, requires_grad=True)
    flip_scores = scores.clone().requires_grad_(True)
    target = torch.randint(0, n_classes, (BATCH,), generator=gen)
    library = _instance._flip_targets

    def loss_with(flip_targets):
        def run():
            _instance._flip_targets = flip_targets
            try:
                for _ in range(calls):
                    instance_forward_loss(logits, flip_scores, target, 0.3).backward()
            finally:
                _instance._flip_targets = library
            return calls
        return run

    def repeat(fn):
        def run():
            for _ in range(calls):
                fn(scores)
            return calls
        return run

    times = _common.interleaved_timings({
        SOFT_TORCH: repeat(torch_kernel), SOFT_OURS: repeat(written_out),
        LOSS_OURS: loss_with(library), LOSS_TORCH: loss_with(torch_kernel),
    }, rounds)
    return {name: 1e6 * _common.median(values) for name, values in times.items()}, difference


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    from sknoisy.losses._instance import _cpu_vector_bytes

    classes, rounds, calls = (CLASSES, args.rounds, 50) if not args.quick else ((5, 20), 1, 2)
    start = time.perf_counter()
    width = _cpu_vector_bytes() // 4
    rows, speedups = [], {}
    for n_classes in classes:
        us, difference = timings(n_classes, rounds, calls)
        written = 4 <= n_classes < width
        soft = us[SOFT_TORCH] / us[SOFT_OURS]
        loss = us[LOSS_TORCH] / us[LOSS_OURS]
        speedups[f"{n_classes} classes"] = loss
        rows.append([str(n_classes), "written out" if written else "torch's kernel",
                     f"{us[SOFT_TORCH]:.0f}", f"{us[SOFT_OURS]:.0f}", f"{soft:.2f}x", f"{us[LOSS_TORCH]:.0f}",
                     f"{us[LOSS_OURS]:.0f}", f"{loss:.2f}x", f"{difference:.1e}"])
        print(f"C = {n_classes}: softmax torch/written {soft:.2f}x, loss torch/library {loss:.2f}x", flush=True)
    total = (time.perf_counter() - start) / 60

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    facts = _common.machine_facts()
    command = _common.command_line(argv)
    md = [_common.header_markdown("The flip targets' softmax: torch's CPU kernel against the written-out form",
                                  facts, command)]
    md.append(f"- **CPU capability** (torch): {torch.backends.cpu.get_cpu_capability()}: the library writes the "
              f"softmax out from 4 to {width - 1} classes (below one vector of float32)\n")
    md.append(f"Protocol: see the docstring of `benchmarks/flip_softmax.py`. Batch {BATCH}, float32, one torch "
              f"thread, {rounds} interleaved round(s) of {calls} calls; microseconds per call (median). The loss "
              f"columns are `instance_forward_loss` forward and backward with the library's rule and with torch's "
              f"kernel at every number of classes; a ratio above 1 means the library's choice is the faster. "
              f"Total run time {total:.1f} min.\n")
    md.append(_common.markdown_table(
        ["classes", "library takes", "softmax: torch's kernel (us)", "softmax: written out (us)",
         "torch / written out", "loss with torch's kernel (us)", "loss, library's rule (us)",
         "torch's kernel / library", "max abs difference"], rows))
    (out / "flip_softmax.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(out / "flip_softmax.png", speedups,
                       "instance_forward_loss (forward + backward): torch's softmax kernel / library's rule",
                       "The flip targets' softmax, by number of classes", facts, command,
                       reference=("1 (the library's choice no faster)", 1.0))
    print(f"wrote {out / 'flip_softmax.md'}")


if __name__ == "__main__":
    main()
