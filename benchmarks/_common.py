"""Helpers shared by the benchmark scripts: machine facts, markdown tables, timing.

Kept small and generic on purpose; each script owns its protocol.
"""

import datetime
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

#: Where every script writes its ``.md`` and ``.png``.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: MLC as the studies of issue 11 and patrini.py ran it: a meta step on every training batch, unbounded
#: (the paper's algorithm), so that their committed results reproduce since ``meta_step_every=4`` and
#: ``meta_max_step=0.05`` became the defaults (issue 22, ``mlc_step_every.py``).
MLC_EVERY_BATCH = {"meta_step_every": 1, "meta_max_step": None}


def cpu_model():
    """The CPU model name from /proc/cpuinfo (falls back to ``platform``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def n_cpus():
    """CPU cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def device_name(device="cpu"):
    """A readable name of a torch device ('cpu' or the CUDA card's name)."""
    import torch

    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return str(device)


def machine_facts(device="cpu"):
    """Date, hardware and library versions, as an ordered dict of strings."""
    import numpy
    import sklearn
    import skorch
    import torch

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({n_cpus()} cores available, torch threads {torch.get_num_threads()})",
        "device": device_name(device),
        "python": platform.python_version(),
        "versions": (
            f"torch {torch.__version__}, skorch {skorch.__version__}, "
            f"scikit-learn {sklearn.__version__}, numpy {numpy.__version__}"
        ),
    }


def command_line(argv=None):
    """The exact command that ran this script, relative to the repository root."""
    argv = sys.argv if argv is None else argv
    script = Path(argv[0])
    try:
        script = script.resolve().relative_to(Path(__file__).resolve().parent.parent)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *argv[1:]])


def auto_methods(with_trusted):
    """The methods AutoNoisyClassifier tries, read from the registry as it reads them."""
    from sknoisy._classifier_registry import auto_method_names

    return tuple(auto_method_names(with_trusted))


def markdown_table(headers, rows):
    """A GitHub markdown table; numbers are right-aligned, text left-aligned."""
    headers = [str(h) for h in headers]
    rows = [[str(cell) for cell in row] for row in rows]

    def numeric(column):
        cells = [row[column] for row in rows if row[column] not in ("", "-")]
        return bool(cells) and all(_looks_numeric(c) for c in cells)

    aligns = ["---:" if numeric(j) else ":---" for j in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _looks_numeric(text):
    head = text.strip("*").split(" ")[0].rstrip("x%")
    try:
        float(head)
    except ValueError:
        return False
    return True


def header_markdown(title, facts, command):
    """The title, the machine facts and the exact command, as markdown."""
    lines = [f"# {title}", ""]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += [f"- **command**: `{command}`", ""]
    return "\n".join(lines)


def mean_std(values, scale=1.0, digits=1):
    """``'mean ± std'`` of ``values`` (sample std; 0 for a single value)."""
    values = [scale * v for v in values]
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def interleaved_timings(runs, repeats, warmup=1):
    """Time several callables round-robin, so that drift hits them all alike.

    Parameters
    ----------
    runs : dict of str to callable
        Each callable does the work to time and may return a number of units
        (e.g. epochs) to divide its time by; None counts as 1.
    repeats : int
        Timed rounds; every callable runs once per round, in turn.
    warmup : int, default=1
        Untimed rounds first (imports, allocator and thread-pool warm-up).

    Returns
    -------
    times : dict of str to list of float
        Seconds per unit, one value per round.
    """
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            units = fn()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed / (units or 1))
    return times


def median(values):
    """The median of a sequence of numbers."""
    return statistics.median(values)


def bar_figure(path, values, xlabel, title, facts, command, reference=None):
    """Save ``values`` (label -> number) as a horizontal bar chart: the figure of a script whose result is one ranking.

    ``reference`` (label, value) draws a dashed line (e.g. GLC's accuracy, the identity's T error).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(values)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(labels) + 1.6), layout="constrained")
    ax.barh(range(len(labels)), [values[k] for k in labels], color="C0")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    if reference is not None:
        ax.axvline(reference[1], color="k", ls="--", lw=1, label=reference[0])
        ax.legend(fontsize=7)
    ax.set_xlabel(xlabel)
    fig.suptitle(f"{title} — {facts['date']} — {facts['cpu']} — {facts['versions'].split(',')[0]}\n{command}", fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)
