"""``sknoisy estimate``: estimate the noise transition matrix T of the labels in a CSV file."""

import sys

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..noise import empirical_transition_matrix
from ..transition import DEFAULT_TRANSITION_METHOD, TRANSITION_METHODS, TransitionMatrixEstimator, transition_matrix_error
from ._errors import InputError, library_checks
from ._format import collect_warnings, format_matrix, format_table, print_notes
from ._io import load_dataset, read_csv
from ._options import add_command, add_output_options, check_plot_path, int_at_least, save_figure

__all__ = ["NAME", "register", "run"]

NAME = "estimate"

_TRUSTED_METHODS = [m.name for m in TRANSITION_METHODS.values() if m.needs_trusted]


def _default_method(args):
    return "gold" if args.trusted_column else DEFAULT_TRANSITION_METHOD


def register(commands):
    parser = add_command(
        commands,
        NAME,
        run,
        help="estimate the noise transition matrix T of the labels in a CSV file",
        description="Estimate T[i, j] = p(noisy label j | clean class i) of the labels in --target from "
        "out-of-fold probabilities of a small network (scikit-learn's MLPClassifier on standardised "
        "features) and print it.",
    )
    parser.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="the (possibly noisy) label column")
    parser.add_argument(
        "--trusted-column",
        metavar="COLUMN",
        help="1/0 column marking rows whose label is known to be correct "
        f"(for --method {' or '.join(_TRUSTED_METHODS)})",
    )
    parser.add_argument(
        "--clean-column",
        metavar="COLUMN",
        help="known clean labels, used only to score the estimate (never as a feature); "
        "'<target>_clean' is picked up by default when present",
    )
    parser.add_argument(
        "--drop", metavar="COLUMN", action="append", default=[], help="column to leave out of the features (repeatable)"
    )
    methods = "; ".join(
        f"{m.name}: {m.summary}{' (needs --trusted-column)' if m.needs_trusted else ''}"
        for m in TRANSITION_METHODS.values()
    )
    parser.add_argument(
        "--method",
        choices=tuple(TRANSITION_METHODS),
        default=None,
        metavar="METHOD",
        help=f"estimator of T. {methods}. Default: gold with --trusted-column, else {DEFAULT_TRANSITION_METHOD}",
    )
    parser.add_argument("--cv", type=int_at_least(2), default=3, help="folds for the out-of-fold probabilities")
    add_output_options(
        parser, seed="the folds and the network", quiet="print only the estimated T", plot="write the heat map of T"
    )


def _clean_column(args, header, notes):
    """The clean-label column: as given, or the one ``sknoisy corrupt`` writes."""
    if args.clean_column is not None:
        return args.clean_column
    guess = f"{args.target}_clean"
    if guess in header and guess not in args.drop and guess != args.trusted_column:
        # A feature made of the clean labels would leak them into the estimate.
        notes.append(
            f"column {guess!r} (as written by 'sknoisy corrupt') is taken as the clean labels: left out "
            "of the features and used only to score the estimate"
        )
        return guess
    return None


def run(args):
    if args.plot:
        check_plot_path(args.plot)
    method = args.method or _default_method(args)
    needs_trusted = TRANSITION_METHODS[method].needs_trusted
    if needs_trusted and args.trusted_column is None:
        raise InputError(f"--method {method} needs trusted rows: name the column that marks them with --trusted-column")
    notes = []
    table = read_csv(args.data)
    clean_column = _clean_column(args, table.header, notes)
    data = load_dataset(
        table, args.target, drop=args.drop, trusted_column=args.trusted_column, clean_column=clean_column
    )
    if needs_trusted and not data.trusted.any():
        raise InputError(f"--method {method}: column {args.trusted_column!r} marks no row as trusted")

    estimator = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=args.seed)
    )
    tme = TransitionMatrixEstimator(estimator, method=method, cv=args.cv, random_state=args.seed)
    n_trusted = 0 if data.trusted is None else int(data.trusted.sum())
    if not args.quiet:
        print(
            f"estimating T from {len(data.y)} rows ({n_trusted} trusted), "
            f"method {method!r}, {args.cv}-fold out-of-fold probabilities...",
            file=sys.stderr,
        )
    # The network is run for a fixed budget on purpose; that it did not
    # converge says nothing the user can act on.
    with collect_warnings(notes, ignore=[ConvergenceWarning]), library_checks(f"cannot estimate T of {args.data!r}"):
        tme.fit(data.X, data.y, trusted=data.trusted)
    T_hat = tme.transition_matrix_
    labels = [str(c) for c in tme.classes_]

    print(f"estimated T[i, j] = p(noisy label j | clean class i), method {method!r}:")
    print(format_matrix(T_hat, labels))
    print()
    print("estimated share of wrong labels per clean class:")
    print(format_table(["class", "p(label wrong)"], [[c, f"{1 - T_hat[i, i]:.3f}"] for i, c in enumerate(labels)]))
    T_true = None
    if data.y_clean is not None:
        with collect_warnings(notes), library_checks(f"clean-label column {clean_column!r}"):
            T_true = empirical_transition_matrix(data.y_clean, data.y, classes=tme.classes_)
        print()
        print(f"T of the labels in {args.target!r} against the clean labels in {clean_column!r}:")
        print(format_matrix(T_true, labels))
        print(f"T error of the estimate (mean row L1 distance): {transition_matrix_error(T_hat, T_true):.3f}")
    print_notes(notes, args.quiet)
    if args.plot:
        _plot(args.plot, T_hat, T_true, labels, method, clean_column)
        if not args.quiet:
            print(f"wrote {args.plot}")
    return 0


def _plot(path, T_hat, T_true, labels, method, clean_column):
    from matplotlib.figure import Figure

    from ..plotting import plot_transition_matrices, plot_transition_matrix

    side = min(3.0 + 0.45 * len(labels), 10.0)
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
    save_figure(fig, path)
