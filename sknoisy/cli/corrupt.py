"""``sknoisy corrupt``: write a copy of a CSV file with noisy labels, keeping the clean ones."""

import csv
import os

import numpy as np

from ..noise import INSTANCE_NOISE_KINDS, corrupt_labels
from ._errors import InputError, os_error_text
from ._format import format_matrix
from ._io import _parse_features, check_file, check_two_classes, parse_labels, read_csv
from ._options import add_command, add_noise_options, add_output_options, input_dependent_noise, transition_matrix

__all__ = ["NAME", "register", "run"]

NAME = "corrupt"


def register(commands):
    parser = add_command(
        commands,
        NAME,
        run,
        help="write a copy of a CSV file with noisy labels, keeping the clean ones in another column",
        description="Corrupt the labels in --target with a noise transition matrix, or with noise that depends "
        "on each row (--noise instance or annotator, which read every other column as a numeric feature), and "
        "write a copy of the file; the clean labels go to a new column next to the target. The input is never "
        "overwritten.",
    )
    parser.add_argument("data", metavar="DATA.csv", help="CSV file with a header row")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="the (clean) label column")
    add_noise_options(parser, required=True)
    parser.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the file to write")
    parser.add_argument(
        "--clean-column",
        metavar="NAME",
        default=None,
        help="name of the clean-label column (default: '<target>_clean')",
    )
    parser.add_argument(
        "--exact", action="store_true", help="flip exactly round(rate * n) labels per class instead of drawing each"
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT.csv if it exists")
    add_output_options(parser, seed="the noise", quiet="print nothing on success")


def _check_output(args):
    source = os.path.abspath(args.data)
    output = os.path.abspath(args.output)
    check_file(args.data)
    if output == source or (os.path.exists(output) and os.path.samefile(output, source)):
        raise InputError(f"refusing to overwrite the input file {args.data!r}; write to another -o file")
    if os.path.isdir(output):
        raise InputError(f"-o {args.output!r} is a directory; give a file name")
    if os.path.exists(output) and not args.force:
        raise InputError(f"{args.output!r} already exists; pass --force to overwrite it")
    if not os.path.isdir(os.path.dirname(output)):
        raise InputError(f"-o: folder {os.path.dirname(output)!r} does not exist")
    return output


def run(args):
    output = _check_output(args)
    table = read_csv(args.data)
    target = table.index(args.target)
    clean_name = args.clean_column or f"{args.target}_clean"
    if clean_name in table.header:
        raise InputError(f"{args.data!r} already has a column {clean_name!r}; choose another name with --clean-column")
    raw = [value.strip() for value in table.column(target)]
    y = parse_labels(raw, args.target, table.lines)
    classes = check_two_classes(y, args.target)
    # Write a noisy label exactly as that class is spelled in the file.
    spelling = {}
    for value, text in zip(y.tolist(), raw):
        spelling.setdefault(value, text)
    instance = args.noise in INSTANCE_NOISE_KINDS
    if instance:
        if args.exact:
            raise InputError(f"--exact is only used with the class-conditional kinds, not --noise {args.noise}")
        features = [j for j in range(len(table.header)) if j != target]
        X = _parse_features(table, features, droppable=False)
        y_noisy, T = input_dependent_noise(args, X, y, classes, args.seed)
    else:
        T = transition_matrix(args, classes.size)
        y_noisy = corrupt_labels(y, T, classes=classes, random_state=args.seed, exact=args.exact)

    header = table.header[: target + 1] + [clean_name] + table.header[target + 1 :]
    try:
        with open(output, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row, noisy in zip(table.rows, y_noisy.tolist()):
                writer.writerow(row[:target] + [spelling[noisy], row[target]] + row[target + 1 :])
    except OSError as exc:
        raise InputError(f"-o: cannot write {args.output!r}: {os_error_text(exc)}") from None

    if not args.quiet:
        n_rows = len(table.rows)
        changed = int(np.sum(y_noisy != y))
        print(
            f"wrote {args.output}: {n_rows} rows; {args.target!r} now holds the noisy labels "
            f"({changed} changed, {100 * changed / n_rows:.1f}%), {clean_name!r} the clean ones"
        )
        noise = f"noise {args.noise}, rate {args.rate:g}" + (
            f", randomness {args.randomness:g}" if args.randomness is not None else ""
        )
        if instance:
            print(f"{noise}, seed {args.seed}; each row has its own noise, whose mean over each class is")
            print("T[i, j] = mean over the rows of clean class i of p(noisy label j | row):")
        else:
            print(f"{noise}, seed {args.seed}; T[i, j] = p(noisy label j | clean class i):")
        print(format_matrix(T, [str(spelling[c]) for c in classes.tolist()]))
    return 0
