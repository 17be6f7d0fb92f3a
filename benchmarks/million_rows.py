"""``sknoisy fit --method auto`` on a CSV of a million rows: end-to-end time and peak memory (issue 22).

Command of the committed results (2 CPU cores)::

    python benchmarks/million_rows.py

Quick check (seconds; what the test suite runs)::

    python benchmarks/million_rows.py --quick --out /tmp/million_rows

Question: a user with a CSV of 1,000,000 noisily labelled rows and 50
features runs ``sknoisy fit`` with every default. Does it finish on this
machine (2 cores), how long does it take, how much memory does it need, and
is the model it saves any good?

Protocol:

* data: ``sknoisy.make_noisy_classification`` with 1,050,000 rows, 50
  features (20 informative), 10 classes of one Gaussian cluster each, seed
  0; the first 1,000,000 rows are the training file, whose labels are
  corrupted by flip-to-one noise at 30% (each class sends 30% of its rows to
  one other class); the last 50,000 are the test file, labels clean.
* files: ``train.csv`` (an ``id`` column, the 50 features with 6
  significant digits, ``label``; 0.5 GB) and ``test.csv`` (``id`` and the
  features).
* commands, run as a user runs them (a new process each, every default:
  MLP with 64 hidden units, 20 epochs, Adam lr 1e-3, batch 128, one torch
  thread, seed 0; with a million rows ``--selection auto`` compares the
  methods on one held-out split)::

      sknoisy fit train.csv --target label --id-column id -o model
      sknoisy predict model test.csv --id-column id -o predictions.csv

  and, to attribute the time, reading the file alone in a new process (the
  function ``fit`` reads it with). Timed: wall clock and CPU time of each
  process; peak memory: the largest resident set size of each process
  (the kernel's ``VmHWM`` of the process, read at its exit by
  ``benchmarks/_peak_rss.py``; ``getrusage`` would count this script's own
  memory at the fork), reading, imports and training included.
* reported: the times, the peak memories, the method chosen, the accuracy of
  the predictions on the clean test labels, and the output of ``fit``.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEAK_RSS = Path(__file__).resolve().parent / "_peak_rss.py"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows; default 1,000,000")
    parser.add_argument("--data", default=None, help="folder for the CSV files (default: --out/data)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = 3_000
        args.cli_options = ["--epochs", "2", "--selection", "holdout"]
    else:
        args.cli_options = []
    args.n_test = max(args.rows // 20, 500)
    return args


def write_csv(path, X, y=None, first_id=0, block=50_000):
    """Features with 6 significant digits (and the label), written a block of rows at a time."""
    n, d = X.shape
    header = ["id", *(f"x{j}" for j in range(d)), *(["label"] if y is not None else [])]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        for start in range(0, n, block):
            stop = min(start + block, n)
            cells = [np.char.mod("s%d", np.arange(first_id + start, first_id + stop)), *np.char.mod("%.6g", X[start:stop]).T]
            if y is not None:
                cells.append(y[start:stop].astype(str))
            fh.write("\n".join(",".join(row) for row in zip(*cells)) + "\n")


def make_files(folder, args, log):
    from sknoisy import make_noisy_classification

    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / f"train_{args.rows}.csv", folder / f"test_{args.rows}.csv"
    labels = folder / f"test_{args.rows}_labels.npy"
    if train.exists() and test.exists() and labels.exists():
        log(f"reusing {train} and {test}")
        return train, test, np.load(labels)
    start = time.perf_counter()
    X, y_noisy, y_clean, _ = make_noisy_classification(
        args.rows + args.n_test, 50, 10, noise="flip_to_one", rate=0.3, random_state=0,
        n_informative=20, n_clusters_per_class=1,
    )
    X = X.astype(np.float32)
    write_csv(train, X[: args.rows], y_noisy[: args.rows])
    write_csv(test, X[args.rows:], first_id=args.rows)
    np.save(labels, y_clean[args.rows:])
    log(f"wrote {train} ({train.stat().st_size / 1e9:.2f} GB) and {test} in {time.perf_counter() - start:.0f} s")
    return train, test, y_clean[args.rows:]


def run(command, folder, name):
    """Run ``python *command`` in a new process. Returns (stdout, stderr, wall s, CPU s, peak RSS in bytes)."""
    out_path, err_path, peak_path = (folder / f"{name}.{ext}" for ext in ("out", "err", "peak"))
    peak_path.unlink(missing_ok=True)
    start = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, PEAK_RSS, peak_path, *(str(c) for c in command)], stdout=out,
                                stderr=err, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        # wait4 reaps this child alone and gives its own CPU time
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited with {proc.returncode}:\n{stderr[-3000:]}")
    # ru_maxrss would include this process's memory at the fork (see _peak_rss.py); use it only without /proc
    peak = int(peak_path.read_text()) if peak_path.exists() else usage.ru_maxrss * 1024
    return stdout, stderr, wall, usage.ru_utime + usage.ru_stime, peak


READ_ALONE = (
    "import sys, time; t = time.perf_counter(); import sknoisy.cli._inputs as i; "
    "d = i.read_training(sys.argv[1], target='label', id_column='id'); "
    "print(d.X.shape, d.X.dtype, time.perf_counter() - t)"
)
IMPORT_ALONE = "import sknoisy.cli._inputs, sknoisy.cli.fit, sknoisy._auto"


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else out / "data"
    log_lines = []

    def log(line):
        print(line, flush=True)
        log_lines.append(line)

    facts = _common.machine_facts()
    facts["load average"] = "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min) at the start".format(*os.getloadavg())
    command = _common.command_line(argv)
    start = time.perf_counter()
    train, test, y_test = make_files(data, args, log)
    runs = {}
    runs["import"] = run(["-c", IMPORT_ALONE], data, "import")
    runs["read"] = run(["-c", READ_ALONE, train], data, "read")
    log(f"read alone: {runs['read'][2]:.1f} s, peak {runs['read'][4] / 1e9:.2f} GB")
    model = data / f"model_{args.rows}"
    fit = ["-m", "sknoisy", "fit", train, "--target", "label", "--id-column", "id", "-o", model, "--force",
           *args.cli_options]
    runs["fit"] = run(fit, data, "fit")
    log(f"fit: {runs['fit'][2]:.1f} s, peak {runs['fit'][4] / 1e9:.2f} GB")
    predictions = data / f"predictions_{args.rows}.csv"
    predict = ["-m", "sknoisy", "predict", model, test, "--id-column", "id", "-o", predictions, "--force"]
    runs["predict"] = run(predict, data, "predict")
    predicted = np.loadtxt(predictions, delimiter=",", skiprows=1, usecols=1, dtype=np.int64)
    accuracy = float(np.mean(predicted == y_test))
    fit_out = runs["fit"][0]
    chosen = next(line.split(": ", 1)[1] for line in fit_out.splitlines() if line.startswith(("chose: ", "method: ")))
    log(f"chose {chosen}; test accuracy {100 * accuracy:.1f}%")
    facts["load average"] += "; {:.2f}, {:.2f}, {:.2f} at the end".format(*os.getloadavg())
    write_results(out, args, facts, command, runs, chosen, accuracy, time.perf_counter() - start, train)
    return 0


def write_results(out, args, facts, command, runs, chosen, accuracy, elapsed, train):
    what = {
        "import": "imports alone (python -c 'import sknoisy.cli...')",
        "read": "reading the CSV alone (read_training, the function fit uses)",
        "fit": "`sknoisy fit` (read, standardise, choose, refit, save)",
        "predict": f"`sknoisy predict` ({args.n_test:,} rows)",
    }
    rows = [[what[key], f"{wall:.1f}", f"{cpu:.1f}", f"{peak / 1e9:.2f}"]
            for key, (_, _, wall, cpu, peak) in runs.items()]
    lines = [_common.header_markdown(f"sknoisy fit on {args.rows:,} rows", facts, command)]
    lines.append(
        f"Protocol: see the docstring of `benchmarks/million_rows.py`. {args.rows:,} training rows x 50 features, 10 "
        f"classes, flip-to-one noise 30%; train.csv is {train.stat().st_size / 1e9:.2f} GB. Each command is a new "
        f"process; peak = its largest resident set size. Total run time {elapsed / 60:.1f} min (file writing "
        "included).\n"
    )
    lines.append(_common.markdown_table(["process", "wall (s)", "CPU (s)", "peak memory (GB)"], rows))
    lines.append("")
    lines.append(f"Chosen method: **{chosen}**; accuracy of its predictions on the {args.n_test:,} clean test rows: "
                 f"**{100 * accuracy:.1f}%**.\n")
    lines.append("Output of `sknoisy fit` (stdout, then the progress lines on stderr):\n")
    lines.append("```\n" + runs["fit"][0].rstrip() + "\n```\n")
    lines.append("```\n" + runs["fit"][1].rstrip() + "\n```\n")
    name = "million_rows"
    (out / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    values = {key: wall for key, (_, _, wall, _, _) in runs.items()}
    _common.bar_figure(out / f"{name}.png", values, "wall time (s)", f"sknoisy fit on {args.rows:,} rows", facts,
                       command)
    print(f"wrote {out / name}.md and .png")


if __name__ == "__main__":
    sys.exit(main())
