"""The ``sknoisy`` command: train on your noisy labels, find the wrong ones, or study the methods.

For your own data (labels that may be wrong, perhaps a column saying which
rows someone checked)::

    sknoisy fit data.csv --target label [--trusted-column checked] -o model/
    sknoisy predict model/ new.csv -o predictions.csv [--id-column id]
    sknoisy issues data.csv --target label [--trusted-column checked] -o issues.csv

and to study the methods on clean labels that it corrupts itself::

    sknoisy compare                       # built-in digits, 40% flip-to-one noise
    sknoisy compare --dataset data.csv --target label --plot compare.png
    sknoisy estimate data.csv --target label [--trusted-column is_checked]
    sknoisy corrupt data.csv --target label --noise symmetric --rate 0.3 -o noisy.csv

``python -m sknoisy`` is the same command. Run ``sknoisy COMMAND --help`` for
every option.

CSV files are read with Python's ``csv`` module (comma-separated, a header
row, UTF-8): every column other than the target (and the trusted, clean, id
and ``--drop`` columns) is a feature and must hold numbers. ``fit``,
``predict`` and ``issues`` also read an ``.npz`` file (``numpy.savez``) with
an array ``X`` of rows of features or of images ``(n, h, w)`` /
``(n, c, h, w)`` (trained with a small CNN), labels ``y`` and optionally a
boolean array ``trusted``.

Bad input (a missing file or column, a single class, non-numeric features,
a rate outside [0, 1], an unknown noise kind or method, a model folder that
``sknoisy fit`` did not write...) is reported as one line
``sknoisy: error: ...`` on stderr with exit status 2, never a traceback. Any
other error is a bug: it shows its traceback (exit status 1). Set the
environment variable ``SKNOISY_TRACEBACK=1`` to see the traceback behind a
bad-input line, or behind a method that failed in ``compare``.

One module a command. A new command is a module of this package with
``NAME``, ``run(args) -> exit status`` and ``register(commands)``, which adds
its parser with :func:`~sknoisy.cli._options.add_command`; and its module
name in :data:`COMMANDS`.
"""

import importlib
import os
import sys

from ._errors import InputError
from ._options import Parser

__all__ = ["main", "build_parser", "COMMANDS"]

#: The modules of the subcommands, in the order ``sknoisy --help`` lists them.
COMMANDS = ("fit", "predict", "issues", "compare", "estimate", "corrupt")


def _commands():
    return [importlib.import_module(f"{__name__}.{name}") for name in COMMANDS]


def build_parser():
    """The argument parser of the ``sknoisy`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        With one subcommand per module named in :data:`COMMANDS`.

    Examples
    --------
    >>> from sknoisy.cli import build_parser
    >>> args = build_parser().parse_args(["compare", "--rate", "0.2"])
    >>> args.command, args.dataset, args.noise, args.rate, args.trusted_per_class
    ('compare', 'digits', 'flip_to_one', 0.2, 10)
    """
    from .. import __version__

    parser = Parser(
        prog="sknoisy",
        description="Learning with noisy labels from the command line: train a model on your noisy labels "
        "and predict with it, find the labels that look wrong, compare correction methods, estimate the "
        "noise transition matrix T of your labels, or corrupt clean labels.",
        epilog="Run 'sknoisy COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"sknoisy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in _commands():
        command.register(commands)
    return parser


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
        ``sknoisy: error: ...`` on stderr. Any other exception propagates
        with its traceback (a bug, not bad input).

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
            names = ", ".join(command.NAME for command in _commands())
            raise InputError(f"choose a command: {names} (see 'sknoisy --help')")
        return args.handler(args)
    except InputError as exc:
        if os.environ.get("SKNOISY_TRACEBACK"):
            raise
        print(f"sknoisy: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a reader that stopped (| head)
        return 0
    except KeyboardInterrupt:
        print("sknoisy: interrupted", file=sys.stderr)
        return 130
