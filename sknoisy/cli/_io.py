"""Reading the user's CSV file into features, labels and masks.

Files are read with Python's ``csv`` module (comma-separated, a header row,
UTF-8). Every problem with the file is an :class:`~._errors.InputError` that
names the file, the column and the line.
"""

import csv
import math
import os
import typing

import numpy as np

from ._errors import InputError, os_error_text

__all__ = ["CSVFile", "CSVData", "NumericCSV", "check_file", "read_csv", "read_numeric_csv", "load_dataset",
           "parse_labels", "check_two_classes"]


class CSVFile(typing.NamedTuple):
    """A CSV file as read: its header, its data rows (lists of strings) and their line numbers."""

    path: str
    header: list
    rows: list
    lines: list

    def index(self, name, what="column"):
        """Position of column ``name``; ``what`` names its role in the error message."""
        if name not in self.header:
            shown = ", ".join(map(repr, self.header[:20])) + (", ..." if len(self.header) > 20 else "")
            hint = ""
            if len(self.header) == 1 and any(sep in self.header[0] for sep in ";\t|"):
                hint = " (sknoisy reads comma-separated files; is this one separated by something else?)"
            raise InputError(f"{self.path!r} has no {what} {name!r}; its columns are {shown}{hint}")
        return self.header.index(name)

    def column(self, j):
        return [row[j] for row in self.rows]


class CSVData(typing.NamedTuple):
    """What a command learns from: features, labels and the optional columns."""

    X: np.ndarray
    y: np.ndarray
    trusted: typing.Optional[np.ndarray]
    y_clean: typing.Optional[np.ndarray]
    feature_names: list


def check_file(path):
    """The same error for a missing path or a folder, whichever command meets it."""
    if os.path.isdir(path):
        raise InputError(f"{path!r} is a directory, not a CSV file")
    if not os.path.exists(path):
        raise InputError(f"no such file: {path!r}")


def read_csv(path):
    """Read ``path`` into a :class:`CSVFile`; blank lines are not rows."""
    check_file(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh, skipinitialspace=True))
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path!r}: it is not UTF-8 text (is it a CSV file?)") from None
    except csv.Error as exc:
        raise InputError(f"cannot read {path!r} as CSV: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {os_error_text(exc)}") from None
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise InputError(f"{path!r} is empty; expected a header row and data rows")
    (_, header), body = numbered[0], numbered[1:]
    header = [name.strip() for name in header]
    if "" in header:
        raise InputError(
            f"{path!r}: column {header.index('') + 1} of the header has no name (a trailing comma?); name every column"
        )
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise InputError(f"{path!r} has duplicate column names: {', '.join(map(repr, duplicates))}")
    if not body:
        raise InputError(f"{path!r} has a header but no data rows")
    for number, row in body:
        if len(row) != len(header):
            raise InputError(f"{path!r} line {number} has {len(row)} fields but the header has {len(header)}")
    return CSVFile(path, header, [row for _, row in body], [number for number, _ in body])


class NumericCSV(typing.NamedTuple):
    """A CSV file read by :func:`read_numeric_csv`: features as one array, the other columns as text."""

    header: list
    X: np.ndarray  # float32, (n_rows, n_features), the feature columns in file order
    features: list  # their names
    text: dict  # name -> list of str, for the columns asked for as text
    lines: list  # the line number of each row


#: Rows :func:`read_numeric_csv` converts at once: large enough for the conversion to run at C speed, small
#: enough that the rows as Python strings stay a few tens of megabytes.
_CHUNK_ROWS = 20_000


def read_numeric_csv(path, text_columns, optional_text=()):
    """Stream a well-formed CSV file into a float32 array, or None when it is not one.

    The fast path for large files (a million rows read in seconds, with the
    memory of the array, not of the rows as Python strings): every column but
    ``text_columns`` must be a finite number on every row. On anything else
    (an unreadable file, a bad header, a row of the wrong length, a cell that
    is not a finite number, a name in ``text_columns`` that is not a column)
    it returns None, and the caller reads the file with :func:`read_csv`,
    whose error names the file, the column and the line. ``float`` converts
    every cell, as on that path. Names in ``optional_text`` are text columns
    when the file has them (``predict``: columns the model ignored, which a
    new file may or may not carry).
    """
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError:
        return None
    with fh:
        try:
            return _stream_numeric(csv.reader(fh, skipinitialspace=True), text_columns, optional_text)
        except (UnicodeDecodeError, csv.Error, ValueError, OSError):
            return None


def _stream_numeric(reader, text_columns, optional_text=()):
    header = None
    for number, row in enumerate(reader, start=1):
        if any(cell.strip() for cell in row):
            header = [name.strip() for name in row]
            break
    if header is None or "" in header or len(set(header)) != len(header):
        return None
    if any(name not in header for name in text_columns):
        return None
    text_columns = list(dict.fromkeys([*text_columns, *(name for name in optional_text if name in header)]))
    text_idx = [header.index(name) for name in text_columns]
    feature_idx = [j for j in range(len(header)) if j not in text_idx]
    width = len(header)
    text = {name: [] for name in text_columns}
    blocks, lines, chunk = [], [], []

    def convert():
        cells = [row[j] for row in chunk for j in feature_idx]
        block = np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
        if not np.all(np.isfinite(block)):
            raise ValueError("a non-finite value")
        blocks.append(block.reshape(len(chunk), len(feature_idx)).astype(np.float32))
        for name, j in zip(text_columns, text_idx):
            text[name].extend(row[j] for row in chunk)
        chunk.clear()

    for number, row in enumerate(reader, start=number + 1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            return None
        chunk.append(row)
        lines.append(number)
        if len(chunk) == _CHUNK_ROWS:
            convert()
    if chunk:
        convert()
    if not lines or not feature_idx:
        return None
    X = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return NumericCSV(header, X, [header[j] for j in feature_idx], text, lines)


def parse_labels(values, column, lines):
    """Labels as ints when they all are integers, else as (stripped) strings."""
    for value, line in zip(values, lines):
        if value.strip() == "":
            raise InputError(f"column {column!r} has an empty label on line {line}; every row needs a label")
    try:
        floats = np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values])
    if np.all(np.isfinite(floats)) and np.all(floats == np.round(floats)):
        return floats.astype(np.int64)
    return np.array([v.strip() for v in values])


def check_two_classes(y, column):
    """The sorted classes of ``y``; at least two of them."""
    classes = np.unique(y)
    if classes.size < 2:
        raise InputError(f"column {column!r} holds a single class ('{classes[0]}'); at least two classes are needed")
    return classes


#: Cells that spreadsheets and R/pandas write for a missing value: a gap, not text to encode.
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-"}

_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", ""}


def _parse_mask(values, column, lines):
    mask = np.zeros(len(values), dtype=bool)
    for i, (value, line) in enumerate(zip(values, lines)):
        text = value.strip().lower()
        if text in _TRUE:
            mask[i] = True
        elif text not in _FALSE:
            raise InputError(
                f"column {column!r} must hold 1/0 (or true/false, yes/no); found {value!r} on line {line}"
            )
    return mask


def _parse_features(table, columns, droppable=True):
    """The float32 feature matrix of ``columns``; one clear error for text or gaps.

    ``droppable``: whether the command can leave a column out (``--drop``),
    which the error then suggests.
    """
    if not columns:
        raise InputError(f"{table.path!r} has no feature column left (only the target and excluded columns)")
    X = np.empty((len(table.rows), len(columns)), dtype=np.float64)
    non_numeric, missing = [], []
    for k, j in enumerate(columns):
        for i, row in enumerate(table.rows):
            cell = row[j].strip()
            try:
                value = float(cell)
            except ValueError:
                if cell.lower() in _MISSING:
                    missing.append((table.header[j], table.lines[i]))
                else:
                    non_numeric.append((table.header[j], cell, table.lines[i]))
                break
            if not math.isfinite(value):
                missing.append((table.header[j], table.lines[i]))
                break
            X[i, k] = value
    if non_numeric:
        names = ", ".join(repr(name) for name, _, _ in non_numeric)
        name, cell, line = non_numeric[0]
        raise InputError(
            f"feature column(s) {names} in {table.path!r} are not numeric (e.g. {cell!r} in {name!r} on line "
            f"{line}); encode them as numbers first{', or leave them out with --drop' if droppable else ''}"
        )
    if missing:
        names = ", ".join(repr(name) for name, _ in missing)
        raise InputError(
            f"feature column(s) {names} in {table.path!r} have missing or non-finite values (first on line "
            f"{missing[0][1]}); fill them in first{', or leave the column(s) out with --drop' if droppable else ''}"
        )
    return X.astype(np.float32)


def load_dataset(table, target, *, drop=(), trusted_column=None, clean_column=None):
    """The :class:`CSVData` of a :class:`CSVFile`: every other column is a numeric feature."""
    target_idx = table.index(target)
    trusted_idx = None if trusted_column is None else table.index(trusted_column, "trusted column")
    clean_idx = None if clean_column is None else table.index(clean_column, "clean-label column")
    drop_idx = [table.index(name, "column to drop") for name in dict.fromkeys(drop)]
    special = [j for j in (target_idx, trusted_idx, clean_idx, *drop_idx) if j is not None]
    if len(set(special)) != len(special):
        raise InputError("the target, trusted, clean-label and --drop columns must all be different columns")
    trusted = None if trusted_idx is None else _parse_mask(table.column(trusted_idx), trusted_column, table.lines)
    y_clean = None if clean_idx is None else parse_labels(table.column(clean_idx), clean_column, table.lines)
    features = [j for j in range(len(table.header)) if j not in special]
    X = _parse_features(table, features)
    y = parse_labels(table.column(target_idx), target, table.lines)
    check_two_classes(y, target)
    return CSVData(X, y, trusted, y_clean, [table.header[j] for j in features])
