"""The ``sknoisy`` command: compare corrections, estimate T, corrupt labels.

Three subcommands, for people who want results without writing code::

    sknoisy compare                       # built-in digits, 40% flip-to-one noise
    sknoisy compare --dataset data.csv --target label --plot compare.png
    sknoisy estimate data.csv --target label [--trusted-column is_checked]
    sknoisy corrupt data.csv --target label --noise symmetric --rate 0.3 -o noisy.csv

``python -m sknoisy`` is the same command. Run ``sknoisy COMMAND --help`` for
every option.

CSV files are read with Python's ``csv`` module (comma-separated, a header
row, UTF-8): every column other than the target (and the trusted, clean and
``--drop`` columns) is a feature and must hold numbers.

Bad input (a missing file or column, a single class, non-numeric features,
a rate outside [0, 1], an unknown noise kind or method...) is reported as one
line ``sknoisy: error: ...`` on stderr with exit status 2, never a
traceback. Set the environment variable ``SKNOISY_TRACEBACK=1`` to see the
traceback of such an error anyway.
"""

import argparse
import contextlib
import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["main", "build_parser"]

_DEFAULT_METHODS = ("clean", "ce", "forward", "glc", "mlc", "nce+rce")
_PLOT_HINT = "pip install 'sknoisy[plot]'"


class _CLIError(Exception):
    """Bad input: reported as one line and exit status 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints its usage block and exits; sknoisy reports every bad
    # input the same way (one line), so parsing errors are raised instead.
    def error(self, message):
        raise _CLIError(f"{message} (see '{self.prog} --help')")


class _HelpFormatter(argparse.HelpFormatter):
    # Show a default only where there is one worth reading.
    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        hidden = default is None or default is False or default == [] or default is argparse.SUPPRESS
        if "default" in text or hidden or not action.option_strings:
            return text
        return f"{text} (default: {default})"


# --------------------------------------------------------------------------
# argument types (they raise ArgumentTypeError, which argparse turns into
# "argument --rate: ...")
# --------------------------------------------------------------------------
def _rate(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _noise_kind(text):
    from .noise import NOISE_KINDS

    kind = text.strip().lower().replace("-", "_")
    if kind not in NOISE_KINDS:
        raise argparse.ArgumentTypeError(f"unknown noise kind {text!r}; choose from {', '.join(NOISE_KINDS)}")
    return kind


# --------------------------------------------------------------------------
# CSV input
# --------------------------------------------------------------------------
def _read_csv(path):
    """Header and rows (lists of strings) of a comma-separated file."""
    if os.path.isdir(path):
        raise _CLIError(f"{path!r} is a directory, not a CSV file")
    if not os.path.exists(path):
        raise _CLIError(f"no such file: {path!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh, skipinitialspace=True))
    except UnicodeDecodeError:
        raise _CLIError(f"cannot read {path!r}: it is not UTF-8 text (is it a CSV file?)") from None
    except csv.Error as exc:
        raise _CLIError(f"cannot read {path!r} as CSV: {exc}") from None
    # Blank lines (a trailing newline, say) are not rows.
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise _CLIError(f"{path!r} is empty; expected a header row and data rows")
    (_, header), body = numbered[0], numbered[1:]
    header = [name.strip() for name in header]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise _CLIError(f"{path!r} has duplicate column names: {', '.join(map(repr, duplicates))}")
    if not body:
        raise _CLIError(f"{path!r} has a header but no data rows")
    for number, row in body:
        if len(row) != len(header):
            raise _CLIError(
                f"{path!r} line {number} has {len(row)} fields but the header has {len(header)}"
            )
    return header, [row for _, row in body], [number for number, _ in body]


def _column_index(header, name, path, what="column"):
    if name not in header:
        shown = ", ".join(map(repr, header[:20])) + (", ..." if len(header) > 20 else "")
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = " (sknoisy reads comma-separated files; is this one separated by something else?)"
        raise _CLIError(f"{path!r} has no {what} {name!r}; its columns are {shown}{hint}")
    return header.index(name)


def _parse_labels(values, column, lines):
    """Labels as ints when they all are integers, else as strings."""
    for value, line in zip(values, lines):
        if value.strip() == "":
            raise _CLIError(f"column {column!r} has an empty label on line {line}; every row needs a label")
    try:
        floats = np.array([float(v) for v in values])
    except ValueError:
        return np.array([v.strip() for v in values])
    if np.all(np.isfinite(floats)) and np.all(floats == np.round(floats)):
        return floats.astype(np.int64)
    return np.array([v.strip() for v in values])


def _check_two_classes(y, column):
    classes = np.unique(y)
    if classes.size < 2:
        raise _CLIError(
            f"column {column!r} holds a single class ('{classes[0]}'); at least two classes are needed"
        )
    return classes


_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", ""}


def _parse_mask(values, column, lines):
    mask = np.zeros(len(values), dtype=bool)
    for i, (value, line) in enumerate(zip(values, lines)):
        text = value.strip().lower()
        if text in _TRUE:
            mask[i] = True
        elif text not in _FALSE:
            raise _CLIError(
                f"column {column!r} must hold 1/0 (or true/false, yes/no); found {value!r} on line {line}"
            )
    return mask


def _parse_features(header, rows, lines, columns, path):
    """The float32 feature matrix of ``columns``; one clear error for text or gaps."""
    if not columns:
        raise _CLIError(f"{path!r} has no feature column left (only the target and excluded columns)")
    X = np.empty((len(rows), len(columns)), dtype=np.float64)
    non_numeric, missing = [], []
    for k, j in enumerate(columns):
        for i, row in enumerate(rows):
            cell = row[j].strip()
            try:
                value = float(cell)
            except ValueError:
                if cell == "":
                    missing.append((header[j], lines[i]))
                else:
                    non_numeric.append((header[j], cell, lines[i]))
                break
            if not math.isfinite(value):
                missing.append((header[j], lines[i]))
                break
            X[i, k] = value
    if non_numeric:
        names = ", ".join(repr(name) for name, _, _ in non_numeric)
        name, cell, line = non_numeric[0]
        raise _CLIError(
            f"feature column(s) {names} in {path!r} are not numeric (e.g. {cell!r} in {name!r} on line {line}); "
            "encode them as numbers first, or leave them out with --drop"
        )
    if missing:
        names = ", ".join(repr(name) for name, _ in missing)
        raise _CLIError(
            f"feature column(s) {names} in {path!r} have missing or non-finite values (first on line "
            f"{missing[0][1]}); fill them in first, or leave the column(s) out with --drop"
        )
    return X.astype(np.float32)


def _load_table(path, target, *, drop=(), trusted_column=None, clean_column=None):
    """Read a CSV into ``(X, y, trusted, y_clean, feature_names)``."""
    header, rows, lines = _read_csv(path)
    target_idx = _column_index(header, target, path)
    trusted_idx = None if trusted_column is None else _column_index(header, trusted_column, path, "trusted column")
    clean_idx = None if clean_column is None else _column_index(header, clean_column, path, "clean-label column")
    drop_idx = [_column_index(header, name, path, "column to drop") for name in dict.fromkeys(drop)]
    special = [j for j in (target_idx, trusted_idx, clean_idx, *drop_idx) if j is not None]
    if len(set(special)) != len(special):
        raise _CLIError("the target, trusted, clean-label and --drop columns must all be different columns")
    trusted = None if trusted_idx is None else _parse_mask([row[trusted_idx] for row in rows], trusted_column, lines)
    y_clean = None if clean_idx is None else _parse_labels([row[clean_idx] for row in rows], clean_column, lines)
    features = [j for j in range(len(header)) if j not in special]
    X = _parse_features(header, rows, lines, features, path)
    y = _parse_labels([row[target_idx] for row in rows], target, lines)
    _check_two_classes(y, target)
    return X, y, trusted, y_clean, [header[j] for j in features]


# --------------------------------------------------------------------------
# output helpers
# --------------------------------------------------------------------------
def _format_table(header, rows, align=None):
    """Plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    align = align or ["<"] + [">"] * (len(header) - 1)
    lines = ["  ".join(f"{str(h):{a}{w}}" for h, a, w in zip(header, align, widths)).rstrip()]
    lines += ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _format_matrix(T, labels):
    labels = [str(label) for label in labels]
    corner = "clean \\ noisy"
    rows = [[label, *(f"{v:.3f}" for v in row)] for label, row in zip(labels, T)]
    return _format_table([corner, *labels], rows, align=["<"] + [">"] * len(labels))


def _check_plot_path(path):
    """Fail before any training when the figure could not be written."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        raise _CLIError(f"--plot needs the optional package matplotlib: {_PLOT_HINT}") from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise _CLIError(f"--plot: folder {folder!r} does not exist")
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    supported = Figure().canvas.get_supported_filetypes()
    if extension not in supported:
        raise _CLIError(
            f"--plot: cannot tell the image format of {path!r}; end the name with one of "
            f"{', '.join('.' + e for e in sorted(supported))} (e.g. .png)"
        )


def _warning_notes(caught, prefix=""):
    notes = []
    for w in caught:
        text = f"{prefix}{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in notes:
            notes.append(text)
    return notes


@contextlib.contextmanager
def _torch_threads(threads):
    # main() may be called from Python (tests, notebooks): leave torch's
    # thread count as it was found.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_device(device):
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise _CLIError(f"--device: {device!r} is not a PyTorch device (use cpu, cuda or cuda:N)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise _CLIError(
                f"--device {device}: PyTorch sees no CUDA GPU on this machine "
                f"(torch {torch.__version__}, torch.cuda.is_available() is False); use --device cpu"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise _CLIError(f"--device {device}: there are only {torch.cuda.device_count()} CUDA device(s)")
    elif parsed.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise _CLIError(f"--device {device}: PyTorch's MPS backend is not available here; use --device cpu")
    elif parsed.type != "cpu":
        raise _CLIError(f"--device: {device!r} is not supported; use cpu, cuda or cuda:N")
    return device


# --------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------
class _Method:
    def __init__(self, name, what, build, *, needs_trusted=False, has_T=False, clean_labels=False):
        self.name = name
        self.what = what
        self.build = build
        self.needs_trusted = needs_trusted
        self.has_T = has_T
        self.clean_labels = clean_labels


def _methods():
    from . import (
        BackwardCorrectedClassifier,
        CrossEntropyClassifier,
        ForwardCorrectedClassifier,
        GLCClassifier,
        MetaLossCorrectionClassifier,
        RobustLossClassifier,
        TransitionMatrixEstimator,
    )

    def anchor():
        return TransitionMatrixEstimator(method="anchor", cv=3)

    return {
        m.name: m
        for m in [
            _Method(
                "clean",
                "CE on the clean labels (ceiling)",
                lambda kw: CrossEntropyClassifier(**kw),
                clean_labels=True,
            ),
            _Method(
                "ce",
                "cross-entropy, no correction",
                lambda kw: CrossEntropyClassifier(**kw),
            ),
            _Method(
                "forward",
                "forward, anchor T (Patrini 2017)",
                lambda kw: ForwardCorrectedClassifier(transition_matrix=anchor(), **kw),
                has_T=True,
            ),
            _Method(
                "backward",
                "backward, anchor T (Patrini 2017)",
                lambda kw: BackwardCorrectedClassifier(transition_matrix=anchor(), **kw),
                has_T=True,
            ),
            _Method(
                "glc",
                "GLC, gold T (Hendrycks 2018)",
                lambda kw: GLCClassifier(**kw),
                needs_trusted=True,
                has_T=True,
            ),
            _Method(
                "mlc",
                "Meta Loss Correction (Wang 2020)",
                lambda kw: MetaLossCorrectionClassifier(**kw),
                needs_trusted=True,
                has_T=True,
            ),
            _Method(
                "nce+rce",
                "Active Passive Loss (Ma 2020)",
                lambda kw: RobustLossClassifier(loss="nce+rce", **kw),
            ),
        ]
    }


def _choose_methods(text, n_trusted, notes):
    available = _methods()
    if text is None:
        names = list(_DEFAULT_METHODS)
        explicit = False
    else:
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        explicit = True
        if names == ["all"]:
            names, explicit = list(available), False
        if not names:
            raise _CLIError("--methods is empty; give a comma-separated list such as ce,forward,glc")
    unknown = [name for name in names if name not in available]
    if unknown:
        raise _CLIError(
            f"--methods: unknown method(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(available)} (or 'all')"
        )
    chosen = []
    for name in dict.fromkeys(names):
        method = available[name]
        if method.needs_trusted and n_trusted == 0:
            if explicit:
                raise _CLIError(
                    f"method {name!r} needs trusted rows; set --trusted-per-class to 1 or more"
                )
            notes.append(f"{name} left out: it needs trusted rows (--trusted-per-class is 0)")
            continue
        chosen.append(method)
    return chosen


def _load_compare_data(args):
    dataset = args.dataset
    if dataset.lower() == "digits":
        if args.target is not None:
            raise _CLIError("--target is only used with a CSV --dataset, not with the built-in digits")
        if args.drop:
            raise _CLIError("--drop is only used with a CSV --dataset, not with the built-in digits")
        from .datasets import load_digits_images

        X, y = load_digits_images()
        return "digits", X, y, True
    if not os.path.exists(dataset) and not dataset.lower().endswith(".csv"):
        raise _CLIError(f"--dataset: unknown data set {dataset!r}; give 'digits' or the path of a CSV file")
    if args.target is None:
        raise _CLIError(f"--dataset {dataset}: name the label column with --target COLUMN")
    X, y, _, _, _ = _load_table(dataset, args.target, drop=args.drop)
    return os.path.basename(dataset), X, y, False


def _split_and_corrupt(X, y, args, notes):
    """Train/test split, trusted rows and noisy train labels (encoded 0..C-1)."""
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state

    from .noise import corrupt_labels

    classes, y_enc = np.unique(y, return_inverse=True)
    n_classes = classes.size
    counts = np.bincount(y_enc, minlength=n_classes)
    if counts.min() < 2:
        raise _CLIError(
            f"class '{classes[counts.argmin()]}' has a single row; every class needs at least 2 rows "
            "to be split into train and test parts"
        )
    n_test = math.ceil(args.test_size * len(y_enc))
    if n_test < n_classes or len(y_enc) - n_test < n_classes:
        raise _CLIError(
            f"--test-size {args.test_size} gives {n_test} test and {len(y_enc) - n_test} train rows "
            f"for {n_classes} classes; each part needs at least one row per class"
        )
    rng = check_random_state(args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y_enc, test_size=args.test_size, stratify=y_enc, random_state=args.seed
    )
    T = _transition_matrix(args, n_classes)

    trusted = np.zeros(len(y_train), dtype=bool)
    if args.trusted_per_class:
        reduced = []
        for c in range(n_classes):
            members = np.flatnonzero(y_train == c)
            # Half of a class at most, so that every class keeps noisy rows to correct.
            k = min(args.trusted_per_class, members.size // 2)
            if k < args.trusted_per_class:
                reduced.append(str(classes[c]))
            trusted[rng.permutation(members)[:k]] = True
        if reduced:
            notes.append(
                f"class(es) {', '.join(reduced)} have too few training rows for "
                f"{args.trusted_per_class} trusted rows each; half of their rows were trusted instead"
            )
    y_noisy = y_train.copy()
    y_noisy[~trusted] = corrupt_labels(y_train[~trusted], T, classes=np.arange(n_classes), random_state=rng)
    missing = np.setdiff1d(np.arange(n_classes), y_noisy)
    if missing.size:
        raise _CLIError(
            f"after the noise no training row is labelled {', '.join(str(classes[c]) for c in missing)}; "
            "lower --rate or keep trusted rows with --trusted-per-class"
        )
    return classes, T, X_train, X_test, y_train, y_noisy, y_test, trusted


def _compare(args):
    if args.plot:
        _check_plot_path(args.plot)
    _check_device(args.device)
    with _torch_threads(args.threads):
        return _run_compare(args)


def _run_compare(args):
    from .noise import transition_matrix_error

    notes = []
    name, X, y, is_images = _load_compare_data(args)
    classes, T, X_train, X_test, y_train, y_noisy, y_test, trusted = _split_and_corrupt(X, y, args, notes)
    methods = _choose_methods(args.methods, int(trusted.sum()), notes)
    if not methods:
        raise _CLIError("no method left to run; choose some with --methods")

    module_name = args.module
    if not is_images:
        from sklearn.preprocessing import StandardScaler

        # Networks need features on a common scale; fitted on the train part only.
        scaler = StandardScaler().fit(X_train)
        X_train = scaler.transform(X_train).astype(np.float32)
        X_test = scaler.transform(X_test).astype(np.float32)
    from .modules import MLP, SmallCNN

    if module_name == "cnn":
        if math.isqrt(X.shape[1]) ** 2 != X.shape[1]:
            raise _CLIError(
                f"--module cnn needs square one-channel images; {X.shape[1]} features are not a square"
            )
        net_params = {"module": SmallCNN}
    else:
        net_params = {"module": MLP, "module__hidden_units": (args.hidden,)}
    net_params.update(
        max_epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        random_state=args.seed,
        device=args.device,
    )

    untrusted = ~trusted
    flipped = float(np.mean(y_noisy[untrusted] != y_train[untrusted])) if untrusted.any() else 0.0
    if not args.quiet:
        network = "small CNN" if module_name == "cnn" else f"MLP ({args.hidden} hidden units)"
        print(f"data:    {name}, {len(y)} rows, {X.shape[1]} features, {len(classes)} classes")
        print(f"split:   train {len(y_train)} rows ({int(trusted.sum())} trusted, with clean labels), "
              f"test {len(y_test)} rows (clean labels)")
        print(f"noise:   {args.noise}, rate {args.rate:g}, on the untrusted train labels "
              f"({100 * flipped:.1f}% of them changed)")
        print(f"network: {network}, {args.epochs} epochs, lr {args.lr:g}, device {args.device}, seed {args.seed}")
        print()

    from tqdm import tqdm

    results = []
    bar = tqdm(methods, desc="training", unit="method", file=sys.stderr, disable=args.quiet, leave=False)
    for method in bar:
        bar.set_postfix_str(method.name)
        estimator = method.build(dict(net_params))
        labels = y_train if method.clean_labels else y_noisy
        result = {"method": method.name, "accuracy": None, "T_error": None, "T": None, "what": method.what}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                estimator.fit(X_train, labels, trusted=trusted)
            except (ValueError, FloatingPointError, RuntimeError) as exc:
                # One method failing (a diverging loss, a singular estimated T)
                # is a result of the comparison, not a reason to lose the others.
                notes.append(f"{method.name} failed: {_message(exc)}")
            else:
                result["accuracy"] = float(np.mean(estimator.predict(X_test) == y_test))
                if method.has_T:
                    result["T"] = np.asarray(estimator.transition_matrix_)
                    result["T_error"] = transition_matrix_error(result["T"], T)
            result["fit_time"] = time.perf_counter() - start
        notes.extend(_warning_notes(caught, prefix=f"{method.name}: "))
        results.append(result)
    bar.close()

    rows = [
        [
            r["method"],
            "failed" if r["accuracy"] is None else f"{r['accuracy']:.3f}",
            "-" if r["T_error"] is None else f"{r['T_error']:.3f}",
            f"{r['fit_time']:.1f}",
            r["what"],
        ]
        for r in results
    ]
    print(
        _format_table(
            ["method", "test accuracy", "T error", "fit time (s)", "what"], rows, align=["<", ">", ">", ">", "<"]
        )
    )
    if not args.quiet:
        print()
        print("test accuracy: on the clean test labels. T error: mean over the clean classes of the L1")
        print("distance between the method's T and the true T (0 is perfect, 2 the worst).")
        for note in dict.fromkeys(notes):
            print(f"note: {note}")
    succeeded = [r for r in results if r["accuracy"] is not None]
    if not succeeded:
        print("sknoisy: every method failed; see the notes above", file=sys.stderr)
        return 1
    if args.plot:
        _plot_compare(args.plot, succeeded, T, classes, args)
        if not args.quiet:
            print(f"wrote {args.plot}")
    return 0


def _plot_compare(path, results, T, classes, args):
    from matplotlib.figure import Figure

    from .plotting import plot_accuracy_bars, plot_transition_matrix

    with_T = [r for r in results if r["T"] is not None]
    n_maps = 1 + len(with_T)
    n_classes = T.shape[0]
    side = 3.4 if n_classes <= 10 else 4.2
    fig = Figure(figsize=(max(8.0, side * n_maps), 3.8 + side + 0.6), layout="constrained")
    grid = fig.add_gridspec(2, n_maps, height_ratios=[3.8, side + 0.6])
    ax_bars = fig.add_subplot(grid[0, :])
    plot_accuracy_bars([{"method": r["method"], "accuracy": r["accuracy"]} for r in results], ax=ax_bars)
    ax_bars.set_ylabel("test accuracy (clean labels)")
    ax_bars.set_ylim(0, 1.05)
    ax_bars.set_title(f"{args.noise} noise, rate {args.rate:g}: accuracy on clean test labels")
    annotate = n_classes <= 10
    labels = [str(c) for c in classes]
    maps = [fig.add_subplot(grid[1, k]) for k in range(n_maps)]
    plot_transition_matrix(T, classes=labels, ax=maps[0], title="true T", annotate=annotate, colorbar=False)
    for ax, r in zip(maps[1:], with_T):
        plot_transition_matrix(
            r["T"],
            classes=labels,
            ax=ax,
            title=f"{r['method']}: T (error {r['T_error']:.3f})",
            annotate=annotate,
            colorbar=False,
        )
    for ax in maps:
        for text in ax.texts:
            text.set_fontsize(6 if n_classes > 6 else 9)
    fig.colorbar(maps[0].images[-1], ax=maps, fraction=0.02, pad=0.01, label="p(noisy | clean)")
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------
# estimate
# --------------------------------------------------------------------------
def _estimate(args):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .noise import empirical_transition_matrix, transition_matrix_error
    from .transition import TransitionMatrixEstimator

    if args.plot:
        _check_plot_path(args.plot)
    notes = []
    clean_column = args.clean_column
    if clean_column is None:
        header, _, _ = _read_csv(args.data)
        guess = f"{args.target}_clean"
        if guess in header and guess not in args.drop and guess != args.trusted_column:
            # The column 'sknoisy corrupt' writes: a feature made of the clean
            # labels would leak them into the estimate.
            clean_column = guess
            notes.append(
                f"column {guess!r} (as written by 'sknoisy corrupt') is taken as the clean labels: left out "
                "of the features and used only to score the estimate"
            )
    method = args.method or ("gold" if args.trusted_column else "anchor")
    if method in ("gold", "confusion") and args.trusted_column is None:
        raise _CLIError(
            f"--method {method} needs trusted rows: name the column that marks them with --trusted-column"
        )
    X, y, trusted, y_clean, _ = _load_table(
        args.data, args.target, drop=args.drop, trusted_column=args.trusted_column, clean_column=clean_column
    )
    if method in ("gold", "confusion") and not trusted.any():
        raise _CLIError(f"--method {method}: column {args.trusted_column!r} marks no row as trusted")

    estimator = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=args.seed)
    )
    tme = TransitionMatrixEstimator(estimator, method=method, cv=args.cv, random_state=args.seed)
    if not args.quiet:
        print(
            f"estimating T from {len(y)} rows ({0 if trusted is None else int(trusted.sum())} trusted), "
            f"method {method!r}, {args.cv}-fold out-of-fold probabilities...",
            file=sys.stderr,
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The network is run for a fixed budget on purpose; that it did not
        # converge says nothing the user can act on.
        warnings.simplefilter("ignore", ConvergenceWarning)
        tme.fit(X, y, trusted=trusted)
    notes.extend(_warning_notes(caught))
    T_hat = tme.transition_matrix_
    labels = [str(c) for c in tme.classes_]

    print(f"estimated T[i, j] = p(noisy label j | clean class i), method {method!r}:")
    print(_format_matrix(T_hat, labels))
    print()
    print("estimated share of wrong labels per clean class:")
    print(_format_table(["class", "p(label wrong)"], [[c, f"{1 - T_hat[i, i]:.3f}"] for i, c in enumerate(labels)]))
    T_true = None
    if y_clean is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            T_true = empirical_transition_matrix(y_clean, y, classes=tme.classes_)
        notes.extend(_warning_notes(caught))
        print()
        print(f"T of the labels in {args.target!r} against the clean labels in {clean_column!r}:")
        print(_format_matrix(T_true, labels))
        print(f"T error of the estimate (mean row L1 distance): {transition_matrix_error(T_hat, T_true):.3f}")
    if not args.quiet:
        for note in dict.fromkeys(notes):
            print(f"note: {note}")
    if args.plot:
        _plot_estimate(args.plot, T_hat, T_true, labels, method, clean_column)
        if not args.quiet:
            print(f"wrote {args.plot}")
    return 0


def _plot_estimate(path, T_hat, T_true, labels, method, clean_column):
    from matplotlib.figure import Figure

    from .plotting import plot_transition_matrices, plot_transition_matrix

    n_classes = len(labels)
    side = min(3.0 + 0.45 * n_classes, 10.0)
    if T_true is None:
        fig = Figure(figsize=(side + 1.0, side), layout="constrained")
        plot_transition_matrix(T_hat, classes=labels, ax=fig.add_subplot(), title=f"estimated T ({method})")
    else:
        fig = Figure(figsize=(2 * side + 1.5, side), layout="constrained")
        plot_transition_matrices(
            T_true,
            T_hat,
            classes=labels,
            titles=(f"T of the labels (vs {clean_column!r})", f"estimated T ({method})"),
            axes=fig.subplots(1, 2),
        )
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------
# corrupt
# --------------------------------------------------------------------------
def _corrupt(args):
    from .noise import corrupt_labels

    source = os.path.abspath(args.data)
    output = os.path.abspath(args.output)
    if not os.path.isfile(source):
        _read_csv(args.data)  # the same "no such file" / "is a directory" message
    if output == source or (os.path.exists(output) and os.path.samefile(output, source)):
        raise _CLIError(f"refusing to overwrite the input file {args.data!r}; write to another -o file")
    if os.path.isdir(output):
        raise _CLIError(f"-o {args.output!r} is a directory; give a file name")
    if os.path.exists(output) and not args.force:
        raise _CLIError(f"{args.output!r} already exists; pass --force to overwrite it")
    if not os.path.isdir(os.path.dirname(output)):
        raise _CLIError(f"-o: folder {os.path.dirname(output)!r} does not exist")

    header, rows, lines = _read_csv(args.data)
    target = _column_index(header, args.target, args.data)
    clean_name = args.clean_column or f"{args.target}_clean"
    if clean_name in header:
        raise _CLIError(
            f"{args.data!r} already has a column {clean_name!r}; choose another name with --clean-column"
        )
    raw = [row[target].strip() for row in rows]
    y = _parse_labels(raw, args.target, lines)
    classes = _check_two_classes(y, args.target)
    # Write a noisy label exactly as that class is spelled in the file.
    spelling = {}
    for value, text in zip(y.tolist(), raw):
        spelling.setdefault(value, text)
    T = _transition_matrix(args, classes.size)
    y_noisy = corrupt_labels(y, T, classes=classes, random_state=args.seed, exact=args.exact)

    out_header = header[: target + 1] + [clean_name] + header[target + 1 :]
    with open(output, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(out_header)
        for row, noisy in zip(rows, y_noisy.tolist()):
            writer.writerow(row[:target] + [spelling[noisy], row[target]] + row[target + 1 :])

    if not args.quiet:
        changed = int(np.sum(y_noisy != y))
        print(
            f"wrote {args.output}: {len(rows)} rows; {args.target!r} now holds the noisy labels "
            f"({changed} changed, {100 * changed / len(rows):.1f}%), {clean_name!r} the clean ones"
        )
        print(f"noise {args.noise}, rate {args.rate:g}, seed {args.seed}; T[i, j] = p(noisy label j | clean class i):")
        print(_format_matrix(T, [str(spelling[c]) for c in classes.tolist()]))
    return 0


# --------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------
def _transition_matrix(args, n_classes):
    from .noise import make_transition_matrix

    if args.noise == "asymmetric" and args.preset is None:
        raise _CLIError("--noise asymmetric needs --preset mnist or --preset cifar10 (10 classes)")
    return make_transition_matrix(args.noise, n_classes, args.rate, random_state=args.seed, preset=args.preset)


def _add_noise_options(parser, required):
    parser.add_argument(
        "--noise",
        type=_noise_kind,
        required=required,
        default=None if required else "flip_to_one",
        metavar="KIND",
        help="noise kind: uniform, symmetric (flip_random), flip_to_one, pair, asymmetric, structured",
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        required=required,
        default=None if required else 0.4,
        metavar="R",
        help="noise rate in [0, 1] (for 'structured', its delta)",
    )
    parser.add_argument(
        "--preset",
        choices=("mnist", "cifar10"),
        default=None,
        help="flips of --noise asymmetric for 10 classes (Patrini et al. 2017)",
    )


def build_parser():
    """The argument parser of the ``sknoisy`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        With the subcommands ``compare``, ``estimate`` and ``corrupt``.

    Examples
    --------
    >>> from sknoisy.cli import build_parser
    >>> args = build_parser().parse_args(["compare", "--rate", "0.2"])
    >>> args.command, args.dataset, args.noise, args.rate, args.trusted_per_class
    ('compare', 'digits', 'flip_to_one', 0.2, 10)
    """
    from . import __version__

    parser = _Parser(
        prog="sknoisy",
        description="Learning with noisy labels from the command line: compare correction methods, "
        "estimate the noise transition matrix T of your labels, or corrupt clean labels.",
        epilog="Run 'sknoisy COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"sknoisy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    compare = commands.add_parser(
        "compare",
        help="train correction methods on noisy labels and compare them on clean test labels",
        description="Split the data into train and test parts, keep --trusted-per-class clean rows in the "
        "train part, corrupt the other train labels with the chosen noise, train each method and report "
        "its accuracy on the clean test labels, the error of its transition matrix T and its fit time.",
        formatter_class=_HelpFormatter,
    )
    compare.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (scikit-learn's 8x8 digits, bundled) or the path of a CSV file (with --target)",
    )
    compare.add_argument("--target", metavar="COLUMN", help="label column of a CSV --dataset (taken as clean)")
    compare.add_argument(
        "--drop", metavar="COLUMN", action="append", default=[], help="CSV column to leave out (repeatable)"
    )
    _add_noise_options(compare, required=False)
    compare.add_argument(
        "--trusted-per-class",
        type=_int_at_least(0),
        default=10,
        metavar="K",
        help="train rows per class kept with their clean label, marked trusted (GLC and MLC need them)",
    )
    compare.add_argument(
        "--methods",
        default=None,
        metavar="LIST",
        help="comma-separated, from clean, ce, forward, backward, glc, mlc, nce+rce, or 'all' "
        f"(default: {','.join(_DEFAULT_METHODS)}; glc and mlc only with trusted rows)",
    )
    compare.add_argument("--test-size", type=_fraction, default=0.25, metavar="F", help="share of rows kept for testing")
    compare.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the split, the noise and the nets")
    compare.add_argument("--epochs", type=_int_at_least(1), default=30, help="training epochs of every network")
    compare.add_argument("--lr", type=_positive_float, default=1e-3, help="learning rate (Adam)")
    compare.add_argument("--batch-size", type=_int_at_least(1), default=64, help="mini-batch size")
    compare.add_argument(
        "--module", choices=("mlp", "cnn"), default="mlp", help="network: an MLP, or a small CNN (square images)"
    )
    compare.add_argument("--hidden", type=_int_at_least(1), default=256, help="hidden units of the MLP")
    compare.add_argument("--device", default="cpu", help="PyTorch device: cpu, cuda or cuda:N")
    compare.add_argument(
        "--threads",
        type=_int_at_least(1),
        default=1,
        help="PyTorch CPU threads; these small networks train fastest on one, more only help bigger ones",
    )
    compare.add_argument("--plot", metavar="FILE.png", help="write accuracy bars and true vs estimated T heat maps")
    compare.add_argument("--quiet", action="store_true", help="print only the results table")
    compare.set_defaults(handler=_compare)

    estimate = commands.add_parser(
        "estimate",
        help="estimate the noise transition matrix T of the labels in a CSV file",
        description="Estimate T[i, j] = p(noisy label j | clean class i) of the labels in --target from "
        "out-of-fold probabilities of a small network (scikit-learn's MLPClassifier on standardised "
        "features) and print it.",
        formatter_class=_HelpFormatter,
    )
    estimate.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    estimate.add_argument("--target", required=True, metavar="COLUMN", help="the (possibly noisy) label column")
    estimate.add_argument(
        "--trusted-column",
        metavar="COLUMN",
        help="1/0 column marking rows whose label is known to be correct (for --method gold or confusion)",
    )
    estimate.add_argument(
        "--clean-column",
        metavar="COLUMN",
        help="known clean labels, used only to score the estimate (never as a feature); "
        "'<target>_clean' is picked up by default when present",
    )
    estimate.add_argument(
        "--drop", metavar="COLUMN", action="append", default=[], help="column to leave out of the features (repeatable)"
    )
    estimate.add_argument(
        "--method",
        choices=("anchor", "dual_t", "gold", "confusion"),
        default=None,
        help="estimator of T (default: gold with --trusted-column, else anchor)",
    )
    estimate.add_argument("--cv", type=_int_at_least(2), default=3, help="folds for the out-of-fold probabilities")
    estimate.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the folds and the network")
    estimate.add_argument("--plot", metavar="FILE.png", help="write the heat map of T")
    estimate.add_argument("--quiet", action="store_true", help="print only the estimated T")
    estimate.set_defaults(handler=_estimate)

    corrupt = commands.add_parser(
        "corrupt",
        help="write a copy of a CSV file with noisy labels, keeping the clean ones in another column",
        description="Corrupt the labels in --target with a noise transition matrix and write a copy of the "
        "file; the clean labels go to a new column next to the target. The input is never overwritten.",
        formatter_class=_HelpFormatter,
    )
    corrupt.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    corrupt.add_argument("--target", required=True, metavar="COLUMN", help="the (clean) label column")
    _add_noise_options(corrupt, required=True)
    corrupt.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the file to write")
    corrupt.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the noise")
    corrupt.add_argument(
        "--clean-column", metavar="NAME", default=None, help="name of the clean-label column (default: '<target>_clean')"
    )
    corrupt.add_argument(
        "--exact", action="store_true", help="flip exactly round(rate * n) labels per class instead of drawing each"
    )
    corrupt.add_argument("--force", action="store_true", help="overwrite OUT.csv if it exists")
    corrupt.add_argument("--quiet", action="store_true", help="print nothing on success")
    corrupt.set_defaults(handler=_corrupt)
    return parser


def _message(exc):
    if isinstance(exc, KeyError) and exc.args:
        return f"missing {exc.args[0]!r}"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}"
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def main(argv=None):
    """Run the ``sknoisy`` command.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success; 2 after bad input, reported as one line
        ``sknoisy: error: ...`` on stderr.

    Examples
    --------
    >>> from sknoisy.cli import main
    >>> main(["corrupt", "no-such-file.csv", "--target", "y", "--noise", "symmetric",
    ...       "--rate", "0.2", "-o", "noisy.csv"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _CLIError("choose a command: compare, estimate or corrupt (see 'sknoisy --help')")
        return args.handler(args)
    except (_CLIError, ValueError, KeyError, ImportError, OSError) as exc:
        if os.environ.get("SKNOISY_TRACEBACK"):
            raise
        if isinstance(exc, BrokenPipeError):
            return 0
        print(f"sknoisy: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sknoisy: interrupted", file=sys.stderr)
        return 130
