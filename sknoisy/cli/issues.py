"""``sknoisy issues``: rank the rows of a file by how likely their label is wrong."""

import csv
import sys

import numpy as np

from ._errors import InputError, library_checks, os_error_text
from ._format import collect_warnings, format_matrix, format_table, print_notes
from ._inputs import check_output_file, read_training
from ._options import add_command, add_network_options, check_device_option, int_at_least, torch_threads
from ._training import FitProgress, apply_scaler, fit_scaler, network, network_summary
# the --method choices: 'ce' and every other classifier method of the registry, as fit's
from .fit import _methods, add_data_options, check_trusted

__all__ = ["NAME", "register", "run"]

NAME = "issues"

#: The default route: out-of-fold plain cross-entropy probabilities of the given labels.
_NOISY_ROUTE = "ce"


def _transition_methods():
    from ..transition import TRANSITION_METHODS

    return TRANSITION_METHODS


def register(commands):
    methods = _methods()
    parser = add_command(
        commands,
        NAME,
        run,
        help="rank the rows of a file by how likely their label is wrong, with a suggested label",
        description="Score every row by the probability that its label is wrong, 1 - p(true class = label "
        "| x, label), from the probabilities of networks that did not train on the row (out of fold) and "
        "the noise transition matrix T, and write the rows most suspicious first. Rows marked by "
        "--trusted-column score 0.",
    )
    add_data_options(
        parser,
        "They train the networks, score 0 and give the gold estimate of T.",
        "not a feature; copied next to each row's number in the output",
    )
    parser.add_argument(
        "--method",
        choices=tuple(methods),
        default=_NOISY_ROUTE,
        metavar="METHOD",
        help=f"ce (the default): plain cross-entropy networks' out-of-fold probabilities of the given labels, "
        f"mapped to the true classes with the estimated T. Or a method that corrects the noise while "
        f"training: {', '.join(name for name in methods if name != _NOISY_ROUTE)} (each with its own T; "
        f"nce+rce with the estimated T)",
    )
    parser.add_argument(
        "--transition-method",
        choices=tuple(_transition_methods()),
        default=None,
        metavar="NAME",
        help=f"how T is estimated for ce and nce+rce: {', '.join(_transition_methods())} "
        "(default: gold with trusted rows, else confident_joint)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the ranked rows to write")
    parser.add_argument("--cv", type=int_at_least(2), default=5, help="folds of the out-of-fold probabilities")
    parser.add_argument("--top", type=int_at_least(0), default=10, help="rows shown in the summary")
    parser.add_argument("--force", action="store_true", help="overwrite OUT.csv if it exists")
    add_network_options(parser, epochs=20, hidden=64, seed="the folds and the networks")
    parser.add_argument("--quiet", action="store_true", help="print only the count of suspicious rows")


def _default_transition_method(data):
    if data.trusted is not None and data.trusted.any():
        return "gold"
    return "confident_joint"


def run(args):
    check_device_option(args.device)
    output = check_output_file(args.output, [args.data], args.force)
    data = read_training(
        args.data, target=args.target, trusted_column=args.trusted_column, id_column=args.id_column, drop=args.drop
    )
    check_trusted(args.method, data)
    t_method = args.transition_method or _default_transition_method(data)
    if _transition_methods()[t_method].needs_trusted and (data.trusted is None or not data.trusted.any()):
        raise InputError(f"--transition-method {t_method} needs trusted rows: name the column that marks them "
                         "with --trusted-column")
    with torch_threads(args.threads):
        return _run(args, data, output, t_method)


def _run(args, data, output, t_method):
    from ..label_issues import label_issue_scores_from_noisy, out_of_fold_label_issues, rank_label_issues

    notes = []
    X = apply_scaler(data.X, fit_scaler(data.X))
    module, net_params = network(args, X)
    trusted = data.trusted if data.trusted is not None and data.trusted.any() else None
    progress = [] if args.quiet else [("progress", FitProgress())]
    if not args.quiet:
        print(f"network: {network_summary(module, net_params)}, seed {args.seed}", file=sys.stderr)
        # one network per fold, and for the gold estimate one more on the untrusted rows
        extra = args.method == _NOISY_ROUTE and _transition_methods()[t_method].needs_trusted
        FitProgress.start(args.cv + int(extra))

    with collect_warnings(notes), library_checks(f"cannot score the labels of {args.data!r}"):
        if args.method == _NOISY_ROUTE:
            # refit: the gold estimate reads the trusted rows' probabilities from the net fitted on the others
            refit = _transition_methods()[t_method].needs_trusted
            tme = _fit_transition(module, net_params, progress, t_method, args, X, data.y, trusted, refit=refit)
            T = tme.transition_matrix_
            scores, suggested = label_issue_scores_from_noisy(
                tme.oof_proba_, data.y, T, classes=tme.classes_, trusted=trusted
            )
            how = f"out-of-fold probabilities of plain cross-entropy networks, T by {t_method}"
        else:
            entry = _methods()[args.method]
            estimator = entry.estimator(
                module, **net_params, **entry.params, random_state=args.seed, callbacks=progress or None
            )
            given_T = None
            if "transition_matrix" not in estimator.get_params(deep=False):
                # a method without a noise model of its own gets the estimated one
                tme = _fit_transition(module, net_params, [], t_method, args, X, data.y, trusted, refit=False)
                given_T = tme.transition_matrix_
            result = out_of_fold_label_issues(
                estimator, X, data.y, trusted=trusted, transition_matrix=given_T, cv=args.cv,
                random_state=args.seed,
            )
            scores, suggested = result.scores, result.suggested
            T = given_T if given_T is not None else np.mean(result.transition_matrices, axis=0)
            how = f"out-of-fold probabilities of {args.method} networks" + (
                f", T by {t_method}" if given_T is not None else ", T of each fold's network"
            )
    order = rank_label_issues(scores)
    _write(output, args, data, order, scores, suggested)
    _summary(args, data, order, scores, suggested, T, how)
    print_notes(notes, args.quiet)
    return 0


def _fit_transition(module, net_params, progress, t_method, args, X, y, trusted, refit):
    from .._stage1 import stage1_net
    from ..base import CrossEntropyClassifier
    from ..transition import TransitionMatrixEstimator

    # Stage 1 as in the estimated-T recipes: plain cross-entropy, each net kept
    # at its epoch of best held-out noisy loss, so that it has not memorised
    # the noise when it predicts its held-out fold.
    plain = stage1_net(CrossEntropyClassifier(module, **net_params), random_state=args.seed)
    if progress:
        plain.set_params(callbacks=[*plain.callbacks, *progress])
    tme = TransitionMatrixEstimator(plain, method=t_method, cv=args.cv, refit=refit, random_state=args.seed)
    return tme.fit(X, y, trusted=trusted)


def _write(output, args, data, order, scores, suggested):
    id_header = [args.id_column] if args.id_column else []
    try:
        with open(output, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", *id_header, "given_label", "suggested_label", "score"])
            for i in order.tolist():
                ids = [data.ids[i]] if data.ids is not None else []
                writer.writerow([i, *ids, str(data.y[i]), str(suggested[i]), f"{scores[i]:.4f}"])
    except OSError as exc:
        raise InputError(f"-o: cannot write {args.output!r}: {os_error_text(exc)}") from None


def _summary(args, data, order, scores, suggested, T, how):
    n = len(scores)
    flagged = int(np.sum(scores > 0.5))
    print(
        f"{flagged} of {n} rows ({100 * flagged / n:.1f}%) look mislabelled (score > 0.5); the scores add up "
        f"to {scores.sum():.0f}, an estimate of the number of wrong labels. Wrote {args.output}, most "
        "suspicious first."
    )
    if args.quiet:
        return
    print(f"scores from {how}; row = position among the data rows, from 0")
    top = order[: args.top]
    if top.size:
        id_header = [args.id_column] if args.id_column else []
        rows = [
            [i, *([data.ids[i]] if data.ids is not None else []), data.y[i], suggested[i], f"{scores[i]:.3f}"]
            for i in top.tolist()
        ]
        print()
        print(format_table(["row", *id_header, "given label", "suggested", "score"], rows))
    classes = np.unique(data.y)
    print()
    print("noise transition matrix T[i, j] = p(given label j | true class i):")
    print(format_matrix(T, [str(c) for c in classes]))
