"""Where a training batch's time goes: cProfile attribution of sknoisy / skorch against a raw loop.

Command of the committed results (about a minute on 2 CPU cores)::

    python benchmarks/speed_profile.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/speed_profile.py --quick --out /tmp/speed_profile

Setting (issue 22, scaled down to a shared 2-core machine): 20,000 x 50
float32 rows, 10 classes, ``MLP(128)``, Adam 1e-3, batch 128, one torch
thread, 3 epochs per fit. The raw loop indexes in-memory tensors
(``perm = torch.randperm(n, generator=g)``; ``X[perm[i:i + 128]]``); the
DataLoader loop iterates ``DataLoader(TensorDataset(X, y), shuffle=True)``.
Each fit runs once untimed, then once under cProfile; the cumulative time of
each component (a function and everything it calls) is divided by the
number of batches. CPU time per epoch (``time.process_time``, median of 3
fits run round-robin) is reported beside it.
"""

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

import _common
import numpy as np
import torch
import torch.nn.functional as F

N, D, C, BATCH, EPOCHS = 20000, 50, 10, 128, 3

#: component -> (file fragment, function name) whose cumulative time it is
COMPONENTS = {
    "batch assembly: Dataset.__getitem__ per row (DataLoader fetch)": ("utils/data/_utils/fetch.py", "fetch"),
    "batch assembly: collate": ("_data.py", "stack_collate"),
    "batch assembly: collate (torch default)": ("collate.py", "default_collate"),
    "batch assembly: sknoisy tensor batches (fast path)": ("_data.py", "__iter__"),
    "network forward (infer)": ("skorch/net.py", "infer"),
    "loss (get_loss)": ("skorch/net.py", "get_loss"),
    "loss (sknoisy get_loss)": ("sknoisy/base.py", "get_loss"),
    "backward": ("torch/_tensor.py", "backward"),
    "optimizer step (own work; skorch's closure subtracted)": ("torch/optim/optimizer.py", "wrapper"),
    "zero_grad": ("torch/optim/optimizer.py", "zero_grad"),
    "callbacks (notify on_batch_*)": ("skorch/net.py", "notify"),
    "history.record_batch": ("skorch/history.py", "record_batch"),
    "loss.item() (host sync)": ("~", "<method 'item' of 'torch._C.TensorBase' objects>"),
}


def make_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(np.float32)
    y = rng.integers(0, C, N)
    return X, y


def raw_loop(X, y, epochs=EPOCHS):
    from sknoisy.modules import MLP

    gen = torch.Generator().manual_seed(0)
    module = MLP(n_features=D, n_classes=C, hidden_units=(128,))
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    times = []
    for _ in range(epochs):
        start = time.process_time()
        perm = torch.randperm(len(Xt), generator=gen)
        for i in range(0, len(Xt), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = F.cross_entropy(module(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append(time.process_time() - start)
    return times


def dataloader_loop(X, y, epochs=EPOCHS):
    from torch.utils.data import DataLoader, TensorDataset

    from sknoisy.modules import MLP

    gen = torch.Generator().manual_seed(0)
    module = MLP(n_features=D, n_classes=C, hidden_units=(128,))
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=BATCH, shuffle=True,
                        generator=gen)
    times = []
    for _ in range(epochs):
        start = time.process_time()
        for Xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(module(Xb), yb)
            loss.backward()
            opt.step()
        times.append(time.process_time() - start)
    return times


def net_fit(make, X, y, epochs=EPOCHS):
    from skorch.callbacks import Callback

    class Timer(Callback):
        def on_epoch_begin(self, net, **kwargs):
            self.start_ = time.process_time()

        def on_epoch_end(self, net, **kwargs):
            net.history.record("cpu_dur", time.process_time() - self.start_)

    net = make(epochs, [("cpu_timer", Timer())])
    net.fit(X, y)
    return list(net.history[:, "cpu_dur"])


def runners():
    from skorch import NeuralNetClassifier

    from sknoisy import CrossEntropyClassifier
    from sknoisy.modules import MLP

    common = dict(module__hidden_units=(128,), optimizer=torch.optim.Adam, lr=1e-3, batch_size=BATCH,
                  train_split=None, verbose=0)

    def plain(epochs, callbacks):
        return NeuralNetClassifier(MLP, module__n_features=D, module__n_classes=C, max_epochs=epochs,
                                   callbacks=callbacks, **common)

    def ce(epochs, callbacks, **extra):
        return CrossEntropyClassifier(MLP, random_state=0, max_epochs=epochs, callbacks=callbacks,
                                      **common, **extra)

    return {
        "raw loop (randperm + tensor indexing)": raw_loop,
        "DataLoader loop (TensorDataset, shuffle)": dataloader_loop,
        "plain skorch NeuralNetClassifier": lambda X, y: net_fit(plain, X, y),
        "CrossEntropyClassifier through the DataLoader (before the fast path)": lambda X, y: net_fit(
            lambda e, c: ce(e, c, iterator_train__num_workers=0), X, y),
        "CrossEntropyClassifier": lambda X, y: net_fit(ce, X, y),
        "CrossEntropyClassifier (iterator_train__shuffle=True)": lambda X, y: net_fit(
            lambda e, c: ce(e, c, iterator_train__shuffle=True), X, y),
    }


def attribute(fn, X, y):
    profile = cProfile.Profile()
    profile.enable()
    fn(X, y)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())  # tottime summed: the profiled total
    n_batches = EPOCHS * -(-N // BATCH)
    parts = {}
    for label, (fragment, name) in COMPONENTS.items():
        cum = sum(v[3] for (file, _, func), v in stats.items() if fragment in file and func == name)
        if label.startswith("optimizer step"):
            # skorch runs forward, loss and backward inside the optimizer's closure
            cum -= sum(v[3] for (file, _, func), v in stats.items() if "skorch/net.py" in file and func == "step_fn")
        if cum:
            parts[label] = cum / n_batches * 1e6
    return total / n_batches * 1e6, parts


def plot(parts_by_run, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(parts_by_run)
    labels = sorted({label for parts in parts_by_run.values() for label in parts})
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(names) + 2.5))
    left = np.zeros(len(names))
    for label in labels:
        values = np.array([parts_by_run[name].get(label, 0.0) for name in names])
        ax.barh(np.arange(len(names)), values, left=left, label=label)
        left += values
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("us per batch under cProfile (cumulative time of each component)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Where a training batch's time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    global N, EPOCHS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check that the script works")
    parser.add_argument("--out", type=Path, default=None, help="folder for speed_profile.md and .png")
    args = parser.parse_args()
    rounds = 3
    if args.quick:
        N, EPOCHS, rounds = 1000, 2, 1
    torch.set_num_threads(1)
    X, y = make_data()
    runs = runners()
    epoch_cpu = {name: [] for name in runs}
    for name, fn in runs.items():
        fn(X, y)  # warm-up
    for round_ in range(rounds):
        for name, fn in runs.items():
            epoch_cpu[name].extend(fn(X, y)[1:])
    raw = statistics.median(epoch_cpu[next(iter(runs))])
    lines = [
        _common.header_markdown("Per-batch cost attribution (cProfile) against a raw loop",
                                _common.machine_facts(), _common.command_line()),
        f"Setting: {N} x {D} float32, {C} classes, MLP(128), Adam, batch {BATCH}, torch 1 thread, "
        f"{EPOCHS} epochs per fit ({EPOCHS * -(-N // BATCH)} batches). Epoch CPU: median over {rounds} fits x "
        f"{EPOCHS - 1} epochs (first epoch of each fit dropped). Components: cProfile cumulative time per batch "
        "(under the profiler, whose own overhead inflates Python-heavy parts; compare rows, not absolute sums).",
        "",
        "| run | epoch CPU (ms) | x raw loop | profiled us/batch | components (us/batch) |",
        "|:---|---:|---:|---:|:---|",
    ]
    parts_by_run = {}
    for name, fn in runs.items():
        med = statistics.median(epoch_cpu[name])
        total, parts = attribute(fn, X, y)
        parts_by_run[name] = parts
        comp = "; ".join(f"{k}: {v:.0f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
        lines.append(f"| {name} | {med * 1e3:.1f} | {med / raw:.2f}x | {total:.0f} | {comp} |")
        print(lines[-1], flush=True)
    out = args.out or _common.RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    plot(parts_by_run, out / "speed_profile.png")
    lines += ["", "![components per batch](speed_profile.png)", ""]
    (out / "speed_profile.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
