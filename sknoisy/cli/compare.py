"""``sknoisy compare``: train correction methods on noisy labels, score them on clean ones."""

import math
import os
import sys
import time
import typing

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from ..noise import INSTANCE_NOISE_KINDS, corrupt_labels
from ..transition import DEFAULT_TRANSITION_METHOD, TransitionMatrixEstimator, transition_matrix_error
from ._errors import InputError, one_line
from ._format import collect_warnings, format_table, print_notes
from ._io import load_dataset, read_csv
from ._options import (
    add_command,
    add_network_options,
    add_noise_options,
    add_output_options,
    check_device_option,
    check_plot_path,
    fraction,
    input_dependent_noise,
    int_at_least,
    save_figure,
    torch_threads,
    transition_matrix,
)

__all__ = ["NAME", "register", "run"]

NAME = "compare"


class _Method(typing.NamedTuple):
    """One row of the comparison: a method of the classifier registry, or the clean-label ceiling."""

    name: str
    what: str
    estimator: type
    params: typing.Mapping
    needs_trusted: bool = False
    clean_labels: bool = False  # trained on the clean labels: the ceiling

    def build(self, net_params):
        own = {name: clone(value, safe=False) for name, value in self.params.items()}
        return self.estimator(**own, **net_params)


#: The row trained on the clean labels, beside the registry's methods.
_CEILING = "clean"


def _methods():
    """The rows ``--methods`` can name: the ceiling, then every method of the classifier registry.

    A method that needs T before training (it takes one and does not learn
    its own) gets the library's default estimate, from 3 folds to stay quick.
    """
    from .._classifier_registry import CLASSIFIER_METHODS
    from ..base import CrossEntropyClassifier

    rows = {_CEILING: _Method(_CEILING, "CE on the clean labels (ceiling)", CrossEntropyClassifier, {},
                              clean_labels=True)}
    for m in CLASSIFIER_METHODS.values():
        params = dict(m.params)
        if m.takes_transition_matrix and not m.learns_transition_matrix:
            params["transition_matrix"] = TransitionMatrixEstimator(method=DEFAULT_TRANSITION_METHOD, cv=3)
        rows[m.name] = _Method(m.name, m.description, m.estimator, params, needs_trusted=m.needs_trusted)
    return rows


def _default_methods():
    """The ceiling and every method ``methods='auto'`` tries."""
    from .._classifier_registry import CLASSIFIER_METHODS

    return (_CEILING, *(m.name for m in CLASSIFIER_METHODS.values() if m.in_auto))


def register(commands):
    parser = add_command(
        commands,
        NAME,
        run,
        help="train correction methods on noisy labels and compare them on clean test labels",
        description="Split the data into train and test parts, keep --trusted-per-class clean rows in the "
        "train part, corrupt the other train labels with the chosen noise, train each method and report "
        "its accuracy on the clean test labels, the error of its transition matrix T and its fit time.",
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (scikit-learn's 8x8 digits, bundled) or the path of a CSV file (with --target)",
    )
    parser.add_argument("--target", metavar="COLUMN", help="label column of a CSV --dataset (taken as clean)")
    parser.add_argument(
        "--drop", metavar="COLUMN", action="append", default=[], help="CSV column to leave out (repeatable)"
    )
    add_noise_options(parser, required=False)
    parser.add_argument(
        "--trusted-per-class",
        type=int_at_least(0),
        default=10,
        metavar="K",
        help="train rows per class kept with their clean label, marked trusted (GLC and MLC need them)",
    )
    methods = _methods()
    needing = " and ".join(m.name for m in methods.values() if m.needs_trusted)
    parser.add_argument(
        "--methods",
        default=None,
        metavar="LIST",
        help=f"comma-separated, from {', '.join(methods)}, or 'all' "
        f"(default: {','.join(_default_methods())}; {needing} only with trusted rows)",
    )
    parser.add_argument("--test-size", type=fraction, default=0.25, metavar="F", help="share of rows kept for testing")
    add_network_options(parser, epochs=30, hidden=256, batch_size=64, choose_module=True)
    add_output_options(
        parser,
        seed="the split, the noise and the nets",
        quiet="print only the results table",
        plot="write accuracy bars and true vs estimated T heat maps",
    )


# --------------------------------------------------------------------------
# checks of the options
# --------------------------------------------------------------------------
def _choose_methods(text, n_trusted, notes, n_classes=None):
    from .._classifier_registry import CLASSIFIER_METHODS

    methods = _methods()
    if text is None:
        names, explicit = list(_default_methods()), False
    else:
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        explicit = True
        if names == ["all"]:
            names, explicit = list(methods), False
        if not names:
            raise InputError("--methods is empty; give a comma-separated list such as ce,forward,glc")
    unknown = [name for name in names if name not in methods]
    if unknown:
        raise InputError(
            f"--methods: unknown method(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(methods)} (or 'all')"
        )
    chosen = []
    for name in dict.fromkeys(names):
        method = methods[name]
        if method.needs_trusted and n_trusted == 0:
            if explicit:
                raise InputError(f"method {name!r} needs trusted rows; set --trusted-per-class to 1 or more")
            notes.append(f"{name} left out: it needs trusted rows (--trusted-per-class is 0)")
            continue
        entry = CLASSIFIER_METHODS.get(name)
        if text is None and entry is not None and not entry.tried_by_auto(n_classes):
            notes.append(f"{name} left out: auto tries it up to {entry.auto_max_classes} classes ({n_classes} here; "
                         "its cost grows with the square of the classes); name it in --methods to run it")
            continue
        chosen.append(method)
    if not chosen:
        raise InputError("no method left to run; choose some with --methods")
    return chosen


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def _load_data(args):
    """``(name, X, y, is_images)`` of --dataset."""
    dataset = args.dataset
    if dataset.lower() == "digits":
        for given, option in ((args.target is not None, "--target"), (args.drop, "--drop")):
            if given:
                raise InputError(f"{option} is only used with a CSV --dataset, not with the built-in digits")
        from ..datasets import load_digits_images

        X, y = load_digits_images()
        return "digits", X, y, True
    if not os.path.exists(dataset) and not dataset.lower().endswith(".csv"):
        raise InputError(f"--dataset: unknown data set {dataset!r}; give 'digits' or the path of a CSV file")
    if args.target is None:
        raise InputError(f"--dataset {dataset}: name the label column with --target COLUMN")
    data = load_dataset(read_csv(dataset), args.target, drop=args.drop)
    return os.path.basename(dataset), data.X, data.y, False


def _split_and_corrupt(X, y, args, notes):
    """Train/test split, trusted rows and noisy train labels (encoded 0..C-1)."""
    classes, y_enc = np.unique(y, return_inverse=True)
    n_classes = classes.size
    counts = np.bincount(y_enc, minlength=n_classes)
    if counts.min() < 2:
        raise InputError(
            f"class '{classes[counts.argmin()]}' has a single row; every class needs at least 2 rows "
            "to be split into train and test parts"
        )
    n_test = math.ceil(args.test_size * len(y_enc))
    if n_test < n_classes or len(y_enc) - n_test < n_classes:
        raise InputError(
            f"--test-size {args.test_size} gives {n_test} test and {len(y_enc) - n_test} train rows "
            f"for {n_classes} classes; each part needs at least one row per class"
        )
    instance = args.noise in INSTANCE_NOISE_KINDS
    T = None if instance else transition_matrix(args, n_classes)  # checked before any work
    rng = check_random_state(args.seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y_enc, test_size=args.test_size, stratify=y_enc, random_state=args.seed
    )

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
    if instance:
        y_noisy[~trusted], T = input_dependent_noise(
            args, X_train[~trusted], y_train[~trusted], np.arange(n_classes), rng
        )
    else:
        y_noisy[~trusted] = corrupt_labels(y_train[~trusted], T, classes=np.arange(n_classes), random_state=rng)
    missing = np.setdiff1d(np.arange(n_classes), y_noisy)
    if missing.size:
        raise InputError(
            f"after the noise no training row is labelled {', '.join(str(classes[c]) for c in missing)}; "
            "lower --rate or keep trusted rows with --trusted-per-class"
        )
    return classes, T, X_train, X_test, y_train, y_noisy, y_test, trusted


def _net_params(args, n_features):
    from ..modules import MLP, SmallCNN

    if args.module == "cnn":
        if math.isqrt(n_features) ** 2 != n_features:
            raise InputError(f"--module cnn needs square one-channel images; {n_features} features are not a square")
        params = {"module": SmallCNN}
    else:
        params = {"module": MLP, "module__hidden_units": (args.hidden,)}
    params.update(
        max_epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, random_state=args.seed, device=args.device
    )
    return params


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------
def run(args):
    if args.plot:
        check_plot_path(args.plot)
    check_device_option(args.device)
    with torch_threads(args.threads):
        return _run(args)


def _run(args):
    notes = []
    name, X, y, is_images = _load_data(args)
    classes, T, X_train, X_test, y_train, y_noisy, y_test, trusted = _split_and_corrupt(X, y, args, notes)
    methods = _choose_methods(args.methods, int(trusted.sum()), notes, n_classes=len(classes))
    net_params = _net_params(args, X.shape[1])
    if not is_images:
        # Networks need features on a common scale; fitted on the train part only.
        scaler = StandardScaler().fit(X_train)
        X_train = scaler.transform(X_train).astype(np.float32)
        X_test = scaler.transform(X_test).astype(np.float32)

    if not args.quiet:
        untrusted = ~trusted
        flipped = float(np.mean(y_noisy[untrusted] != y_train[untrusted])) if untrusted.any() else 0.0
        network = "small CNN" if args.module == "cnn" else f"MLP ({args.hidden} hidden units)"
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
        labels = y_train if method.clean_labels else y_noisy
        results.append(_fit_one(method, net_params, (X_train, labels, trusted), (X_test, y_test), T, notes))
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
    header = ["method", "test accuracy", "T error", "fit time (s)", "what"]
    print(format_table(header, rows, align=["<", ">", ">", ">", "<"]))
    if not args.quiet:
        print()
        print("test accuracy: on the clean test labels. T error: mean over the clean classes of the L1")
        print("distance between the method's T and the true T (0 is perfect, 2 the worst).")
        if args.noise in INSTANCE_NOISE_KINDS:
            print(f"With --noise {args.noise} each row has its own noise: the true T is its mean over each class.")
    print_notes(notes, args.quiet)
    succeeded = [r for r in results if r["accuracy"] is not None]
    if not succeeded:
        print("sknoisy: every method failed; see the notes above", file=sys.stderr)
        return 1
    if args.plot:
        _plot(args.plot, succeeded, T, classes, args)
        if not args.quiet:
            print(f"wrote {args.plot}")
    return 0


def _fit_one(method, net_params, train, test, T, notes):
    """Fit one method and score it; a method that fails is a result, noted, not an error."""
    (X_train, labels, trusted), (X_test, y_test) = train, test
    estimator = method.build(dict(net_params))
    result = {"method": method.name, "accuracy": None, "T_error": None, "T": None, "what": method.what}
    with collect_warnings(notes, prefix=f"{method.name}: "):
        start = time.perf_counter()
        try:
            estimator.fit(X_train, labels, trusted=trusted)
        except (ValueError, FloatingPointError, RuntimeError) as exc:
            # A diverging loss or a singular estimated T ends this method
            # only; the comparison goes on with the others.
            if os.environ.get("SKNOISY_TRACEBACK"):
                raise
            notes.append(f"{method.name} failed: {one_line(exc)}")
        else:
            result["accuracy"] = float(np.mean(estimator.predict(X_test) == y_test))
            T_fitted = getattr(estimator, "transition_matrix_", None)
            if T_fitted is not None:
                result["T"] = np.asarray(T_fitted)
                result["T_error"] = transition_matrix_error(result["T"], T)
        result["fit_time"] = time.perf_counter() - start
    return result


def _plot(path, results, T, classes, args):
    from matplotlib.figure import Figure

    from ..plotting import plot_accuracy_bars, plot_transition_matrix

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
        title = f"{r['method']}: T (error {r['T_error']:.3f})"
        plot_transition_matrix(r["T"], classes=labels, ax=ax, title=title, annotate=annotate, colorbar=False)
    for ax in maps:
        for text in ax.texts:
            text.set_fontsize(6 if n_classes > 6 else 9)
    fig.colorbar(maps[0].images[-1], ax=maps, fraction=0.02, pad=0.01, label="p(noisy | clean)")
    save_figure(fig, path)
