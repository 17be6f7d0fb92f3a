"""``sknoisy predict`` on a CSV of a million rows: the streamed reader against the full one (issue 22).

``sknoisy fit`` reads a well-formed numeric CSV by a streaming reader (blocks of rows into one float32
array); ``sknoisy predict`` read every file with the full reader (every cell a Python string first)
until 2026-12-06. This measures both on the same file and model, in new processes, and checks that
they write the same predictions.

Command of the committed results (2 CPU cores), after ``benchmarks/million_rows.py`` made the files
and the model in the same ``--data`` folder::

    python benchmarks/predict_large.py --data /tmp/mr_data

Quick check (seconds; what the test suite runs)::

    python benchmarks/predict_large.py --quick --out /tmp/predict_large

Protocol: million_rows.py's training file (1,000,000 rows: an ``id``, 50 features, the ``label``,
which ``predict`` ignores as the model's target) and the model ``sknoisy fit`` saved from it
(``model_1000000``); ``sknoisy predict MODEL train.csv --id-column id -o predictions.csv`` run as a
user runs it, once with the streamed reader and once with it switched off (the full reader alone,
as before), each in a new process; wall time, CPU time and peak memory of each process (the
kernel's ``VmHWM``, ``benchmarks/_peak_rss.py``); the two prediction files compared byte for byte.
``--quick`` makes 3,000-row files and a 2-epoch model first.
"""

import argparse
import filecmp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import million_rows  # noqa: E402

#: ``sknoisy predict`` with the streamed reader switched off: the full reader alone, as before 2026-12-06.
FULL_READER = (
    "import sys; import sknoisy.cli._inputs as i; i.read_numeric_csv = lambda *a, **k: None; "
    "from sknoisy.cli import main; sys.exit(main(sys.argv[1:]))"
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (seconds) to check the script works")
    parser.add_argument("--data", default=None, help="million_rows.py's --data folder (default: --out/data)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    args.million = million_rows.parse_args(["--quick"] if args.quick else [])
    return args


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data) if args.data else out / "data"
    facts = _common.machine_facts()
    facts["load average"] = "{:.2f}, {:.2f}, {:.2f} (1, 5, 15 min) at the start".format(*os.getloadavg())
    command = _common.command_line(argv)
    train, _, _ = million_rows.make_files(data, args.million, print)
    model = data / f"model_{args.million.rows}"
    if not model.exists():
        fit = ["-m", "sknoisy", "fit", train, "--target", "label", "--id-column", "id", "-o", model,
               *args.million.cli_options]
        million_rows.run(fit, data, "fit")
    runs = {}
    for name, entry in (("streamed reader", ["-m", "sknoisy"]), ("full reader (as before)", ["-c", FULL_READER])):
        predictions = data / f"predictions_{'streamed' if name.startswith('streamed') else 'full'}.csv"
        command_line = [*entry, "predict", model, train, "--id-column", "id", "-o", predictions, "--force"]
        _, _, wall, cpu, peak = million_rows.run(command_line, data, "predict_large")
        runs[name] = (wall, cpu, peak, predictions)
        print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak {peak / 1e9:.2f} GB", flush=True)
    same = filecmp.cmp(*(r[3] for r in runs.values()), shallow=False)
    md = [_common.header_markdown("sknoisy predict on a million rows: streamed against full reader (issue 22)",
                                  facts, command)]
    md.append(f"Protocol: see the docstring of `benchmarks/predict_large.py`. File `{train.name}` "
              f"({train.stat().st_size / 1e9:.2f} GB, {args.million.rows:,} rows), one run each.\n")
    md.append(_common.markdown_table(
        ["reader", "wall (s)", "CPU (s)", "peak memory (GB)"],
        [[name, f"{wall:.1f}", f"{cpu:.1f}", f"{peak / 1e9:.2f}"] for name, (wall, cpu, peak, _) in runs.items()]))
    (stream, full) = runs.values()
    md.append(f"\nThe two prediction files are {'identical, byte for byte' if same else 'DIFFERENT'}. Streamed "
              f"against full: {stream[0] / full[0]:.2f}x the wall time, {stream[2] / full[2]:.2f}x the peak memory.")
    (out / "predict_large.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    _common.bar_figure(out / "predict_large.png", {name: r[2] / 1e9 for name, r in runs.items()},
                       "peak memory of sknoisy predict (GB)", "sknoisy predict on a large CSV", facts, command)
    if not same:
        raise SystemExit("the streamed and the full reader wrote different predictions")


if __name__ == "__main__":
    main()
