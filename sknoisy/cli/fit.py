"""``sknoisy fit``: choose the method for your noisy labels, train it, say how good it is, and save it."""

import os
import re
import sys
from pathlib import Path

import numpy as np

from ._errors import InputError, library_checks, os_error_text
from ._format import collect_warnings, format_matrix, format_table, print_notes
from ._inputs import check_output_file, is_npz, read_training, spec_of, write_audit_copy
from ._options import add_command, add_network_options, check_device_option, int_at_least, torch_threads
from ._training import FitProgress, apply_scaler, fit_scaler, network, network_summary

__all__ = ["NAME", "register", "run", "METADATA_KEY"]

NAME = "fit"

#: The key of the model folder's metadata under which ``fit`` describes its input.
METADATA_KEY = "sknoisy fit"
#: The column (or .npz array) --audit adds, marking the rows to check by hand.
AUDIT_COLUMN = "to_check"
#: The sample fit suggests checking: a Wilson interval from it is +/- 4 to 7 points.
_AUDIT_ROWS = 200


def _methods():
    """The classifier methods by name, from the classifier registry."""
    from .._classifier_registry import CLASSIFIER_METHODS

    return CLASSIFIER_METHODS


def _holdout_min_rows():
    from .._auto import HOLDOUT_MIN_ROWS

    return HOLDOUT_MIN_ROWS


def add_data_options(parser, what, id_help):
    """The training data options ``fit`` and ``issues`` share."""
    parser.add_argument("data", metavar="DATA", help="a CSV file with a header row, or an .npz file of arrays "
                        "X (rows of features, or images (n, h, w) or (n, c, h, w)) and y")
    parser.add_argument(
        "--target", metavar="COLUMN", help="the (noisy) label column of a CSV file (required); for .npz, the "
        "label array (default: y)"
    )
    parser.add_argument(
        "--trusted-column",
        metavar="COLUMN",
        help="1/0 (true/false, yes/no) column marking the rows whose label was checked by hand; for .npz, a "
        f"boolean array (default: 'trusted' when the file has one). {what}",
    )
    parser.add_argument(
        "--id-column", metavar="COLUMN", help=f"a column (for .npz, an array) of row identifiers: {id_help}"
    )
    parser.add_argument(
        "--drop", metavar="COLUMN", action="append", default=[], help="CSV column to leave out (repeatable)"
    )


def register(commands):
    methods = _methods()
    parser = add_command(
        commands,
        NAME,
        run,
        help="train a model on your noisy labels (the method chosen for you), report its accuracy and save it",
        description="Train on labels that may be wrong. With --method auto (the default) every applicable "
        "method is tried and scored by cross-validation that never rewards fitting the noise: on the rows "
        "marked by --trusted-column when there are enough (at least 2 per class), otherwise by the "
        "accuracy on held-out noisy labels. The best is refitted on every row and saved "
        "in a folder that 'sknoisy predict' reads. A named method is cross-validated the same way, for its "
        "estimate of accuracy.",
    )
    add_data_options(
        parser,
        "Trusted rows score the methods honestly; GLC and MLC need them.",
        "not a feature, and 'sknoisy predict' ignores it in new data",
    )
    listed = "; ".join(
        f"{m.name}: {m.description}{' (needs trusted rows)' if m.needs_trusted else ''}" for m in methods.values()
    )
    parser.add_argument(
        "--method",
        choices=("auto", *methods),
        default="auto",
        metavar="METHOD",
        help=f"auto: try {', '.join(m.name for m in methods.values() if m.in_auto)} (those the data allow) "
        f"and keep the best; or one of: {listed}",
    )
    parser.add_argument("-o", "--output", required=True, metavar="FOLDER", help="the model folder to write")
    parser.add_argument(
        "--cv",
        type=int_at_least(2),
        default=5,
        help="cross-validation folds that choose the method and estimate its accuracy (3 are about 1.6 times "
        "faster, but chose worse methods in benchmarks/results/own_data.md)",
    )
    parser.add_argument(
        "--selection",
        choices=("auto", "cv", "holdout"),
        default="auto",
        help="how the methods are compared: cv (cross-validation over --cv folds), holdout (one held-out split, "
        "each method trained once: about --cv times faster; with trusted rows half of them are scored) or auto "
        f"(holdout from {_holdout_min_rows():,} rows on, cv below)",
    )
    parser.add_argument("--force", action="store_true", help="replace a model already saved in FOLDER (and an "
                        "existing --audit-file)")
    parser.add_argument(
        "--audit", type=int_at_least(1), metavar="N",
        help=f"also write a copy of DATA with a column '{AUDIT_COLUMN}' marking N random rows (and the rows "
        "already trusted) to check by hand: correct their labels where wrong, then fit that copy with "
        f"--trusted-column {AUDIT_COLUMN} to measure the accuracy (about {_AUDIT_ROWS} rows give +/- 4 to 7 points)",
    )
    parser.add_argument(
        "--audit-file", metavar="FILE",
        help="where --audit writes its copy (default: next to DATA, named <DATA name>-audit.csv or .npz)",
    )
    add_network_options(parser, epochs=20, hidden=64, seed="the folds and the networks")
    parser.add_argument("--quiet", action="store_true", help="print only the choice and the accuracy line")


# --------------------------------------------------------------------------
# checks before any training
# --------------------------------------------------------------------------
def check_model_folder(path, force):
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"-o {path!r} is a file; give the name of a folder for the model")
    if folder.is_dir():
        names = sorted(p.name for p in folder.iterdir())
        if "manifest.json" in names and not force:
            raise InputError(f"{path!r} already holds a saved model; pass --force to replace it")
        if names and "manifest.json" not in names:
            raise InputError(f"-o {path!r} is a folder of other files; give a new or empty folder")
    elif not folder.absolute().parent.is_dir():
        raise InputError(f"-o: folder {str(folder.absolute().parent)!r} does not exist")
    return folder


def check_trusted(method, data, option="--method"):
    """A method that needs trusted rows gets enough of them, or one clear line."""
    from .._auto import MIN_TRUSTED_PER_CLASS

    entry = _methods().get(method)
    if entry is None or not entry.needs_trusted:
        return
    if data.trusted is None:
        raise InputError(f"{option} {method} needs trusted rows: name the column that marks them with "
                         "--trusted-column")
    classes, y_enc = np.unique(data.y, return_inverse=True)
    counts = np.bincount(y_enc[data.trusted], minlength=classes.size)
    short = [f"{classes[k]!s} ({counts[k]})" for k in np.flatnonzero(counts < MIN_TRUSTED_PER_CLASS)]
    if short:
        raise InputError(
            f"{option} {method} needs at least {MIN_TRUSTED_PER_CLASS} trusted rows of every class; "
            f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''} have fewer"
        )


def _has_enough_trusted(data, cv):
    from .._auto import MIN_TRUSTED_PER_CLASS

    if data.trusted is None or data.trusted.sum() < cv:
        return False
    classes, y_enc = np.unique(data.y, return_inverse=True)
    return bool(np.bincount(y_enc[data.trusted], minlength=classes.size).min() >= MIN_TRUSTED_PER_CLASS)


def _planned_methods(method, data, cv):
    """The methods ``fit`` will try (for the progress count; the estimator decides)."""
    if method != "auto":
        return [method]
    from .._classifier_registry import auto_method_names

    return auto_method_names(_has_enough_trusted(data, cv), n_classes=np.unique(data.y).size)


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------
def run(args):
    check_device_option(args.device)
    folder = check_model_folder(args.output, args.force)
    data = read_training(
        args.data, target=args.target, trusted_column=args.trusted_column, id_column=args.id_column, drop=args.drop
    )
    check_trusted(args.method, data)
    if args.audit_file is not None and args.audit is None:
        raise InputError("--audit-file names the copy --audit writes; give --audit N too")
    if args.audit is not None:
        _write_audit(args, data)
    with torch_threads(args.threads):
        return _run(args, data, folder)


def _write_audit(args, data):
    """The copy of the data with ``--audit`` random untrusted rows (and the trusted ones) marked to check."""
    source = Path(args.data)
    default = source.with_name(f"{source.stem}-audit{source.suffix or '.csv'}")
    output = check_output_file(args.audit_file or str(default), [args.data], args.force, option="--audit-file")
    n = len(data.y)
    trusted = np.zeros(n, dtype=bool) if data.trusted is None else data.trusted
    # a uniform sample of the rows not yet checked: their accuracy is the accuracy on the data, unbiased
    candidates = np.flatnonzero(~trusted)
    rng = np.random.RandomState(args.seed)
    sample = rng.choice(candidates, size=min(args.audit, candidates.size), replace=False)
    mark = trusted.copy()
    mark[sample] = True
    write_audit_copy(args.data, output, mark, AUDIT_COLUMN)
    print(
        f"wrote {output}: a copy of {args.data} with a column '{AUDIT_COLUMN}' = 1 on {sample.size} random rows"
        + (f" and the {int(trusted.sum())} rows already trusted" if trusted.any() else "")
        + ". Check the label of each marked row by hand and correct it where it is wrong; then "
        f"'sknoisy fit {output} --trusted-column {AUDIT_COLUMN}"
        + (f" --drop {data.trusted_column}" if data.trusted_column and not is_npz(args.data) else "")
        + " ...' measures the accuracy on them."
    )


def _run(args, data, folder):
    from .._auto import AutoNoisyClassifier, resolve_selection
    from ..persistence import save_model

    notes = []
    if data.trusted is not None and not data.trusted.any():
        notes.append(f"{data.trusted_column!r} marks no row as trusted: the model is trained and scored without "
                     "trusted rows")
    scaler = fit_scaler(data.X)
    X = apply_scaler(data.X, scaler)
    module, net_params = network(args, X)
    n_trusted = 0 if data.trusted is None else int(data.trusted.sum())
    if not args.quiet:
        classes = np.unique(data.y)
        print(f"data:    {args.data}, {len(data.y)} rows ({n_trusted} trusted), "
              f"{'x'.join(map(str, X.shape[1:]))} {'features' if X.ndim == 2 else 'images'}, "
              f"{classes.size} classes")
        print(f"network: {network_summary(module, net_params)}, seed {args.seed}")
        planned = _planned_methods(args.method, data, args.cv)
        selection = resolve_selection(args.selection, len(data.y))
        per_method = args.cv if selection == "cv" else 1
        FitProgress.start(len(planned) * per_method + 1, plan=planned, per_method=per_method)
        net_params["callbacks"] = [("progress", FitProgress())]
        how = f"{args.cv}-fold cross-validation" if selection == "cv" else "one held-out split"
        print(f"training {', '.join(planned)}: {how}, then the refit of the best on every row...", file=sys.stderr)

    methods = "auto" if args.method == "auto" else [args.method]
    auto = AutoNoisyClassifier(
        module, methods=methods, cv=args.cv, selection=args.selection, random_state=args.seed, **net_params
    )
    with collect_warnings(notes), library_checks(f"cannot train on {args.data!r}"):
        auto.fit(X, data.y, trusted=data.trusted)
    best = auto.best_estimator_
    if "callbacks" in net_params:
        best.set_params(callbacks=None)  # the progress lines are no part of the model

    report = _report(auto, n_trusted)
    _print_report(args, auto, report)
    metadata = {
        METADATA_KEY: {
            "input": spec_of(data, args.target, args.id_column),
            "scaler": scaler,
            "method": auto.best_method_,
            "methods_tried": list(auto.methods_),
            "cv_scores": {
                str(m): [float(mean), float(std)]
                for m, mean, std in zip(auto.cv_results_["param_method"], auto.cv_results_["mean_test_score"],
                                        auto.cv_results_["std_test_score"])
                if np.isfinite(mean)
            },
            "estimate": report,
            "rows": int(len(data.y)),
            "trusted_rows": n_trusted,
            "data": os.path.basename(args.data),
        }
    }
    try:
        save_model(best, folder, metadata=metadata)
    except OSError as exc:
        raise InputError(f"-o: cannot write the model into {args.output!r}: {os_error_text(exc)}") from None
    if not args.quiet:
        print(f"saved the model in {args.output}; predict with: sknoisy predict {args.output} NEW_DATA "
              "-o predictions.csv")
    print_notes(notes, args.quiet)
    return 0


#: Half-width of the interval below which fit prints a point estimate of the accuracy too: above it, the
#: single number would be off by more than this as often as not.
_POINT_HALF_WIDTH = 0.05
#: Half-width above which fit says the checked rows are too few to measure anything useful.
_USEFUL_HALF_WIDTH = 0.10

def _report(auto, n_trusted):
    """What the search measured of the chosen method's accuracy (plain JSON, saved with the model)."""
    i = auto.best_index_
    results = auto.cv_results_
    report = {
        "scoring": auto.scoring_,
        "score": float(results["mean_test_score"][i]),
        "score_std": float(results["std_test_score"][i]),
        "n_methods": len(auto.methods_),
        "n_folds": sum(1 for key in results if re.fullmatch(r"split\d+_test_score", key)),
        "selection": auto.selection_,
        "kind": None,
    }
    measured = getattr(auto, "trusted_accuracy_", None)
    if measured is not None:
        report.update(
            kind="trusted", trusted_rows=n_trusted, checked_rows_scored=measured.n_rows, correct=measured.correct,
            accuracy=measured.accuracy, low=measured.low, high=measured.high, confidence=measured.confidence,
        )
    return report


def _accuracy_line(report):
    """The ``accuracy: ...`` line: measured on checked rows with its interval, or why there is none."""
    if report["kind"] != "trusted":
        return (
            "accuracy: not measured: no row is checked by hand (at least 2 of every class are needed), so no "
            "label is known to be right, and an estimate through the estimated noise model would be biased upward "
            "(it counts the model's own mistakes as label noise). To measure it, check a random sample of rows: "
            f"rerun with --audit {_AUDIT_ROWS}, check the rows it marks, then fit with --trusted-column "
            "(200 checked rows measure it to about +/- 4 to 7 points)"
        )
    low, high, n = report["low"], report["high"], report["checked_rows_scored"]
    half = (high - low) / 2
    how = (
        f"{100 * report['confidence']:.1f}% interval from {report['correct']} of {n} checked rows predicted right by "
        "networks that did not train on them"
        + (f", widened for the choice of the best of {report['n_methods']} methods on the same rows"
           if report["n_methods"] > 1 else "")
    )
    if half <= _POINT_HALF_WIDTH:
        return f"accuracy: {report['accuracy']:.3f}, between {low:.3f} and {high:.3f} ({how})"
    line = f"accuracy: between {low:.3f} and {high:.3f} ({how})"
    if half > _USEFUL_HALF_WIDTH:
        line += (
            f"; {n} checked rows are too few to measure it closely: check more rows by hand (about {_AUDIT_ROWS} "
            "narrow it to +/- 4 to 7 points)"
        )
    return line


def _print_report(args, auto, report):
    n_folds = report["n_folds"]
    if not args.quiet:
        results = auto.cv_results_
        # One split has no spread to report; a 0.0000 there would read as a measured certainty.
        one_split = report["selection"] == "holdout"
        rows = []
        for i in np.argsort(results["rank_test_score"], kind="stable"):
            score = results["mean_test_score"][i]
            rows.append([
                results["param_method"][i],
                "failed" if not np.isfinite(score) else f"{score:.4f}",
                "-" if one_split or not np.isfinite(score) else f"{results['std_test_score'][i]:.4f}",
                f"{results['mean_fit_time'][i]:.1f}",
            ])
        print()
        if one_split:
            print(f"one held-out split (selection holdout: each method trained once), score = {auto.scoring_}:")
        else:
            print(f"{n_folds}-fold cross-validation, score = {auto.scoring_}:")
        print(format_table(["method", "score", "std", "fit (s)"], rows))
        for name, reason in auto.skipped_methods_.items():
            print(f"not tried: {name} ({reason})")
        if auto.transition_matrix_ is not None:
            print()
            own = getattr(auto.best_estimator_, "transition_matrix_", None) is not None
            whose = f"of {auto.best_method_}" if own else "as estimated for the methods that use one"
            print(f"noise transition matrix T[i, j] = p(given label j | true class i) {whose}:")
            print(format_matrix(auto.transition_matrix_, [str(c) for c in auto.classes_]))
        print()
    print(f"{'chose' if len(auto.methods_) > 1 else 'method'}: {auto.best_method_}")
    print(_accuracy_line(report))
    kind = report["kind"]
    if kind != "trusted" and not args.quiet:
        print(
            f"(the methods were compared by {auto.scoring_}: {report['score']:.4f} for {auto.best_method_}; "
            f"chosen by {auto.choice_rule_})"
        )
