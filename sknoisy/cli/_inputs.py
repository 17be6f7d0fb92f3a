"""The user's own data for ``fit``, ``issues`` and ``predict``: a CSV file or an ``.npz`` of arrays.

A CSV file is read as the other commands read it (see :mod:`._io`): one
label column, optional trusted and id columns, every other column a numeric
feature. An ``.npz`` file (``numpy.savez``) holds the array ``X`` -- rows of
features ``(n, d)``, or images ``(n, h, w)`` or ``(n, c, h, w)`` -- the
labels ``y`` (or the array named by ``--target``) and optionally a boolean
``trusted`` array and an id array. Object arrays are never loaded (that
would unpickle).

:class:`InputSpec` is what ``fit`` records in the model folder about its
input, so that ``predict`` can check that new data has the same columns or
image shape, in the same form.
"""

import csv
import os
import typing
import zipfile

import numpy as np

from ._errors import InputError, os_error_text
from ._io import (
    _parse_features,
    _parse_mask,
    check_file,
    check_two_classes,
    load_dataset,
    parse_labels,
    read_csv,
    read_numeric_csv,
)

__all__ = ["TrainingData", "NewData", "is_npz", "read_training", "read_new", "spec_of", "check_spec",
           "check_output_file", "write_audit_copy"]

#: The array names an ``.npz`` file uses unless told otherwise.
NPZ_X, NPZ_Y, NPZ_TRUSTED = "X", "y", "trusted"


class TrainingData(typing.NamedTuple):
    """Rows to learn from."""

    X: np.ndarray  # float32, (n, d) or (n, h, w) / (n, c, h, w)
    y: np.ndarray  # labels as given (ints or strings)
    trusted: typing.Optional[np.ndarray]  # bool, or None
    ids: typing.Optional[list]  # strings, or None
    feature_names: typing.Optional[list]  # CSV and 2-D npz: one name a column
    kind: str  # "csv" or "npz"
    trusted_column: typing.Optional[str]
    ignored: list  # CSV columns that are not features (target, trusted, id, --drop)


class NewData(typing.NamedTuple):
    """Rows to predict."""

    X: np.ndarray
    ids: typing.Optional[list]


def is_npz(path):
    return str(path).lower().endswith(".npz")


# --------------------------------------------------------------------------
# .npz
# --------------------------------------------------------------------------
def _read_npz(path):
    check_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            arrays = {}
            for name in names:
                try:
                    arrays[name] = archive[name]
                except ValueError:
                    raise InputError(
                        f"{path!r}: array {name!r} holds Python objects, which sknoisy never loads (that would "
                        "unpickle); save it as numbers, strings or booleans"
                    ) from None
    except InputError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise InputError(f"cannot read {path!r}: not an .npz file written by numpy.savez") from None
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {os_error_text(exc)}") from None
    return arrays


def _npz_array(arrays, path, name, option):
    if name not in arrays:
        found = ", ".join(map(repr, arrays)) or "none"
        hint = f" (name another one with {option})" if option else ""
        raise InputError(f"{path!r} has no array {name!r}{hint}; its arrays are {found}")
    return arrays[name]


def _npz_features(array, path, name):
    if array.dtype.kind not in "biuf":
        raise InputError(f"array {name!r} in {path!r} must hold numbers, not {array.dtype}")
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0 or min(array.shape) == 0:
        raise InputError(
            f"array {name!r} in {path!r} has shape {array.shape}; expected rows of features (n, d) or images "
            "(n, height, width) or (n, channels, height, width)"
        )
    X = array.astype(np.float32)
    if not np.all(np.isfinite(X)):
        raise InputError(f"array {name!r} in {path!r} has missing or non-finite values; fill them in first")
    return X


def _npz_labels(array, path, name, n_rows):
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise InputError(f"array {name!r} in {path!r} must hold one label per row of X ({n_rows}), got shape "
                         f"{array.shape}")
    if array.dtype.kind == "b":
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        if np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            return array.astype(np.int64)
        raise InputError(f"array {name!r} in {path!r} holds non-integer numbers; labels must be classes")
    if array.dtype.kind in "US":
        labels = np.char.strip(array.astype(str))
        if np.any(labels == ""):
            raise InputError(f"array {name!r} in {path!r} has an empty label at row {int(np.argmax(labels == ''))}")
        return labels
    raise InputError(f"array {name!r} in {path!r} must hold labels (integers or strings), not {array.dtype}")


def _npz_mask(array, path, name, n_rows):
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise InputError(f"array {name!r} in {path!r} must hold one flag per row of X ({n_rows}), got shape "
                         f"{array.shape}")
    if array.dtype.kind == "b":
        return array.astype(bool)
    if array.dtype.kind in "iuf" and np.all(np.isin(array, (0, 1))):
        return array.astype(bool)
    raise InputError(f"array {name!r} in {path!r} must hold booleans (or 0/1), found {array.dtype} values")


def _npz_ids(arrays, path, name, n_rows):
    array = _npz_array(arrays, path, name, "--id-column")
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise InputError(f"array {name!r} in {path!r} must hold one id per row of X ({n_rows}), got shape "
                         f"{array.shape}")
    return [str(v) for v in array.tolist()]


def _flat_names(X):
    return [f"x{j}" for j in range(X.shape[1])] if X.ndim == 2 else None


# --------------------------------------------------------------------------
# training data
# --------------------------------------------------------------------------
def read_training(path, *, target, trusted_column=None, id_column=None, drop=()):
    """The :class:`TrainingData` of a CSV or ``.npz`` file."""
    if is_npz(path):
        if drop:
            raise InputError("--drop names CSV columns; an .npz file has arrays (X, y, ...)")
        arrays = _read_npz(path)
        X = _npz_features(_npz_array(arrays, path, NPZ_X, None), path, NPZ_X)
        y_name = target or NPZ_Y
        y = _npz_labels(_npz_array(arrays, path, y_name, "--target"), path, y_name, len(X))
        check_two_classes(y, y_name)
        if trusted_column is None and NPZ_TRUSTED in arrays:
            trusted_column = NPZ_TRUSTED  # the documented default name
        trusted = None
        if trusted_column is not None:
            raw = _npz_array(arrays, path, trusted_column, "--trusted-column")
            trusted = _npz_mask(raw, path, trusted_column, len(X))
        ids = None if id_column is None else _npz_ids(arrays, path, id_column, len(X))
        return TrainingData(X, y, trusted, ids, _flat_names(X), "npz", trusted_column, [])
    if target is None:
        raise InputError(f"name the label column of {path!r} with --target COLUMN")
    fast = _read_training_numeric(path, target, trusted_column, id_column, drop)
    if fast is not None:
        return fast
    table = read_csv(path)
    ids = None
    if id_column is not None:
        ids = [value.strip() for value in table.column(table.index(id_column, "id column"))]
        if id_column in (target, trusted_column) or id_column in drop:
            raise InputError("the target, trusted, id and --drop columns must all be different columns")
    data = load_dataset(table, target, drop=[*drop, *([id_column] if id_column else [])],
                        trusted_column=trusted_column)
    ignored = [name for name in table.header if name not in data.feature_names]
    return TrainingData(data.X, data.y, data.trusted, ids, data.feature_names, "csv", trusted_column, ignored)


def _read_training_numeric(path, target, trusted_column, id_column, drop):
    """:func:`read_training` of a well-formed numeric CSV file, streamed; None sends it to the full reader.

    Every column that is not the target, trusted, id or a ``--drop`` column is
    a feature, as on the full path; the full path also gives every error.
    """
    special = [name for name in (target, trusted_column, id_column) if name is not None] + list(dict.fromkeys(drop))
    if len(set(special)) != len(special):
        return None  # a column in two roles: the full path says so
    table = read_numeric_csv(path, special)
    if table is None:
        return None
    lines = table.lines
    y = parse_labels(table.text[target], target, lines)
    check_two_classes(y, target)
    trusted = None if trusted_column is None else _parse_mask(table.text[trusted_column], trusted_column, lines)
    ids = None if id_column is None else [value.strip() for value in table.text[id_column]]
    ignored = [name for name in table.header if name not in table.features]
    return TrainingData(table.X, y, trusted, ids, table.features, "csv", trusted_column, ignored)


# --------------------------------------------------------------------------
# what fit records, and what predict checks
# --------------------------------------------------------------------------
def spec_of(data, target, id_column):
    """What ``predict`` needs to know about the training input (plain JSON)."""
    return {
        "kind": data.kind,
        "features": data.feature_names,
        "input_shape": list(data.X.shape[1:]),
        "target": target or (NPZ_Y if data.kind == "npz" else None),
        "trusted_column": data.trusted_column,
        "id_column": id_column,
        "ignored": data.ignored,
    }


def check_spec(spec, where):
    """``spec`` as read from a model folder, or a clear error when it is not one ``fit`` wrote."""
    keys = {"kind": str, "input_shape": list, "ignored": list}
    if not isinstance(spec, dict) or any(not isinstance(spec.get(k), t) for k, t in keys.items()):
        raise InputError(f"{where}: the description of its input is missing or damaged")
    if spec["kind"] not in ("csv", "npz"):
        raise InputError(f"{where}: unknown input kind {spec['kind']!r}")
    features = spec.get("features")
    if spec["kind"] == "csv" and not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise InputError(f"{where}: the feature column names are missing or damaged")
    return spec


def _read_new_numeric(path, features, ignored, id_column):
    """:func:`read_new` of a well-formed numeric CSV file, streamed; None sends it to the full reader.

    Taken only when the file has every feature and no column the model does
    not know (the full path says which); the columns the model ignored and
    the id column are read as text, the features in the order the model knows.
    """
    id_columns = [id_column] if id_column is not None else []
    table = read_numeric_csv(path, id_columns, optional_text=[name for name in ignored if name not in features])
    if table is None or set(table.features) != set(features):
        return None
    order = [table.features.index(name) for name in features]
    X = table.X if order == list(range(len(order))) else np.ascontiguousarray(table.X[:, order])
    ids = None if id_column is None else [value.strip() for value in table.text[id_column]]
    return NewData(X, ids)


def read_new(path, spec, *, id_column=None):
    """The rows of ``path`` to predict, checked against the ``spec`` the model was fitted on."""
    if is_npz(path):
        arrays = _read_npz(path)
        X = _npz_features(_npz_array(arrays, path, NPZ_X, None), path, NPZ_X)
        expected = tuple(spec["input_shape"])
        if X.shape[1:] != expected:
            def shown(shape):
                return f"rows of {shape[0]} features" if len(shape) == 1 else f"images of shape {shape}"

            raise InputError(
                f"array 'X' in {path!r} has {shown(X.shape[1:])}; the model was trained on "
                f"{shown(expected).replace('rows of ', '')}"
            )
        ids = None if id_column is None else _npz_ids(arrays, path, id_column, len(X))
        return NewData(X, ids)
    if spec["kind"] != "csv":
        what = "rows of features" if len(spec["input_shape"]) == 1 else "images"
        raise InputError(f"the model was trained on {what} in an .npz file; give an .npz file, not {path!r}")
    features = spec["features"]
    fast = _read_new_numeric(path, features, spec["ignored"], id_column)
    if fast is not None:
        return fast
    table = read_csv(path)
    missing = [name for name in features if name not in table.header]
    known = {*features, *spec["ignored"], *([id_column] if id_column else [])}
    extra = [name for name in table.header if name not in known]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks the feature column(s) {', '.join(map(repr, missing[:10]))}"
                         f"{' ...' if len(missing) > 10 else ''}")
        if extra:
            parts.append(f"has column(s) {', '.join(map(repr, extra[:10]))}{' ...' if len(extra) > 10 else ''} "
                         "the model was not trained on")
        raise InputError(
            f"{path!r} {' and '.join(parts)}; the model expects the features "
            f"{', '.join(map(repr, features[:10]))}{' ...' if len(features) > 10 else ''}"
        )
    ids = None
    if id_column is not None:
        ids = [value.strip() for value in table.column(table.index(id_column, "id column"))]
    # Only the feature columns are parsed (in the order the model knows);
    # the others are left out, whatever their content.
    X = _parse_features(table, [table.header.index(name) for name in features], droppable=False)
    return NewData(X, ids)


def check_output_file(path, inputs, force, option="-o"):
    """Fail before any work when ``path`` could not (or should not) be written."""
    output = os.path.abspath(path)
    for source in inputs:
        if os.path.exists(source) and os.path.exists(output) and os.path.samefile(output, source):
            raise InputError(f"refusing to overwrite the input {source!r}; write to another {option} file")
    if os.path.isdir(output):
        raise InputError(f"{option} {path!r} is a directory; give a file name")
    if os.path.exists(output) and not force:
        raise InputError(f"{path!r} already exists; pass --force to overwrite it")
    if not os.path.isdir(os.path.dirname(output)):
        raise InputError(f"{option}: folder {os.path.dirname(output)!r} does not exist")
    return output


def write_audit_copy(source, output, mark, column):
    """Write a copy of the training file ``source`` to ``output`` with one more column: ``mark`` as 1/0.

    A CSV keeps every field of every row as read, the new column last; an
    ``.npz`` keeps every array and gains a boolean array. A column or array
    of that name already in the file is refused (it would be overwritten).
    """
    if is_npz(source):
        arrays = _read_npz(source)
        if column in arrays:
            raise InputError(f"--audit: {source!r} already has an array {column!r}")
        arrays[column] = np.asarray(mark, dtype=bool)
        try:
            with open(output, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        except OSError as exc:
            raise InputError(f"--audit-file: cannot write {output!r}: {os_error_text(exc)}") from None
        return
    table = read_csv(source)
    if column in table.header:
        raise InputError(f"--audit: {source!r} already has a column {column!r}")
    try:
        with open(output, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*table.header, column])
            for row, marked in zip(table.rows, mark):
                writer.writerow([*row, int(marked)])
    except OSError as exc:
        raise InputError(f"--audit-file: cannot write {output!r}: {os_error_text(exc)}") from None

