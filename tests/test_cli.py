"""Tests for the ``sknoisy`` command (sknoisy.cli), run in-process through main(argv)."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sknoisy.cli import build_parser, main

# Tiny settings: two epochs, small hidden layer, quiet.
TINY = ["--epochs", "2", "--hidden", "16", "--quiet"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.fixture
def data_csv(tmp_path):
    """Three well separated classes with string labels, 4 numeric features."""
    rng = np.random.RandomState(0)
    labels = np.array(["cat", "dog", "bird"])[np.arange(150) % 3]
    centers = {"cat": 0.0, "dog": 3.0, "bird": 6.0}
    X = rng.randn(150, 4) + np.array([centers[label] for label in labels])[:, None]
    rows = [[f"{v:.4f}" for v in x] + [label] for x, label in zip(X, labels)]
    return write_csv(tmp_path / "data.csv", ["a", "b", "c", "d", "animal"], rows)


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(status, err, match):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sknoisy: error: ")
    assert match in lines[0], lines[0]


def table_rows(out):
    lines = [line for line in out.splitlines() if line.strip()]
    header = lines[0]
    return header, [line.split()[0] for line in lines[1:]]


# ----------------------------------------------------------------------- compare
def test_compare_prints_the_table(capsys):
    status, out, err = run(["compare", "--methods", "ce,forward,glc", *TINY], capsys)
    assert status == 0, err
    header, methods = table_rows(out)
    for column in ("method", "test accuracy", "T error", "fit time (s)"):
        assert column in header
    assert methods == ["ce", "forward", "glc"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert rows["ce"][2] == "-"  # plain CE has no T
    for name in ("forward", "glc"):
        accuracy, error, seconds = map(float, rows[name][1:4])
        assert 0.0 <= accuracy <= 1.0 and 0.0 <= error <= 2.0 and seconds >= 0.0


def test_compare_leaves_torch_threads_alone(capsys):
    before = torch.get_num_threads()
    status, _, _ = run(["compare", "--methods", "ce", "--threads", "1", *TINY], capsys)
    assert status == 0
    assert torch.get_num_threads() == before


def test_compare_header_and_notes(capsys):
    status, out, err = run(["compare", "--methods", "ce", "--epochs", "1", "--hidden", "8"], capsys)
    assert status == 0, err
    assert "data:    digits, 1797 rows, 64 features, 10 classes" in out
    assert "100 trusted" in out and "flip_to_one, rate 0.4" in out
    assert "T error: mean over the clean classes of the L1" in out


def test_compare_without_trusted_rows_leaves_out_glc_and_mlc(capsys):
    status, out, err = run(["compare", "--trusted-per-class", "0", "--epochs", "1", "--hidden", "8"], capsys)
    assert status == 0, err
    _, methods = table_rows(out.split("\n\n")[1])
    assert "glc" not in methods and "mlc" not in methods and "ce" in methods
    assert "note: glc left out: it needs trusted rows" in out


def test_compare_on_a_csv_with_a_plot(data_csv, tmp_path, capsys):
    png = tmp_path / "compare.png"
    argv = ["compare", "--dataset", data_csv, "--target", "animal", "--trusted-per-class", "5"]
    status, out, err = run(argv + ["--methods", "ce,mlc,nce+rce", "--plot", str(png), *TINY], capsys)
    assert status == 0, err
    assert table_rows(out)[1] == ["ce", "mlc", "nce+rce"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_is_reproducible(capsys):
    argv = ["compare", "--methods", "ce", "--seed", "3", *TINY]
    first = run(argv, capsys)[1]
    second = run(argv, capsys)[1]
    strip_time = lambda out: [line.split()[:3] for line in out.splitlines()]  # noqa: E731
    assert strip_time(first) == strip_time(second)


def test_a_failing_method_is_reported_and_the_others_kept(monkeypatch, capsys):
    import sknoisy

    class Diverging(sknoisy.RobustLossClassifier):
        def fit(self, X, y, trusted=None):
            raise FloatingPointError("the training loss became nan in epoch 1")

    from sknoisy._classifier_registry import _ENTRIES

    monkeypatch.setitem(_ENTRIES, "nce+rce", _ENTRIES["nce+rce"]._replace(estimator=Diverging))
    status, out, _ = run(["compare", "--methods", "ce,nce+rce", "--epochs", "1", "--hidden", "8"], capsys)
    assert status == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("ce ", "nce+rce "))}
    assert rows["nce+rce"][1] == "failed" and rows["ce"][1] != "failed"
    assert "note: nce+rce failed: the training loss became nan in epoch 1" in out
    status, _, err = run(["compare", "--methods", "nce+rce", *TINY], capsys)
    assert status == 1 and "every method failed" in err


# ---------------------------------------------------------------------- estimate
def test_estimate_prints_T_with_class_labels(data_csv, tmp_path, capsys):
    png = tmp_path / "T.png"
    status, out, err = run(["estimate", data_csv, "--target", "animal", "--cv", "2", "--plot", str(png)], capsys)
    assert status == 0, err
    assert "clean \\ noisy   bird    cat    dog" in out
    matrix = [line.split() for line in out.splitlines() if line.split()[:1] in (["bird"], ["cat"], ["dog"])][:3]
    T = np.array([[float(v) for v in row[1:]] for row in matrix])
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=2e-3)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_estimate_gold_with_a_trusted_column(tmp_path, capsys):
    rng = np.random.RandomState(0)
    y = np.arange(120) % 2
    X = rng.randn(120, 3) + 3 * y[:, None]
    trusted = (np.arange(120) % 4 == 0).astype(int)
    rows = [[f"{v:.3f}" for v in x] + [label, flag] for x, label, flag in zip(X, y, trusted)]
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c", "label", "checked"], rows)
    status, out, err = run(["estimate", path, "--target", "label", "--trusted-column", "checked", "--cv", "2"], capsys)
    assert status == 0, err
    assert "method 'gold'" in out


def test_estimate_offers_every_registered_method(data_csv, capsys):
    from sknoisy.transition import TRANSITION_METHODS

    assert "confident_joint" in TRANSITION_METHODS  # missing from the CLI's hand-written list of the first release
    for name in TRANSITION_METHODS:
        assert build_parser().parse_args(["estimate", "d.csv", "--target", "y", "--method", name]).method == name
    with pytest.raises(SystemExit):
        main(["estimate", "--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, at hyphens too
    for entry in TRANSITION_METHODS.values():
        assert "".join(entry.summary.split()) in help_text
    status, out, err = run(["estimate", data_csv, "--target", "animal", "--cv", "2", "--method", "confident_joint"],
                           capsys)
    assert status == 0, err
    assert "method 'confident_joint'" in out


# ----------------------------------------------------------------------- corrupt
def test_corrupt_writes_a_noisy_copy_and_estimate_scores_it(data_csv, tmp_path, capsys):
    out_csv = tmp_path / "noisy.csv"
    argv = ["corrupt", data_csv, "--target", "animal", "--noise", "pair", "--rate", "0.3", "-o", str(out_csv)]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert "'animal_clean' the clean ones" in out
    header, rows = read_csv(out_csv)
    assert header == ["a", "b", "c", "d", "animal", "animal_clean"]
    _, original = read_csv(data_csv)
    assert [row[:4] + row[5:] for row in rows] == original  # features and clean labels untouched
    noisy = np.array([row[4] for row in rows])
    clean = np.array([row[5] for row in rows])
    assert set(noisy) <= {"cat", "dog", "bird"}
    assert 0.15 < np.mean(noisy != clean) < 0.45

    # A second run refuses to overwrite, --force allows it.
    status, _, err = run(argv, capsys)
    assert_one_error_line(status, err, "already exists; pass --force")
    assert run(argv + ["--force", "--quiet"], capsys)[:2] == (0, "")

    # estimate finds the clean column by its name and scores the estimate with it.
    status, out, err = run(["estimate", str(out_csv), "--target", "animal", "--cv", "2"], capsys)
    assert status == 0, err
    assert "T error of the estimate" in out and "'animal_clean'" in out


def test_corrupt_keeps_the_spelling_of_numeric_labels(tmp_path, capsys):
    rows = [[i, f"{i % 3}.0"] for i in range(30)]
    path = write_csv(tmp_path / "n.csv", ["x", "y"], rows)
    out_csv = tmp_path / "o.csv"
    argv = ["corrupt", path, "--target", "y", "--noise", "symmetric", "--rate", "0.5", "--exact", "-o", str(out_csv)]
    assert main(argv) == 0
    header, rows = read_csv(out_csv)
    assert header == ["x", "y", "y_clean"]
    assert {row[1] for row in rows} == {"0.0", "1.0", "2.0"}
    assert sum(row[1] != row[2] for row in rows) == 15  # exact: round(0.5 * 10) per class


@pytest.mark.parametrize("kind", ["instance", "annotator"])
def test_corrupt_with_noise_that_depends_on_the_features(kind, data_csv, tmp_path, capsys):
    out_csv = tmp_path / "noisy.csv"
    argv = ["corrupt", data_csv, "--target", "animal", "--noise", kind, "--rate", "0.3", "-o", str(out_csv)]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert "each row has its own noise" in out and "mean over the rows of clean class i" in out
    header, rows = read_csv(out_csv)
    _, original = read_csv(data_csv)
    assert [row[:4] + row[5:] for row in rows] == original
    noisy, clean = np.array([row[4] for row in rows]), np.array([row[5] for row in rows])
    assert set(noisy) <= {"cat", "dog", "bird"}
    changed = int(np.sum(noisy != clean))
    if kind == "annotator":
        assert changed == 45  # exactly round(0.3 * 150) at the default --randomness 0
    else:
        assert abs(changed / 150 - 0.3) <= 4 * np.sqrt(0.3 * 0.7 / 150)
    # the same seed, the same file
    again = tmp_path / "again.csv"
    assert main(argv[:-1] + [str(again), "--quiet"]) == 0
    assert read_csv(again) == (header, rows)


@pytest.mark.parametrize("kind, extra", [("instance", []), ("annotator", ["--randomness", "0.5"])])
def test_compare_with_noise_that_depends_on_the_features(kind, extra, capsys):
    argv = ["compare", "--noise", kind, "--rate", "0.3", *extra, "--methods", "ce,forward", "--epochs", "1",
            "--hidden", "8"]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert f"noise:   {kind}, rate 0.3" in out
    assert f"With --noise {kind} each row has its own noise" in out
    _, names = table_rows(out[out.index("method"):])
    assert names[:2] == ["ce", "forward"]


# -------------------------------------------------------------------- bad input
@pytest.fixture
def bad_files(tmp_path):
    return {
        "text": write_csv(tmp_path / "text.csv", ["x", "color", "y"], [[i, "red", i % 2] for i in range(10)]),
        "one": write_csv(tmp_path / "one.csv", ["x", "y"], [[i, "a"] for i in range(10)]),
        "gap": write_csv(tmp_path / "gap.csv", ["x", "y"], [[i if i != 4 else "", i % 2] for i in range(10)]),
        "ragged": write_csv(tmp_path / "ragged.csv", ["x", "y"], [[1, 0], [2, 1, 5]]),
        "empty": write_csv(tmp_path / "empty.csv", [], []),
        "flag": write_csv(tmp_path / "flag.csv", ["x", "y", "t"], [[i, i % 2, "maybe"] for i in range(10)]),
        "nolabel": write_csv(tmp_path / "nolabel.csv", ["x", "y"], [[1, 0], [2, ""], [3, 1]]),
    }


BAD = [
    (["estimate", "missing.csv", "--target", "y"], "no such file: 'missing.csv'"),
    (["estimate", "{dir}", "--target", "y"], "is a directory"),
    (["estimate", "{data}", "--target", "nope"], "has no column 'nope'; its columns are 'a', 'b'"),
    (["estimate", "{one}", "--target", "y"], "holds a single class ('a')"),
    (["estimate", "{text}", "--target", "y"], "feature column(s) 'color' in"),
    (["estimate", "{gap}", "--target", "y"], "missing or non-finite values (first on line 6)"),
    (["estimate", "{ragged}", "--target", "y"], "line 3 has 3 fields but the header has 2"),
    (["estimate", "{empty}", "--target", "y"], "is empty"),
    (["estimate", "{nolabel}", "--target", "y"], "empty label on line 3"),
    (["estimate", "{flag}", "--target", "y", "--trusted-column", "t"], "must hold 1/0"),
    (["estimate", "{data}", "--target", "animal", "--method", "gold"], "needs trusted rows"),
    (["estimate", "{data}", "--target", "animal", "--method", "magic"], "argument --method: invalid choice"),
    (["estimate", "{data}", "--target", "animal", "--drop", "animal"], "must all be different columns"),
    (["estimate", "{data}", "--target", "animal", "--trusted-column", "animal"], "must all be different columns"),
    (["estimate", "{data}", "--target", "animal", "--plot", "T.nope"], "cannot tell the image format"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "1.5", "-o", "x.csv"],
     "argument --rate: must be a number in [0, 1], got '1.5'"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "-0.1", "-o", "x.csv"],
     "must be a number in [0, 1]"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "bogus", "--rate", "0.2", "-o", "x.csv"],
     "unknown noise kind 'bogus'; choose from uniform"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "0.2", "-o", "{data}"],
     "refusing to overwrite the input file"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "asymmetric", "--rate", "0.2", "-o", "x.csv"],
     "--noise asymmetric needs --preset"),
    (["corrupt", "{one}", "--target", "y", "--noise", "pair", "--rate", "0.2", "-o", "x.csv"], "single class"),
    (["corrupt", "{data}", "--target", "nope", "--noise", "pair", "--rate", "0.2", "-o", "x.csv"], "no column 'nope'"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "0.2", "-o", "/no/such/dir/x.csv"],
     "does not exist"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "0.2"], "required: -o/--output"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "asymmetric", "--preset", "mnist", "--rate", "0.2",
      "-o", "x.csv"], "--preset mnist: preset 'mnist' is defined for n_classes=10, got n_classes=3"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--preset", "mnist", "--rate", "0.2",
      "-o", "x.csv"],
     "only used with kind='asymmetric'"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "instance", "--rate", "1", "-o", "x.csv"],
     "--noise instance --rate 1: rate must be in [0, 1), got 1.0"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "annotator", "--rate", "0.2", "--exact", "-o", "x.csv"],
     "--exact is only used with the class-conditional kinds, not --noise annotator"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "pair", "--rate", "0.2", "--randomness", "0.5",
      "-o", "x.csv"], "--randomness is only used with --noise annotator, not --noise pair"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "instance", "--rate", "0.2", "--randomness", "0.5",
      "-o", "x.csv"], "--randomness is only used with --noise annotator, not --noise instance"),
    (["corrupt", "{data}", "--target", "animal", "--noise", "annotator", "--preset", "mnist", "--rate", "0.2",
      "-o", "x.csv"], "--preset is only used with --noise asymmetric, not --noise annotator"),
    (["corrupt", "{text}", "--target", "y", "--noise", "instance", "--rate", "0.2", "-o", "x.csv"],
     "feature column(s) 'color' in"),
    (["corrupt", "{gap}", "--target", "y", "--noise", "annotator", "--rate", "0.2", "-o", "x.csv"],
     "missing or non-finite values (first on line 6); fill them in first"),
    (["compare", "--noise", "annotator", "--randomness", "2"], "argument --randomness: must be a number in [0, 1]"),
    (["compare", "--noise", "annotator", "--rate", "1"], "--noise annotator --rate 1: rate must be in [0, 1)"),
    (["compare", "--methods", "ce,magic"], "unknown method(s) 'magic'"),
    (["compare", "--methods", "glc", "--trusted-per-class", "0"], "'glc' needs trusted rows"),
    (["compare", "--dataset", "nowhere"], "unknown data set 'nowhere'"),
    (["compare", "--dataset", "missing.csv", "--target", "y"], "no such file"),
    (["compare", "--dataset", "{data}"], "name the label column with --target"),
    (["compare", "--dataset", "{text}", "--target", "y"], "are not numeric"),
    (["compare", "--target", "y"], "--target is only used with a CSV --dataset"),
    (["compare", "--rate", "2"], "argument --rate"),
    (["compare", "--noise", "nope"], "unknown noise kind"),
    (["compare", "--epochs", "0"], "argument --epochs: must be an integer >= 1"),
    (["compare", "--test-size", "1"], "strictly between 0 and 1"),
    (["compare", "--device", "toaster"], "is not a PyTorch device"),
    (["compare", "--plot", "/no/such/dir/out.png"], "--plot: folder"),
    (["compare", "--noise", "asymmetric", "--preset", "mnist", "--rate", "1", "--trusted-per-class", "0"],
     "no training row is labelled 2, 3"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    ([], "choose a command"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_is_one_line_and_status_2(argv, message, data_csv, bad_files, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = {"data": data_csv, "dir": str(tmp_path), **bad_files}
    argv = [arg.format(**names) for arg in argv]
    status, out, err = run(argv, capsys)
    assert out == ""
    assert_one_error_line(status, err, message)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is available")
def test_cuda_without_a_gpu_is_a_clear_error(capsys):
    status, _, err = run(["compare", "--device", "cuda"], capsys)
    assert_one_error_line(status, err, "PyTorch sees no CUDA GPU")


def test_matplotlib_missing_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    status, _, err = run(["compare", "--plot", "out.png"], capsys)
    assert_one_error_line(status, err, "pip install 'sknoisy[plot]'")


def _break_corrupt_labels(monkeypatch, exc):
    """Make the library call behind 'sknoisy corrupt' fail as a bug in it would."""
    import sknoisy.noise

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(sknoisy.noise, "corrupt_labels", broken)
    command = sys.modules.get("sknoisy.cli.corrupt")
    if command is not None:  # the command module holds its own reference
        monkeypatch.setattr(command, "corrupt_labels", broken)


@pytest.mark.parametrize("exc", [ValueError("bug inside"), KeyError("bug inside"), ImportError("bug inside")])
def test_a_library_bug_is_not_reported_as_bad_input(exc, data_csv, tmp_path, monkeypatch, capsys):
    # Issue 10: main caught ValueError/KeyError/ImportError from anywhere and
    # printed "sknoisy: error:" with status 2; a bug must keep its traceback.
    _break_corrupt_labels(monkeypatch, exc)
    output = str(tmp_path / "o.csv")
    argv = ["corrupt", data_csv, "--target", "animal", "--noise", "pair", "--rate", "0.2", "-o", output]
    with pytest.raises(type(exc), match="bug inside"):
        main(argv)
    assert "sknoisy: error" not in capsys.readouterr().err


def test_a_library_bug_exits_1_with_its_traceback(data_csv, tmp_path):
    script = (
        "import sys, sknoisy.noise\n"
        "from sknoisy.cli import main\n"
        "def broken(*args, **kwargs):\n"
        "    raise ValueError('bug inside')\n"
        "sknoisy.noise.corrupt_labels = broken\n"
        "command = sys.modules.get('sknoisy.cli.corrupt')\n"
        "if command is not None:\n"
        "    command.corrupt_labels = broken\n"
        f"sys.exit(main(['corrupt', {data_csv!r}, '--target', 'animal', '--noise', 'pair', '--rate', '0.2', "
        f"'-o', {str(tmp_path / 'o.csv')!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr and "ValueError: bug inside" in done.stderr
    assert "sknoisy: error" not in done.stderr


def test_library_errors_about_the_input_keep_their_cause(data_csv, monkeypatch):
    monkeypatch.setenv("SKNOISY_TRACEBACK", "1")
    argv = ["corrupt", data_csv, "--target", "animal", "--noise", "asymmetric", "--preset", "mnist", "--rate", "0.2",
            "-o", "x.csv"]
    with pytest.raises(Exception, match="defined for n_classes=10") as info:
        main(argv)
    assert isinstance(info.value.__cause__, ValueError)  # the library's own check, kept for the traceback


def test_a_failing_compare_method_shows_its_traceback_on_request(monkeypatch):
    import sknoisy

    class Diverging(sknoisy.RobustLossClassifier):
        def fit(self, X, y, trusted=None):
            raise FloatingPointError("the training loss became nan in epoch 1")

    from sknoisy._classifier_registry import _ENTRIES

    monkeypatch.setitem(_ENTRIES, "nce+rce", _ENTRIES["nce+rce"]._replace(estimator=Diverging))
    monkeypatch.setenv("SKNOISY_TRACEBACK", "1")
    with pytest.raises(FloatingPointError, match="became nan"):
        main(["compare", "--methods", "nce+rce", *TINY])


def test_traceback_on_request(monkeypatch):
    monkeypatch.setenv("SKNOISY_TRACEBACK", "1")
    with pytest.raises(Exception, match="no such file"):
        main(["estimate", "missing.csv", "--target", "y"])


# ------------------------------------------------------------------ entry points
def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--help"])
    assert exc.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--trusted-per-class" in help_text
    assert "or instance or annotator, which depend on each row's features" in help_text
    assert "--randomness F" in help_text
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("sknoisy ")
    args = build_parser().parse_args(
        ["corrupt", "d.csv", "--target", "y", "--noise", "Flip-To-One", "--rate", "0", "-o", "o.csv"]
    )
    assert args.noise == "flip_to_one" and args.rate == 0.0


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "sknoisy", "estimate", "missing.csv", "--target", "y"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "sknoisy: error: no such file: 'missing.csv'"


def test_default_methods_leave_instance_forward_out_above_its_class_limit():
    from types import SimpleNamespace

    from sknoisy.cli.compare import _choose_methods
    from sknoisy.cli.fit import _planned_methods

    notes = []
    chosen = [m.name for m in _choose_methods(None, 0, notes, n_classes=21)]
    assert "instance_forward" not in chosen and "dividemix" in chosen
    assert ("instance_forward left out: auto tries it up to 20 classes (21 here; its cost grows with the square "
            "of the classes); name it in --methods to run it") in notes
    assert "instance_forward" in [m.name for m in _choose_methods(None, 0, [], n_classes=20)]
    assert [m.name for m in _choose_methods("ce,instance_forward", 0, [], n_classes=21)] == ["ce", "instance_forward"]
    # fit's progress plan is the list auto tries
    many = SimpleNamespace(y=np.arange(42) % 21, trusted=None)
    assert "instance_forward" not in _planned_methods("auto", many, 5)
    assert "instance_forward" in _planned_methods("auto", SimpleNamespace(y=np.arange(40) % 20, trusted=None), 5)
