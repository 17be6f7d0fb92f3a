"""``sknoisy fit``: choose the method for your noisy labels, train it, say how good it is, and save it."""

import os
import re
import sys
from pathlib import Path

import numpy as np

from ._errors import InputError, library_checks, os_error_text
from ._format import collect_warnings, format_matrix, format_table, print_notes
from ._inputs import read_training, spec_of
from ._options import add_command, add_network_options, check_device_option, int_at_least, torch_threads
from ._training import FitProgress, apply_scaler, fit_scaler, network, network_summary

__all__ = ["NAME", "register", "run", "METADATA_KEY"]

NAME = "fit"

#: The key of the model folder's metadata under which ``fit`` describes its input.
METADATA_KEY = "sknoisy fit"


def _methods():
    """The classifier methods by name, from the classifier registry."""
    from .._classifier_registry import CLASSIFIER_METHODS

    return CLASSIFIER_METHODS


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
    parser.add_argument("--force", action="store_true", help="replace a model already saved in FOLDER")
    add_network_options(parser, epochs=20, hidden=64, seed="the folds and the networks")
    parser.add_argument("--quiet", action="store_true", help="print only the choice and the estimate of accuracy")


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
    enough = _has_enough_trusted(data, cv)
    return [m.name for m in _methods().values() if m.in_auto and (enough or not m.needs_trusted)]


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
    with torch_threads(args.threads):
        return _run(args, data, folder)


def _run(args, data, folder):
    from .._auto import AutoNoisyClassifier
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
        FitProgress.start(len(planned) * args.cv + 1)
        net_params["callbacks"] = [("progress", FitProgress())]
        print(f"training {', '.join(planned)}: {args.cv}-fold cross-validation, then the refit of the best on "
              "every row...", file=sys.stderr)

    methods = "auto" if args.method == "auto" else [args.method]
    auto = AutoNoisyClassifier(module, methods=methods, cv=args.cv, random_state=args.seed, **net_params)
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


#: The diagnostic column of ``cv_results_`` that estimates the clean accuracy through ``T``.
_CLEAN_ESTIMATE = "clean_accuracy_estimate"
#: The same through the least-noise anchor ``T``: the low end of the range printed without trusted rows.
_CLEAN_LOW = "clean_accuracy_low"


def _accuracy_estimate(auto):
    """``(kind, mean, std)``: what the search says about the chosen method's accuracy on true labels.

    ``kind`` is ``"trusted"`` (measured on trusted rows), ``"noise model"``
    (estimated from held-out noisy labels through the estimated T) or None
    (the search has no estimate of it).
    """
    i, results = auto.best_index_, auto.cv_results_
    if auto.trusted_selection_:
        return "trusted", float(results["mean_test_score"][i]), float(results["std_test_score"][i])
    key = f"mean_test_{_CLEAN_ESTIMATE}"
    if key in results and np.isfinite(results[key][i]):
        return "noise model", float(results[key][i]), float(results[f"std_test_{_CLEAN_ESTIMATE}"][i])
    return None, None, None


def _report(auto, n_trusted):
    """The honest estimate of the chosen method's quality (plain JSON, saved with the model)."""
    i = auto.best_index_
    results = auto.cv_results_
    kind, accuracy, std = _accuracy_estimate(auto)
    report = {
        "scoring": auto.scoring_,
        "score": float(results["mean_test_score"][i]),
        "score_std": float(results["std_test_score"][i]),
        "kind": kind,
        "n_methods": len(auto.methods_),
        "n_folds": sum(1 for key in results if re.fullmatch(r"split\d+_test_score", key)),
    }
    if kind is not None:
        report["accuracy"], report["std"] = accuracy, std
    low = results.get(f"mean_test_{_CLEAN_LOW}")
    if kind == "noise model" and low is not None and np.isfinite(low[i]):
        report["accuracy_low"] = float(low[i])
    if kind == "trusted":
        report["trusted_rows"] = n_trusted
    return report


def _print_report(args, auto, report):
    n_folds = report["n_folds"]
    if not args.quiet:
        results = auto.cv_results_
        rows = []
        for i in np.argsort(results["rank_test_score"], kind="stable"):
            score = results["mean_test_score"][i]
            rows.append([
                results["param_method"][i],
                "failed" if not np.isfinite(score) else f"{score:.4f}",
                "-" if not np.isfinite(score) else f"{results['std_test_score'][i]:.4f}",
                f"{results['mean_fit_time'][i]:.1f}",
            ])
        print()
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
    kind = report["kind"]
    optimistic = (
        f"; the best of {report['n_methods']} methods on these folds, so it may be slightly optimistic"
        if report["n_methods"] > 1 else ""
    )
    if kind == "trusted":
        print(
            f"estimated accuracy: {report['accuracy']:.3f} (+/- {report['std']:.3f} over {n_folds} folds), "
            f"measured on the {report['trusted_rows']} trusted rows by {n_folds}-fold cross-validation whose "
            f"test folds hold trusted rows only{optimistic}"
        )
    elif kind == "noise model" and not 0.0 <= report["accuracy"] <= 1.0:
        print(
            f"estimated accuracy: not available: the estimate through the noise model ({report['accuracy']:.3f}) "
            "falls outside [0, 1], so the estimated noise transition matrix T is too far off to say"
        )
    elif kind == "noise model":
        shown = report["accuracy"]
        low = report.get("accuracy_low")
        if low is not None and 0.0 <= low <= 1.0:
            low, high = sorted((low, shown))
            bounds = (
                f"; the noise model only places it between {low:.3f} (through T read at each class's single most "
                f"confident row: the least noise the networks allow) and {high:.3f} (through the estimated T, "
                "which sees more noise than there is where classes overlap). In benchmarks/results/own_data.md "
                "that range held the test accuracy in every run, and the estimate was 13 to 18 points too high. "
                "Mark rows checked by hand (--trusted-column) to measure it instead"
            )
        else:
            bounds = "; it was 13 to 18 points too high in benchmarks/results/own_data.md"
        print(
            f"estimated accuracy: {shown:.3f} (+/- {report['std']:.3f} over {n_folds} folds), an estimate from "
            "the noise model, not a measurement: no row is trusted, so the held-out noisy labels were corrected "
            f"through the estimated noise transition matrix T, and it is only as good as that T{bounds}"
        )
    else:
        print(
            "estimated accuracy: not available: no row is trusted (at least 2 of every class are needed), so "
            "no label is known to be right"
        )
    if kind != "trusted" and not args.quiet:
        print(f"(the methods were compared by {auto.scoring_}: {report['score']:.4f} for {auto.best_method_})")
