"""``sknoisy fit``, ``predict`` and ``issues``: the user's own noisy data, end to end on tiny files.

Run in-process through ``sknoisy.cli.main(argv)``, plus one run of the
installed entry point and the commands of README.rst's "Your own data".
"""

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sknoisy.persistence
from sknoisy import CrossEntropyClassifier, make_noisy_classification
from sknoisy.cli import main
from sknoisy.cli._errors import InputError
from sknoisy.modules import MLP

# Tiny networks and few folds: these tests check the plumbing, not accuracy.
FAST = ["--epochs", "2", "--hidden", "8", "--cv", "2"]
README = Path(__file__).resolve().parents[1] / "README.rst"
CLASSES = np.array(["bird", "cat", "dog"])


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


def noisy_rows(n, seed=0):
    """Features, noisy labels (clean on trusted rows), trusted mask and clean labels."""
    X, y_noisy, y_clean, _ = make_noisy_classification(
        n, 5, 3, noise="flip_to_one", rate=0.3, random_state=seed, n_informative=4, n_clusters_per_class=1,
        class_sep=2.0,
    )
    trusted = np.random.RandomState(seed).rand(n) < 0.25
    y = np.where(trusted, y_clean, y_noisy)
    return X, CLASSES[y], trusted, CLASSES[y_clean]


def write_own_csv(path, n=150, seed=0, trusted_values=("1", "0")):
    X, y, trusted, _ = noisy_rows(n, seed)
    rows = [
        [f"id{i}", *(f"{v:.5f}" for v in X[i]), y[i], trusted_values[0] if trusted[i] else trusted_values[1]]
        for i in range(n)
    ]
    return write_csv(path, ["id", "a", "b", "c", "d", "e", "label", "checked"], rows)


def write_new_csv(path, n=12, seed=1, columns=("id", "e", "d", "c", "b", "a")):
    X, _, _, _ = noisy_rows(n, seed)
    values = dict(zip("abcdez", [*X.T, np.zeros(n)]))  # z: a column the model never saw
    rows = [[f"new{i}" if c == "id" else f"{values[c][i]:.5f}" for c in columns] for i in range(n)]
    return write_csv(path, list(columns), rows)


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


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    return {"data": write_own_csv(folder / "data.csv"), "new": write_new_csv(folder / "new.csv"), "dir": folder}


@pytest.fixture(scope="module")
def fitted(files, tmp_path_factory):
    """``sknoisy fit --method auto`` once, with the estimator it saved caught on the way."""
    caught = []
    real = sknoisy.persistence.save_model

    def spy(estimator, path, **kwargs):
        caught.append(estimator)
        return real(estimator, path, **kwargs)

    model = str(tmp_path_factory.mktemp("fit") / "model")
    mp = pytest.MonkeyPatch()
    mp.setattr(sknoisy.persistence, "save_model", spy)
    try:
        status = main(["fit", files["data"], "--target", "label", "--trusted-column", "checked", "--id-column", "id",
                       "-o", model, *FAST])
    finally:
        mp.undo()
    assert status == 0
    return model, caught[0]


# --------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------
def test_fit_chooses_reports_and_saves(files, tmp_path, capsys):
    model = str(tmp_path / "model")
    status, out, err = run(["fit", files["data"], "--target", "label", "--trusted-column", "checked",
                            "--id-column", "id", "-o", model, *FAST], capsys)
    assert status == 0, err
    # progress: one line per network trained, on stderr, counted against the plan
    tried = [m.name for m in sknoisy.CLASSIFIER_METHODS.values() if m.in_auto]  # trusted rows: every one
    plan = 2 * len(tried) + 1  # each method x 2 folds + the refit
    progress = [line for line in err.splitlines() if re.match(rf"\s+\[\d+/{plan}\] ", line)]
    assert len(progress) == plan, err
    assert "3-fold" not in out and "2-fold cross-validation, score = accuracy on trusted rows" in out
    for method in tried:
        assert re.search(rf"^{re.escape(method)}\s+0\.\d{{4}}", out, re.M), out
    chosen = re.search(r"^chose: (\S+)$", out, re.M).group(1)
    line = re.search(r"^accuracy: .*$", out, re.M).group(0)
    low, high = map(float, re.search(r"between (0\.\d+) and (\d\.\d+) \(", line).groups())
    assert 0.0 <= low <= high <= 1.0
    assert f"widened for the choice of the best of {len(tried)} methods" in line

    assert sorted(os.listdir(model)) == ["manifest.json", "weights.pt"]
    described = sknoisy.persistence.read_metadata(model)["sknoisy fit"]
    assert described["method"] == chosen
    assert set(described["cv_scores"]) == set(tried)
    assert described["cv_scores"][chosen][0] == max(score for score, _ in described["cv_scores"].values())
    assert described["input"]["features"] == ["a", "b", "c", "d", "e"]
    assert described["input"]["target"] == "label" and described["input"]["id_column"] == "id"
    assert described["estimate"]["low"] == pytest.approx(low, abs=5e-4)
    assert described["estimate"]["high"] == pytest.approx(high, abs=5e-4)
    assert len(described["scaler"]["mean"]) == 5
    manifest = json.loads(Path(model, "manifest.json").read_text())
    assert "callbacks" not in manifest["params"] and "callbacks" not in manifest["not_restored"]  # no progress lines


def test_fit_holdout_trains_each_method_once_and_says_so(files, tmp_path, capsys, monkeypatch):
    from sknoisy.cli._training import FitProgress

    monkeypatch.setattr(FitProgress, "LOG_EVERY", 0.0)  # an epoch line in the log after every epoch
    model = str(tmp_path / "model")
    status, out, err = run(["fit", files["data"], "--target", "label", "--trusted-column", "checked",
                            "--id-column", "id", "-o", model, "--selection", "holdout", *FAST], capsys)
    assert status == 0, err
    tried = [m.name for m in sknoisy.CLASSIFIER_METHODS.values() if m.in_auto]
    plan = len(tried) + 1  # each method once + the refit
    assert "one held-out split, then the refit" in err
    done = [line for line in err.splitlines() if re.match(rf"\s+\[\d+/{plan}\] \S+: \d+ epochs", line)]
    assert len(done) == plan, err
    # the epoch lines name the method, the epoch and what is left to train
    first = f"  [1/{plan}] {tried[0]}: epoch 1/2, "
    assert any(line.startswith(first) and line.endswith(f"then {', '.join(tried[1:])}, the refit")
               for line in err.splitlines()), err
    assert f"  [{plan}/{plan}] " in err and "the refit" in err
    assert "one held-out split (selection holdout: each method trained once), score = accuracy on trusted rows" in out
    table = out.split("score = accuracy on trusted rows:\n")[1].split("\n\n")[0].splitlines()
    for name in tried:  # one split has no spread: the std column says so instead of 0.0000
        row = next(line.split() for line in table if line.split()[0] == name)
        assert row[2] == "-", table
    assert sknoisy.persistence.read_metadata(model)["sknoisy fit"]["estimate"]["selection"] == "holdout"


def _full_read(path, **kwargs):
    """read_training by the full reader alone (the streamed path switched off)."""
    import sknoisy.cli._inputs as inputs

    mp = pytest.MonkeyPatch()
    mp.setattr(inputs, "read_numeric_csv", lambda *a, **k: None)
    try:
        return inputs.read_training(path, **kwargs)
    finally:
        mp.undo()


def test_a_numeric_csv_is_streamed_and_reads_as_the_full_reader(tmp_path, monkeypatch):
    import sknoisy.cli._inputs as inputs
    import sknoisy.cli._io as io_module

    path = tmp_path / "d.csv"
    rows = ["\ufeffid, a,b ,label,ok,note", ""]
    for i in range(40):
        rows.append(f's{i}, {i * 0.5:g},"{-i}",{"cat" if i % 3 else "dog"},{"yes" if i % 4 == 0 else "0"},text {i}')
        if i % 9 == 0:
            rows.append(" , ,")  # a blank line is not a row
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    kwargs = dict(target="label", trusted_column="ok", id_column="id", drop=["note"])
    expected = _full_read(str(path), **kwargs)
    monkeypatch.setattr(io_module, "_CHUNK_ROWS", 7)  # several chunks and a short last one

    def no_full_reader(*args, **kwargs):
        raise AssertionError("the full reader was used for a well-formed numeric CSV")

    monkeypatch.setattr(inputs, "read_csv", no_full_reader)
    got = inputs.read_training(str(path), **kwargs)
    assert got.X.dtype == np.float32 and got.X.shape == (40, 2)
    np.testing.assert_array_equal(got.X, expected.X)
    np.testing.assert_array_equal(got.y, expected.y)
    np.testing.assert_array_equal(got.trusted, expected.trusted)
    assert got.ids == expected.ids and got.feature_names == expected.feature_names == ["a", "b"]
    assert got.ignored == expected.ignored == ["id", "label", "ok", "note"]


def _full_read_new(path, spec, **kwargs):
    """read_new by the full reader alone (the streamed path switched off)."""
    import sknoisy.cli._inputs as inputs

    mp = pytest.MonkeyPatch()
    mp.setattr(inputs, "read_numeric_csv", lambda *a, **k: None)
    try:
        return inputs.read_new(path, spec, **kwargs)
    finally:
        mp.undo()


def test_rows_to_predict_are_streamed_and_read_as_the_full_reader(tmp_path, monkeypatch):
    import sknoisy.cli._inputs as inputs
    import sknoisy.cli._io as io_module

    # the features in another order than the model knows them, an ignored text column, an id; no label
    spec = {"kind": "csv", "features": ["a", "b", "c"], "input_shape": [3], "ignored": ["id", "label", "note"]}
    path = tmp_path / "new.csv"
    rows = ["\ufeffc, id,note,a ,b"]
    for i in range(30):
        rows.append(f'{i / 7:g},r{i},"some, text",{-i}, {i * 0.25:g}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    expected = _full_read_new(str(path), spec, id_column="id")
    monkeypatch.setattr(io_module, "_CHUNK_ROWS", 8)

    def no_full_reader(*args, **kwargs):
        raise AssertionError("the full reader was used for a well-formed numeric CSV")

    monkeypatch.setattr(inputs, "read_csv", no_full_reader)
    got = inputs.read_new(str(path), spec, id_column="id")
    assert got.X.dtype == np.float32 and got.X.shape == (30, 3) and got.X.flags.c_contiguous
    np.testing.assert_array_equal(got.X, expected.X)
    np.testing.assert_array_equal(got.X[:, 0], -np.arange(30))  # column 'a', in the model's order
    assert got.ids == expected.ids == [f"r{i}" for i in range(30)]


@pytest.mark.parametrize(
    "header, id_column, message",
    [
        ("a,b,extra", None, "has column(s) 'extra' the model was not trained on"),
        ("a,note", None, "lacks the feature column(s) 'b'"),
        ("a,b", "id", "id column"),
    ],
)
def test_rows_to_predict_the_stream_cannot_read_get_the_full_readers_message(header, id_column, message, tmp_path):
    import sknoisy.cli._inputs as inputs

    spec = {"kind": "csv", "features": ["a", "b"], "input_shape": [2], "ignored": ["note"]}
    path = tmp_path / "new.csv"
    width = len(header.split(","))
    path.write_text(header + "\n" + "\n".join(",".join(["1"] * width) for _ in range(5)) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as full:
        _full_read_new(str(path), spec, id_column=id_column)
    with pytest.raises(InputError) as streamed:
        inputs.read_new(str(path), spec, id_column=id_column)
    assert str(streamed.value) == str(full.value) and message in str(full.value)


@pytest.mark.parametrize("cell", ["x", "", "nan", "inf", "NA"])
def test_a_csv_the_stream_cannot_read_gets_the_full_readers_message(cell, tmp_path, monkeypatch):
    import sknoisy.cli._inputs as inputs
    import sknoisy.cli._io as io_module

    monkeypatch.setattr(io_module, "_CHUNK_ROWS", 4)
    path = tmp_path / "d.csv"
    lines = ["a,b,label"] + [f"{i},{i},{i % 2}" for i in range(20)] + [f"1,{cell},0"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as full:
        _full_read(str(path), target="label")
    with pytest.raises(InputError) as streamed:
        inputs.read_training(str(path), target="label")
    assert str(streamed.value) == str(full.value) and "line 22" in str(full.value)


def test_fit_without_trusted_rows_says_no_accuracy_is_available(files, tmp_path, capsys):
    status, out, err = run(["fit", files["data"], "--target", "label", "--drop", "checked", "--id-column", "id",
                            "-o", str(tmp_path / "m"), "--quiet", *FAST], capsys)
    assert status == 0, err
    assert err == ""  # --quiet: no progress
    # without trusted rows no accuracy is printed, only how to measure it
    line = re.search(r"^accuracy: .*$", out, re.M).group(0)
    assert line.startswith("accuracy: not measured: no row is checked by hand") and "--audit 200" in line
    assert not re.search(r"\d\.\d{3}", line)
    assert "trusted rows only" not in out
    chosen = re.search(r"^chose: (\S+)$", out, re.M).group(1)
    # the methods that need no trusted rows
    assert chosen in [m.name for m in sknoisy.CLASSIFIER_METHODS.values() if m.in_auto and not m.needs_trusted]


@pytest.mark.parametrize("correct, n, point, few", [(180, 200, False, False), (60, 70, False, True),
                                                    (440, 500, True, False)])
def test_fit_prints_an_interval_that_reflects_the_checked_rows(correct, n, point, few, capsys):
    from sknoisy.cli.fit import _accuracy_line
    from sknoisy.utils._stats import wilson_interval

    confidence = 1 - 0.05 / 5
    low, high = wilson_interval(correct, n, confidence)
    report = {"kind": "trusted", "checked_rows_scored": n, "correct": correct, "accuracy": correct / n,
              "low": low, "high": high, "confidence": confidence, "n_methods": 5}
    line = _accuracy_line(report)
    assert f"between {low:.3f} and {high:.3f} (99.0% interval from {correct} of {n} checked rows" in line
    assert line.startswith(f"accuracy: {correct / n:.3f}, between") == point  # a point only when it is close
    assert ("too few to measure it closely" in line) == few


def test_fit_audit_writes_a_copy_with_random_rows_to_check(files, tmp_path, capsys):
    import csv

    audit = tmp_path / "audit.csv"
    status, out, err = run(["fit", files["data"], "--target", "label", "--drop", "checked", "--id-column", "id",
                            "--method", "ce", "--audit", "30", "--audit-file", str(audit),
                            "-o", str(tmp_path / "m"), "--quiet", *FAST], capsys)
    assert status == 0, err
    assert f"wrote {audit}" in out and "--trusted-column to_check" in out
    with open(files["data"], newline="") as fh:
        original = list(csv.reader(fh))
    with open(audit, newline="") as fh:
        copy = list(csv.reader(fh))
    assert copy[0] == [*original[0], "to_check"]
    assert [row[:-1] for row in copy[1:]] == original[1:]
    assert sum(row[-1] == "1" for row in copy[1:]) == 30
    # the copy is data fit reads: its marked rows become the trusted ones
    status, out, err = run(["fit", str(audit), "--target", "label", "--trusted-column", "to_check", "--drop",
                            "checked", "--id-column", "id", "--method", "ce", "-o", str(tmp_path / "m2"), *FAST],
                           capsys)
    assert status == 0, err
    assert re.search(r"^accuracy: .*between .* from \d+ of 30 checked rows", out, re.M), out
    # never overwritten without --force, and --audit-file alone is refused
    base = ["fit", files["data"], "--target", "label", "--drop", "checked", "--id-column", "id"]
    status, _, err = run([*base, "--audit", "5", "--audit-file", str(audit), "-o", str(tmp_path / "m3"), *FAST],
                         capsys)
    assert_one_error_line(status, err, "already exists; pass --force")
    status, _, err = run([*base, "--audit-file", str(audit), "-o", str(tmp_path / "m3"), *FAST], capsys)
    assert_one_error_line(status, err, "give --audit N too")


def test_fit_a_named_method_still_estimates_its_accuracy(files, tmp_path, capsys):
    status, out, err = run(["fit", files["data"], "--target", "label", "--trusted-column", "checked", "--drop", "id",
                            "--method", "glc", "-o", str(tmp_path / "m"), *FAST], capsys)
    assert status == 0, err
    assert re.search(r"^method: glc$", out, re.M)
    assert re.search(r"^accuracy: .*checked rows", out, re.M) and "widened for the choice" not in out
    assert len([line for line in err.splitlines() if "] glc:" in line]) == 3  # 2 folds + the refit


def test_fit_notes_a_trusted_column_that_marks_no_row(tmp_path, capsys):
    path = write_own_csv(tmp_path / "d.csv", trusted_values=("0", "0"))
    status, out, err = run(["fit", path, "--target", "label", "--trusted-column", "checked", "--id-column", "id",
                            "--method", "ce", "-o", str(tmp_path / "m"), *FAST], capsys)
    assert status == 0, err
    assert "note: 'checked' marks no row as trusted" in out
    assert "trusted rows only" not in out


def test_help_lists_the_own_data_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    for command in ("fit", "predict", "issues"):
        assert re.search(rf"^\s+{command}\s+\S", listed, re.M), listed


def test_fit_replaces_a_model_only_with_force(fitted, files, capsys):
    model, _ = fitted
    argv = ["fit", files["data"], "--target", "label", "--drop", "checked", "--drop", "id", "--method", "ce",
            "-o", model, "--quiet", *FAST]
    status, _, err = run(argv, capsys)
    assert_one_error_line(status, err, "already holds a saved model; pass --force")
    copy = Path(model).parent / "copy"
    shutil.copytree(model, copy)
    status, _, err = run(argv[:-len(FAST) - 2] + [str(copy), "--quiet", "--force", *FAST], capsys)
    assert status == 0, err
    assert sknoisy.persistence.read_metadata(copy)["sknoisy fit"]["method"] == "ce"


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------
def test_predict_writes_labels_and_probabilities_exactly_as_the_fitted_model(fitted, files, tmp_path, capsys):
    model, estimator = fitted
    out_csv = str(tmp_path / "pred.csv")
    status, out, err = run(["predict", model, files["new"], "--id-column", "id", "-o", out_csv], capsys)
    assert status == 0, err
    assert out.startswith(f"wrote {out_csv}: 12 predictions by ")
    header, rows = read_csv(out_csv)
    assert header == ["id", "prediction", "proba_bird", "proba_cat", "proba_dog"]
    assert [row[0] for row in rows] == [f"new{i}" for i in range(12)]
    proba = np.array([[float(v) for v in row[2:]] for row in rows])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert [row[1] for row in rows] == CLASSES[proba.argmax(axis=1)].tolist()

    # The numbers are those of the estimator fit trained, before it was saved,
    # on the new rows scaled as the training rows were.
    from sknoisy.cli._training import apply_scaler

    X_new, _, _, _ = noisy_rows(12, 1)
    X_new = np.array([[float(f"{v:.5f}") for v in row] for row in X_new], dtype=np.float32)  # as read
    scaler = sknoisy.persistence.read_metadata(model)["sknoisy fit"]["scaler"]
    expected = estimator.predict_proba(apply_scaler(X_new, scaler))
    assert np.array_equal(proba.astype(expected.dtype), expected)


def test_predict_ignores_label_trusted_and_id_columns_without_an_id_output(fitted, files, tmp_path, capsys):
    model, _ = fitted
    status, _, err = run(["predict", model, files["data"], "-o", str(tmp_path / "p.csv"), "--quiet"], capsys)
    assert status == 0, err
    header, rows = read_csv(tmp_path / "p.csv")
    assert header[0] == "prediction" and len(rows) == 150


def test_predict_through_the_installed_entry_point(fitted, files, tmp_path):
    model, _ = fitted
    script = Path(sys.executable).with_name("sknoisy")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sknoisy"]
    done = subprocess.run(
        [*command, "predict", model, files["new"], "-o", str(tmp_path / "p.csv")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path / 'p.csv'}: 12 predictions")
    done = subprocess.run(
        [*command, "predict", str(tmp_path), files["new"], "-o", str(tmp_path / "q.csv")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sknoisy: error: model folder") and len(done.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------
# images in .npz files
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 6), (2, 5, 5)], ids=["n-h-w", "n-c-h-w"])
def test_images_in_npz_files_train_a_cnn(shape, tmp_path, capsys):
    rng = np.random.RandomState(0)
    y = np.arange(60) % 2
    X = rng.rand(60, *shape) + y.reshape(-1, *[1] * len(shape))  # class 1 is brighter
    trusted = rng.rand(60) < 0.3
    trusted[:4] = True  # two trusted rows of each class at least
    np.savez(tmp_path / "train.npz", X=X, y=y, trusted=trusted)
    np.savez(tmp_path / "new.npz", X=X[:7], id=np.arange(100, 107))
    model = str(tmp_path / "model")
    status, out, err = run(["fit", str(tmp_path / "train.npz"), "--method", "ce", "-o", model, *FAST], capsys)
    assert status == 0, err
    assert "trusted)" in out and "images" in out and "\naccuracy: " in out
    manifest = json.loads(Path(model, "manifest.json").read_text())
    assert manifest["params"]["module"] == {"__class__": "sknoisy.modules.SmallCNN"}

    status, _, err = run(["predict", model, str(tmp_path / "new.npz"), "--id-column", "id",
                          "-o", str(tmp_path / "p.csv")], capsys)
    assert status == 0, err
    header, rows = read_csv(tmp_path / "p.csv")
    assert header == ["id", "prediction", "proba_0", "proba_1"]
    assert [row[0] for row in rows] == [str(i) for i in range(100, 107)]

    status, out, err = run(["issues", str(tmp_path / "train.npz"), "-o", str(tmp_path / "i.csv"), "--quiet",
                            *FAST], capsys)
    assert status == 0, err
    assert len(read_csv(tmp_path / "i.csv")[1]) == 60


# --------------------------------------------------------------------------
# issues
# --------------------------------------------------------------------------
def test_issues_ranks_rows_most_suspicious_first(files, tmp_path, capsys):
    out_csv = str(tmp_path / "issues.csv")
    status, out, err = run(["issues", files["data"], "--target", "label", "--trusted-column", "checked",
                            "--id-column", "id", "-o", out_csv, "--top", "3", *FAST], capsys)
    assert status == 0, err
    header, rows = read_csv(out_csv)
    assert header == ["row", "id", "given_label", "suggested_label", "score"]
    assert sorted(int(row[0]) for row in rows) == list(range(150))
    scores = np.array([float(row[4]) for row in rows])
    assert np.all(np.diff(scores) <= 0) and np.all((scores >= 0) & (scores <= 1))
    _, y, trusted, _ = noisy_rows(150)
    for row in rows:
        i = int(row[0])
        assert row[1] == f"id{i}" and row[2] == y[i] and row[3] in CLASSES
        if trusted[i]:
            assert float(row[4]) == 0.0 and row[3] == row[2]  # a checked label is never suspicious
    flagged = int(np.sum(scores > 0.5))
    assert out.startswith(f"{flagged} of 150 rows ({100 * flagged / 150:.1f}%) look mislabelled (score > 0.5)")
    assert "T by gold" in out
    progress = [line for line in err.splitlines() if re.match(r"\s+\[\d+/3\] ce: ", line)]
    assert len(progress) == 3, err  # one network per fold, and one on the untrusted rows for the gold T


@pytest.mark.parametrize("method", ["forward", "nce+rce"])
def test_issues_with_a_correcting_method(method, files, tmp_path, capsys):
    out_csv = str(tmp_path / "issues.csv")
    status, out, err = run(["issues", files["data"], "--target", "label", "--drop", "checked", "--drop", "id",
                            "--method", method, "-o", out_csv, "--quiet", *FAST], capsys)
    assert status == 0, err
    header, rows = read_csv(out_csv)
    assert header == ["row", "given_label", "suggested_label", "score"] and len(rows) == 150
    assert "look mislabelled" in out and len(out.strip().splitlines()) == 1  # --quiet: the count only


def test_issues_find_flipped_labels(tmp_path, capsys):
    """On easy data, the top of the ranking is mostly rows whose label really was flipped."""
    X, y_noisy, y_clean, _ = make_noisy_classification(
        400, 5, 3, noise="flip_to_one", rate=0.3, random_state=3, n_informative=5, n_clusters_per_class=1,
        class_sep=3.0,
    )
    rows = [[*(f"{v:.5f}" for v in X[i]), y_noisy[i]] for i in range(400)]
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "d", "e", "y"], rows)
    status, _, err = run(["issues", path, "--target", "y", "-o", str(tmp_path / "i.csv"), "--quiet",
                          "--epochs", "20", "--cv", "3"], capsys)
    assert status == 0, err
    _, ranked = read_csv(tmp_path / "i.csv")
    flipped = y_noisy != y_clean
    k = int(flipped.sum())
    top = [int(row[0]) for row in ranked[:k]]
    assert np.mean(flipped[top]) > 0.6  # precision at the true number of flips; chance is about 0.3
    # where a label is more likely wrong than right, the suggested one is mostly the true one
    found = [(int(row[0]), int(row[2])) for row in ranked if float(row[3]) > 0.5 and flipped[int(row[0])]]
    assert len(found) > k / 2
    assert np.mean([suggested == y_clean[i] for i, suggested in found]) > 0.8


# --------------------------------------------------------------------------
# bad input: one line, status 2
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bad(files, fitted, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    model, _ = fitted
    corrupt = folder / "corrupt"
    shutil.copytree(model, corrupt)
    (corrupt / "manifest.json").write_text("{ not json")
    bad_weights = folder / "bad_weights"
    shutil.copytree(model, bad_weights)
    (bad_weights / "weights.pt").write_bytes(b"garbage")
    elsewhere = folder / "elsewhere"  # a model saved from Python: no description of its input
    X, y, _, _ = noisy_rows(40)
    sknoisy.persistence.save_model(CrossEntropyClassifier(MLP, max_epochs=1).fit(X.astype("float32"), y), elsewhere)
    other = folder / "other"
    other.mkdir()
    (other / "notes.txt").write_text("hello")
    np.savez(folder / "no_x.npz", y=np.arange(10) % 2)
    np.savez(folder / "no_y.npz", X=np.zeros((10, 4)))
    np.savez(folder / "objects.npz", X=np.zeros((4, 2)), y=np.array([1, "a", None, 2.5], dtype=object))
    np.savez(folder / "flat.npz", X=np.zeros((4, 3)))
    (folder / "fake.npz").write_text("not a zip")
    return {
        **files, "model": model, "corrupt": str(corrupt), "bad_weights": str(bad_weights),
        "elsewhere": str(elsewhere), "other": str(other),
        "flag": write_own_csv(folder / "flag.csv", trusted_values=("yes", "maybe")),
        "extra": write_new_csv(folder / "extra.csv", columns=("a", "b", "c", "d", "e", "z")),
        "lacking": write_new_csv(folder / "lacking.csv", columns=("a", "b", "c", "d")),
        "gap": write_csv(folder / "gap.csv", ["a", "b", "c", "d", "e"], [[1, 2, 3, 4, 5], [1, 2, "", 4, 5]]),
        "no_x": str(folder / "no_x.npz"), "no_y": str(folder / "no_y.npz"), "objects": str(folder / "objects.npz"),
        "flat": str(folder / "flat.npz"), "fake": str(folder / "fake.npz"), "folder": str(folder),
    }


BAD = [
    (["fit", "missing.csv", "--target", "label", "-o", "m"], "no such file: 'missing.csv'"),
    (["fit", "{data}", "--target", "nope", "-o", "m"], "has no column 'nope'"),
    (["fit", "{data}", "-o", "m"], "name the label column of"),
    (["fit", "{data}", "--target", "label", "--trusted-column", "nope", "-o", "m"], "has no trusted column 'nope'"),
    (["fit", "{data}", "--target", "label", "--method", "magic", "-o", "m"], "argument --method: invalid choice"),
    (["fit", "{flag}", "--target", "label", "--trusted-column", "checked", "-o", "m"],
     "column 'checked' must hold 1/0 (or true/false, yes/no); found 'maybe'"),
    (["fit", "{data}", "--target", "label", "--drop", "checked", "--drop", "id", "--method", "glc", "-o", "m"],
     "--method glc needs trusted rows: name the column"),
    (["fit", "{data}", "--target", "label", "--trusted-column", "checked", "-o", "{data}"], "is a file"),
    (["fit", "{data}", "--target", "label", "--trusted-column", "checked", "-o", "{other}"],
     "is a folder of other files"),
    (["fit", "{data}", "--target", "label", "--id-column", "label", "-o", "m"], "must all be different columns"),
    (["fit", "{data}", "--target", "label", "-o", "m", "--epochs", "0"], "argument --epochs"),
    (["fit", "{data}", "--target", "label", "-o", "m", "--device", "toaster"], "is not a PyTorch device"),
    (["fit", "{no_x}", "-o", "m"], "has no array 'X'; its arrays are 'y'"),
    (["fit", "{no_y}", "-o", "m"], "has no array 'y' (name another one with --target)"),
    (["fit", "{objects}", "-o", "m"], "holds Python objects, which sknoisy never loads"),
    (["fit", "{fake}", "-o", "m"], "not an .npz file written by numpy.savez"),
    (["fit", "{no_y}", "--drop", "x", "-o", "m"], "--drop names CSV columns"),
    (["predict", "{folder}/nowhere", "{new}", "-o", "p.csv"], "no such model folder"),
    (["predict", "{corrupt}", "{new}", "-o", "p.csv"], "not valid JSON"),
    (["predict", "{bad_weights}", "{new}", "-o", "p.csv"], "not a weights file written by torch.save"),
    (["predict", "{elsewhere}", "{new}", "-o", "p.csv"], "was not written by 'sknoisy fit'"),
    (["predict", "{other}", "{new}", "-o", "p.csv"], "is not a model folder written by sknoisy"),
    (["predict", "{model}", "{extra}", "-o", "p.csv"], "has column(s) 'z' the model was not trained on"),
    (["predict", "{model}", "{lacking}", "-o", "p.csv"], "lacks the feature column(s) 'e'"),
    (["predict", "{model}", "{new}", "--id-column", "nope", "-o", "p.csv"], "has no id column 'nope'"),
    (["predict", "{model}", "{gap}", "-o", "p.csv"], "have missing or non-finite values (first on line 3); fill them "
     "in first"),
    (["predict", "{model}", "{flat}", "-o", "p.csv"], "has rows of 3 features; the model was trained on 5 features"),
    (["predict", "{model}", "{new}", "-o", "{new}"], "refusing to overwrite the input"),
    (["predict", "{model}", "missing.csv", "-o", "p.csv"], "no such file: 'missing.csv'"),
    (["issues", "{data}", "--target", "label", "--method", "auto", "-o", "i.csv"], "argument --method: invalid"),
    (["issues", "{data}", "--target", "label", "--id-column", "id", "--method", "mlc", "-o", "i.csv"],
     "--method mlc needs trusted rows"),
    (["issues", "{data}", "--target", "label", "--id-column", "id", "--drop", "checked", "--transition-method",
      "gold", "-o", "i.csv"],
     "--transition-method gold needs trusted rows"),
    (["issues", "{flag}", "--target", "label", "--trusted-column", "checked", "-o", "i.csv"], "must hold 1/0"),
    (["issues", "{data}", "--target", "label", "-o", "{data}"], "refusing to overwrite the input"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a)[:70] for a, _ in BAD])
def test_bad_input_is_one_line_and_status_2(argv, message, bad, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [arg.format(**bad) for arg in argv]
    status, out, err = run(argv, capsys)
    assert out == ""
    assert_one_error_line(status, err, message)
    assert not (tmp_path / "m").exists() and not (tmp_path / "p.csv").exists()


def test_npz_new_data_of_another_shape(tmp_path, capsys):
    y = np.arange(40) % 2
    np.savez(tmp_path / "train.npz", X=np.random.RandomState(0).rand(40, 4, 4) + y[:, None, None], y=y)
    np.savez(tmp_path / "new.npz", X=np.zeros((3, 5, 5)))
    assert main(["fit", str(tmp_path / "train.npz"), "--method", "ce", "-o", str(tmp_path / "m"), "--quiet",
                 *FAST]) == 0
    capsys.readouterr()
    status, _, err = run(["predict", str(tmp_path / "m"), str(tmp_path / "new.npz"), "-o",
                          str(tmp_path / "p.csv")], capsys)
    assert_one_error_line(status, err, "has images of shape (5, 5); the model was trained on images of shape (4, 4)")
    status, _, err = run(["predict", str(tmp_path / "m"), write_new_csv(tmp_path / "n.csv"), "-o",
                          str(tmp_path / "p.csv")], capsys)
    assert_one_error_line(status, err, "the model was trained on images in an .npz file; give an .npz file")


# --------------------------------------------------------------------------
# README.rst, "Your own data": its commands run as written (with tiny networks)
# --------------------------------------------------------------------------
def readme_commands():
    text = README.read_text(encoding="utf-8")
    section = text.split("Your own data\n=============\n", 1)[1].split("\n===", 1)[0]
    section = section.rsplit("\n", 1)[0]  # the next section's title
    return [line.strip() for line in section.splitlines() if line.strip().startswith("sknoisy ")]


def test_readme_commands_run(tmp_path, monkeypatch, capsys):
    commands = readme_commands()
    assert [shlex.split(c)[1] for c in commands] == ["fit", "predict", "issues", "fit"]
    monkeypatch.chdir(tmp_path)
    write_own_csv(tmp_path / "data.csv")
    write_new_csv(tmp_path / "new.csv")
    y = np.arange(40) % 2
    np.savez(tmp_path / "images.npz", X=np.random.RandomState(0).rand(40, 6, 6) + y[:, None, None], y=y)
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv[0] in ("fit", "issues"):
            argv += FAST
        status, out, err = run(argv, capsys)
        assert status == 0, f"{command}\n{err}"
    assert (tmp_path / "predictions.csv").exists() and (tmp_path / "issues.csv").exists()
    assert (tmp_path / "model" / "manifest.json").exists() and (tmp_path / "image-model" / "weights.pt").exists()
