"""Does MLC learn T at its defaults? MLC beside the same net with T frozen at its start (issue 21).

Command of the committed results (2 CPU cores)::

    python benchmarks/mlc_frozen.py --seeds 2

Quick check (seconds)::

    python benchmarks/mlc_frozen.py --quick --out /tmp/mlc_frozen

Protocol: ``mlc_protocol.py``'s data and network (the MNIST subset, 20
trusted rows per class; digits with ``--dataset digits``), uniform,
flip-random and flip-to-one noise at 40%. Per setting and seed:
``MetaLossCorrectionClassifier`` with every default of the time it was run
(a meta step on every batch, unbounded: ``_common.MLC_EVERY_BATCH``; the
defaults since are a meta step on every 4th batch, ``mlc_step_every.py``), and the same with
``meta_lr=1e-12`` (the meta steps run, T does not move: the frozen
reference, same seed, same batches). Reported: the mean row L1 distance
between MLC's T after the fit and its start
(``initial_transition_matrix_``), the share of test rows on which the two
nets predict the same class, and both test accuracies.

Written: ``mlc_frozen.md`` and ``mlc_frozen.png``.
"""

import time
import warnings

import numpy as np

import _common
import mlc_protocol

SETTINGS = (("uniform", 0.4), ("symmetric", 0.4), ("flip_to_one", 0.4))


def run(args, seed, kind, rate):
    import torch

    from sknoisy import MetaLossCorrectionClassifier, corrupt_labels, make_transition_matrix
    from sknoisy.modules import MLP

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    X_train, X_test, y_train, y_test = mlc_protocol.load_split(args, seed)
    rng = np.random.RandomState(seed)
    T = make_transition_matrix(kind, 10, rate, random_state=seed)
    trusted = mlc_protocol.trusted_mask(y_train, args.trusted_per_class, rng)
    y = np.where(trusted, y_train, corrupt_labels(y_train, T, classes=np.arange(10), random_state=rng))
    params = {**mlc_protocol.net_params(args), **_common.MLC_EVERY_BATCH, "random_state": seed}
    mlc = MetaLossCorrectionClassifier(MLP, **params).fit(X_train, y, trusted=trusted)
    frozen = MetaLossCorrectionClassifier(MLP, meta_lr=1e-12, **params).fit(X_train, y, trusted=trusted)
    moved = float(np.abs(mlc.transition_matrix_ - mlc.initial_transition_matrix_).sum(axis=1).mean())
    pred, pred_frozen = mlc.predict(X_test), frozen.predict(X_test)
    return {"kind": kind, "rate": rate, "seed": seed, "moved": moved,
            "agree": float(np.mean(pred == pred_frozen)), "mlc": float(np.mean(pred == y_test)),
            "frozen": float(np.mean(pred_frozen == y_test))}


def main(argv=None):
    args = mlc_protocol.parse_args(argv)
    start = time.perf_counter()
    settings = SETTINGS[:1] if args.quick else SETTINGS
    rows = [run(args, seed, kind, rate) for kind, rate in settings for seed in range(args.seeds)]
    facts = _common.machine_facts()
    command = _common.command_line(argv)
    body = [[f"{r['kind']} {r['rate']:.0%}", r["seed"], f"{r['moved']:.4f}", f"{100 * r['agree']:.1f}",
             f"{100 * r['mlc']:.1f}", f"{100 * r['frozen']:.1f}"] for r in rows]
    md = [_common.header_markdown("MLC at its defaults beside MLC with T frozen at its start", facts, command),
          "Protocol: see the docstring of `benchmarks/mlc_frozen.py`.\n",
          _common.markdown_table(["noise", "seed", "T moved (mean row L1)", "same prediction (%)", "MLC (%)",
                                  "T frozen (%)"], body), "",
          f"Mean over every run: T moved {np.mean([r['moved'] for r in rows]):.4f} (largest "
          f"{max(r['moved'] for r in rows):.4f}); the two nets predicted the same class on "
          f"{100 * np.mean([r['agree'] for r in rows]):.1f}% of test rows (fewest "
          f"{100 * min(r['agree'] for r in rows):.1f}%). Run time {(time.perf_counter() - start) / 60:.1f} min.", ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mlc_frozen.md").write_text("\n".join(md), encoding="utf-8")
    _common.bar_figure(
        args.out / "mlc_frozen.png", {f"{r['kind']} seed {r['seed']}": 100 * r["agree"] for r in rows},
        "test rows with the same prediction as T frozen (%)", "MLC vs T frozen", facts, command,
    )
    print("\n".join(md))


if __name__ == "__main__":
    main()
