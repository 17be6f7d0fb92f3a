"""Hostile inputs, second battery: odd CSV files, pandas dtypes, threads and Ctrl-C.

Each case ends in a clear one-line error (checked by its message) or in a
result checked against the same data given plainly (a float array, string
labels): never a traceback from inside pandas or torch, never a silent NaN.
The tampered model folders are tests/test_persistence_security.py's.
"""

import os
import threading

import numpy as np
import pandas as pd
import pytest
import torch

import sknoisy.persistence as persistence
from sknoisy import AutoNoisyClassifier, TransitionMatrixEstimator
from sknoisy.cli import main
from sknoisy.persistence import load_model, save_model

from test_bad_inputs import CLASSES, TRUSTED, WITH_T, X, Y, make
from test_cli_own_data import assert_one_error_line

TINY = ["--epochs", "1", "--hidden", "8", "--cv", "2"]
HEADER = "f1,f2,label"


def _rows(sep=",", label=lambda i: "ab"[i % 2], n=40):
    rng = np.random.RandomState(0)
    return [sep.join([f"{rng.randn() + i % 2:.4f}", f"{rng.randn():.4f}", str(label(i))]) for i in range(n)]


def _text(header=HEADER, sep=",", label=lambda i: "ab"[i % 2], end="\n", extra=()):
    return end.join([header, *_rows(sep, label), *extra]) + end


# (id, file content: str (UTF-8) or bytes, message or None for a run that must succeed)
CSV_CASES = [
    ("bom", "\ufeff" + _text(), None),
    ("semicolons", _text("f1;f2;label", ";"), "is this one separated by something else?"),
    ("tabs", _text("f1\tf2\tlabel", "\t"), "is this one separated by something else?"),
    ("quoted-numbers", "\n".join([HEADER, *('"%s","%s",%s' % tuple(r.split(",")) for r in _rows())]) + "\n", None),
    ("empty-cell", _text(extra=[",1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("NA", _text(extra=["NA,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("nan", _text(extra=["nan,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("question-mark", _text(extra=["?,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("null", _text(extra=["1.0,null,a"]), "feature column(s) 'f2'"),
    ("text-cell", _text(extra=["abc,1.0,a"]), "are not numeric (e.g. 'abc' in 'f1' on line 42)"),
    ("header-only", HEADER + "\n", "has a header but no data rows"),
    ("duplicate-columns", _text("f1,f1,label"), "has duplicate column names: 'f1'"),
    ("latin-1", _text(label=lambda i: "b" if i % 2 else "caf\xe9").encode("latin-1"), "it is not UTF-8 text"),
    ("labels-true-false", _text(label=lambda i: ["true", "false"][i % 2]), None),
    ("labels-True-False", _text(label=lambda i: ["True", "False"][i % 2]), None),
    ("labels-with-spaces", _text(label=lambda i: ["  a ", "b  "][i % 2]), None),
    ("one-class", _text(label=lambda i: "a"), "column 'label' holds a single class ('a')"),
    ("class-with-one-row", _text(label=lambda i: "c" if i == 0 else "ab"[i % 2]), None),
    ("inf", _text(extra=["inf,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("minus-inf", _text(extra=["-inf,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("1e400", _text(extra=["1e400,1.0,a"]), "have missing or non-finite values (first on line 42)"),
    ("very-long-lines", ",".join(f"c{j}" for j in range(3000)) + ",label\n"
     + "".join(",".join(["0.5"] * 3000) + "," + "ab"[i % 2] + "\n" for i in range(20)), None),
    ("crlf", _text(end="\r\n"), None),
    ("trailing-comma-everywhere", "\n".join([HEADER + ",", *(r + "," for r in _rows())]) + "\n",
     "column 4 of the header has no name (a trailing comma?)"),
    ("trailing-comma-in-rows", "\n".join([HEADER, *(r + "," for r in _rows())]) + "\n",
     "line 2 has 4 fields but the header has 3"),
    ("unnamed-index-column", "\n".join([",f1,f2,label", *(f"{i},{r}" for i, r in enumerate(_rows()))]) + "\n",
     "column 1 of the header has no name"),
    ("empty-file", "", "is empty; expected a header row and data rows"),
    ("blank-lines-only", "\n\n  \n", "is empty; expected a header row and data rows"),
    ("binary", bytes(range(256)) * 10, "it is not UTF-8 text"),
    ("nul-bytes", _text(extra=["1\x00,2,a"]), "are not numeric"),
    ("short-row", _text(extra=["1.0,a"]), "line 42 has 2 fields but the header has 3"),
    ("no-label-column", _text("f1,f2,y"), "has no column 'label'"),
]


def _write_text(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
    return str(path)


def _commands(path, tmp_path):
    return {
        "fit": ["fit", path, "--target", "label", "--method", "ce", "-o", str(tmp_path / "m"), "--quiet", *TINY],
        "issues": ["issues", path, "--target", "label", "--method", "ce", "-o", str(tmp_path / "i.csv"), "--quiet",
                   *TINY],
        "estimate": ["estimate", path, "--target", "label", "--cv", "2", "--quiet"],
        "compare": ["compare", "--dataset", path, "--target", "label", "--methods", "ce", "--epochs", "1",
                    "--hidden", "8", "--trusted-per-class", "2", "--quiet"],
    }


@pytest.mark.parametrize("case, content, message", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_fit_on_an_odd_csv(case, content, message, tmp_path, capsys):
    path = _write_text(tmp_path / "data.csv", content)
    status = main(_commands(path, tmp_path)["fit"])
    _, err = capsys.readouterr()
    if message is not None:
        assert_one_error_line(status, err, message)
        assert not (tmp_path / "m").exists()
        return
    assert status == 0, err
    model = load_model(tmp_path / "m")
    expected = {"labels-true-false": ["false", "true"], "labels-True-False": ["False", "True"],
                "class-with-one-row": ["a", "b", "c"]}.get(case, ["a", "b"])
    assert model.classes_.tolist() == expected  # labels as written, stripped; 'true' stays a label, not a flag


# the other commands that read a training CSV: the same errors, word for word, and the same successes
OTHER = [(command, case) for command in ("issues", "estimate", "compare")
         for case in ("bom", "semicolons", "NA", "latin-1", "header-only", "duplicate-columns", "labels-true-false",
                      "trailing-comma-everywhere", "binary")]


@pytest.mark.parametrize("command, case", OTHER, ids=[f"{c}-{k}" for c, k in OTHER])
def test_other_commands_on_an_odd_csv(command, case, tmp_path, capsys):
    _, content, message = next(c for c in CSV_CASES if c[0] == case)
    path = _write_text(tmp_path / "data.csv", content)
    status = main(_commands(path, tmp_path)[command])
    out, err = capsys.readouterr()
    if message is not None:
        assert_one_error_line(status, err, message)
    else:
        assert status == 0, err
        if command == "estimate":
            assert "nan" not in out.lower()


def test_a_directory_named_csv(tmp_path, capsys):
    (tmp_path / "data.csv").mkdir()
    status = main(_commands(str(tmp_path / "data.csv"), tmp_path)["fit"])
    assert_one_error_line(status, capsys.readouterr()[1], "is a directory, not a CSV file")


def test_an_unreadable_file(tmp_path, capsys):
    path = _write_text(tmp_path / "data.csv", _text())
    os.chmod(path, 0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: the file reads anyway")
        status = main(_commands(path, tmp_path)["fit"])
        assert_one_error_line(status, capsys.readouterr()[1], "cannot read")
    finally:
        os.chmod(path, 0o600)


def test_corrupt_reads_only_the_label_column_of_an_odd_file(tmp_path, capsys):
    # a gap in a feature is no reason to refuse: corrupt copies every other field as it is
    path = _write_text(tmp_path / "data.csv", _text(extra=["NA,?,a"]))
    out = tmp_path / "noisy.csv"
    assert main(["corrupt", path, "--target", "label", "--noise", "uniform", "--rate", "0.2", "-o", str(out),
                 "--quiet"]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("f1,f2,label") and lines[-1].startswith("NA,?,")


@pytest.fixture(scope="module")
def fitted_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    path = _write_text(folder / "train.csv", _text("f1,f2,f3,label", label=lambda i: "ab"[i % 2] + ",")
                       .replace(",a,", ",0.5,a").replace(",b,", ",0.5,b").replace(",\n", "\n"))
    assert main(["fit", path, "--target", "label", "--method", "ce", "-o", str(folder / "m"), "--quiet", *TINY]) == 0
    return folder


def _new(folder, header, rows):
    return _write_text(folder / "new.csv", "\n".join([header, *rows]) + "\n")


@pytest.mark.parametrize(
    "header, rows, message",
    [
        ("f3,f1,f2", ["0.5,1.0,2.0", "0.5,-1.0,0.0"], None),
        ("f1,f2", ["1.0,2.0"], "lacks the feature column(s) 'f3'"),
        ("f1,f2,f3,f4", ["1.0,2.0,0.5,9"], "has column(s) 'f4' the model was not trained on"),
        ("f1,f2,f3,label", ["1.0,2.0,0.5,a"], None),
        ("f1,f2,f3", ["1.0,NA,0.5"], "have missing or non-finite values"),
        ("\ufefff1,f2,f3", ["1.0,2.0,0.5"], None),
        ("f1,f1,f3", ["1.0,2.0,0.5"], "has duplicate column names: 'f1'"),
    ],
    ids=["reordered", "missing", "extra", "with-label", "NA", "bom", "duplicate"],
)
def test_predict_csv_columns(header, rows, message, fitted_model, tmp_path, capsys):
    new = _new(tmp_path, header, rows)
    status = main(["predict", str(fitted_model / "m"), new, "-o", str(tmp_path / "p.csv")])
    _, err = capsys.readouterr()
    if message is not None:
        assert_one_error_line(status, err, message)
        return
    assert status == 0, err
    # the columns are matched by name, whatever their order
    names = header.lstrip("\ufeff").split(",")
    values = dict(zip(names, np.array([r.split(",") for r in rows]).T))
    model = load_model(fitted_model / "m")
    expected = model.predict(np.array([values[c] for c in ("f1", "f2", "f3")], dtype=np.float32).T)
    written = (tmp_path / "p.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in written] == expected.tolist()


# --------------------------------------------------------------------------
# pandas inputs to the estimators
# --------------------------------------------------------------------------
DF = pd.DataFrame(X, columns=list("abcd"))
CODES = np.arange(30) % 3
# (id, DataFrame, the float array it means (None: refused), message when refused)
FRAMES = [
    ("categorical-codes", DF.assign(a=pd.Categorical(CODES)), np.c_[CODES, X[:, 1:]], None),
    ("categorical-strings", DF.assign(a=pd.Categorical(np.array(list("xyz"))[CODES])), None,
     "could not convert string to float"),
    ("Int64", DF.assign(a=pd.array(CODES, dtype="Int64")), np.c_[CODES, X[:, 1:]], None),
    ("Int64-with-NA", DF.assign(a=pd.array([None, *CODES[1:]], dtype="Int64")), None, "Input X contains NaN"),
    ("Float64", DF.assign(a=pd.array(X[:, 0], dtype="Float64")), X, None),
    ("Float64-with-NA", DF.assign(a=pd.array([None, *X[1:, 0]], dtype="Float64")), None, "Input X contains NaN"),
    ("bool", DF.assign(a=CODES == 0), np.c_[CODES == 0, X[:, 1:]], None),
    ("boolean", DF.assign(a=pd.array(CODES == 0, dtype="boolean")), np.c_[CODES == 0, X[:, 1:]], None),
    ("boolean-with-NA", DF.assign(a=pd.array([None, *(CODES[1:] == 0)], dtype="boolean")), None,
     "Input X contains NaN"),
    ("object-numbers", DF.assign(a=DF["a"].astype(object)), X, None),
    ("mixed-column-names", DF.set_axis(["a", 1, "c", 3], axis=1), None, "all input features have string names"),
    ("duplicate-column-names", DF.set_axis(["a", "a", "c", "d"], axis=1), None,
     "X has duplicate column names: 'a'; give every column its own name"),
]


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("case, frame, plain, message", FRAMES, ids=[f[0] for f in FRAMES])
def test_a_dataframe_of_pandas_dtypes(name, case, frame, plain, message):
    if message is not None:
        with pytest.raises((ValueError, TypeError), match=message):
            make(name).fit(frame, Y, trusted=TRUSTED)
        return
    model = make(name).fit(frame, Y, trusted=TRUSTED)
    reference = make(name).fit(np.asarray(plain, dtype=np.float32), Y, trusted=TRUSTED)
    proba = model.predict_proba(frame)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, reference.predict_proba(np.asarray(plain, dtype=np.float32)), atol=1e-6)


def test_a_dataframe_with_duplicate_names_is_refused_at_predict_too():
    model = make("ce").fit(DF, Y, trusted=TRUSTED)
    with pytest.raises(ValueError, match="X has duplicate column names: 'a'"):
        model.predict(DF.set_axis(["a", "a", "c", "d"], axis=1))


STRINGS = np.array(list("xyz"))[Y]
# (id, y, the labels it means (None: refused), message)
TARGETS = [
    ("categorical", pd.Series(pd.Categorical(STRINGS)), STRINGS, None),
    ("Int64", pd.Series(pd.array(Y, dtype="Int64")), Y, None),
    ("Int64-with-NA", pd.Series(pd.array([None, *Y[1:]], dtype="Int64")), None,
     "y contains <NA> at position 0; every sample needs a label"),
    ("bool", pd.Series(Y == 0), Y == 0, None),
    ("strings-reversed-index", pd.Series(STRINGS, index=np.arange(30)[::-1]), STRINGS, None),
]


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("case, y, plain, message", TARGETS, ids=[t[0] for t in TARGETS])
def test_a_target_of_pandas_dtypes(name, case, y, plain, message):
    params = {}
    if case == "bool" and name in WITH_T:  # two classes: the shared T is 2 x 2
        params["transition_matrix"] = np.full((2, 2), 0.2) + 0.6 * np.eye(2)
    if message is not None:
        with pytest.raises(ValueError, match=message):
            make(name, **params).fit(X, y, trusted=TRUSTED)
        return
    model = make(name, **params).fit(X, y, trusted=TRUSTED)
    reference = make(name, **params).fit(X, plain, trusted=TRUSTED)
    assert model.classes_.tolist() == reference.classes_.tolist()
    # Int64 labels stay integers (scikit-learn would make floats of them)
    assert (model.classes_.dtype.kind in "iu") == (reference.classes_.dtype.kind in "iu")
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))


MASKS = [
    ("Series-bool", pd.Series(TRUSTED), None),
    ("Series-boolean", pd.Series(pd.array(TRUSTED, dtype="boolean")), None),
    ("Series-boolean-with-NA", pd.Series(pd.array([None, *TRUSTED[1:]], dtype="boolean")),
     "trusted contains <NA> at position 0; mark each row True or False"),
    ("Series-Int64-0-1", pd.Series(pd.array(TRUSTED.astype(int), dtype="Int64")), None),
]


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("case, mask, message", MASKS, ids=[m[0] for m in MASKS])
def test_a_trusted_mask_of_pandas_dtypes(name, case, mask, message):
    if message is not None:
        with pytest.raises(ValueError, match=message):
            make(name).fit(X, Y, trusted=mask)
        return
    np.testing.assert_array_equal(make(name).fit(X, Y, trusted=mask).predict_proba(X),
                                  make(name).fit(X, Y, trusted=TRUSTED).predict_proba(X))


def test_transition_matrix_estimator_on_pandas_inputs():
    from sklearn.linear_model import LogisticRegression

    def tme():
        return TransitionMatrixEstimator(LogisticRegression(), cv=2, random_state=0)

    reference = tme().fit(X, Y).transition_matrix_
    np.testing.assert_allclose(tme().fit(DF, pd.Series(pd.array(Y, dtype="Int64"))).transition_matrix_, reference)
    with pytest.raises(ValueError, match="y contains <NA> at position 0"):
        tme().fit(X, pd.Series(pd.array([None, *Y[1:]], dtype="Int64")))
    with pytest.raises(ValueError, match="X has duplicate column names: 'a'"):
        tme().fit(DF.set_axis(["a", "a", "c", "d"], axis=1), Y)


def test_auto_on_pandas_inputs():
    from sklearn.linear_model import LogisticRegression

    def auto():
        return AutoNoisyClassifier(
            make("ce").module, methods=["ce", "forward"], cv=2, random_state=0, max_epochs=1,
            module__hidden_units=(8,), transition_matrix=TransitionMatrixEstimator(LogisticRegression(), cv=2),
        )

    frame = DF.assign(a=pd.array(X[:, 0], dtype="Float64"))
    model = auto().fit(frame, pd.Series(pd.Categorical(STRINGS)))
    np.testing.assert_array_equal(model.predict(frame), auto().fit(X, STRINGS).predict(X))
    with pytest.raises(ValueError, match="y contains <NA> at position 0"):
        auto().fit(X, pd.Series(pd.array([None, *Y[1:]], dtype="Int64")))


# --------------------------------------------------------------------------
# threads and Ctrl-C
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ce", "glc"])
def test_predicting_from_two_threads_at_once(name):
    rng = np.random.RandomState(1)
    big = rng.randn(2000, 4).astype(np.float32)
    model = make(name).fit(X, Y, trusted=TRUSTED)
    expected = model.predict_proba(big)
    results, errors = [None] * 4, []
    barrier = threading.Barrier(4)

    def work(k):
        try:
            barrier.wait()
            results[k] = model.predict_proba(big)
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for result in results:
        np.testing.assert_array_equal(result, expected)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _nth_call_interrupted(real, n):
    calls = []

    def patched(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return patched


@pytest.fixture(scope="module")
def two_models():
    return make("ce").fit(X, Y), make("ce", random_state=1).fit(X, Y)


FIRST_SAVE = [
    ("torch.save", lambda mp: mp.setattr(torch, "save", _interrupt)),
    ("manifest", lambda mp: mp.setattr(persistence.Path, "write_text", _interrupt)),
    ("rename", lambda mp: mp.setattr(persistence.os, "rename", _interrupt)),
]


@pytest.mark.parametrize("where, patch", FIRST_SAVE, ids=[f[0] for f in FIRST_SAVE])
def test_an_interrupted_first_save_leaves_nothing_loadable(where, patch, two_models, tmp_path, monkeypatch):
    with monkeypatch.context() as mp:
        patch(mp)
        with pytest.raises(KeyboardInterrupt):
            save_model(two_models[0], tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no half folder, no temporary folder
    with pytest.raises(Exception, match="no such model folder|does not exist|not a model folder"):
        load_model(tmp_path / "model")
    save_model(two_models[0], tmp_path / "model")  # and the next save works
    np.testing.assert_array_equal(load_model(tmp_path / "model").predict_proba(X), two_models[0].predict_proba(X))


OVERWRITE = [
    ("manifest", lambda mp: mp.setattr(persistence.Path, "write_text", _interrupt)),
    ("first-rename", lambda mp: mp.setattr(persistence.os, "rename", _nth_call_interrupted(os.rename, 1))),
    ("rmtree-of-the-old", lambda mp: mp.setattr(persistence.shutil, "rmtree", _interrupt)),
]


@pytest.mark.parametrize("where, patch", OVERWRITE, ids=[f[0] for f in OVERWRITE])
def test_an_interrupted_save_over_a_model(where, patch, two_models, tmp_path, monkeypatch):
    old, new = two_models
    save_model(old, tmp_path / "model")
    with monkeypatch.context() as mp:
        patch(mp)
        with pytest.raises(KeyboardInterrupt):
            save_model(new, tmp_path / "model")
    loaded = load_model(tmp_path / "model").predict_proba(X)
    # interrupted before the swap: the old model; while removing the replaced one: the new one, whole
    which = new if where == "rmtree-of-the-old" else old
    np.testing.assert_array_equal(loaded, which.predict_proba(X))
