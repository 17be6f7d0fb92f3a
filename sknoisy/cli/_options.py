"""How the commands declare and check their options.

A command module builds its parser with :func:`add_command` and the shared
option groups below; every value is checked here, when it is parsed, so a
bad one is reported as ``argument --rate: ...`` before any work starts.
"""

import argparse
import contextlib
import math
import os

import numpy as np

from ._errors import InputError, library_checks, os_error_text

__all__ = [
    "Parser",
    "add_command",
    "add_noise_options",
    "add_output_options",
    "add_network_options",
    "check_device_option",
    "check_plot_path",
    "fraction",
    "input_dependent_noise",
    "int_at_least",
    "positive_float",
    "rate",
    "save_figure",
    "torch_threads",
    "transition_matrix",
]

_PLOT_HINT = "pip install 'sknoisy[plot]'"


class Parser(argparse.ArgumentParser):
    # argparse prints its usage block and exits; sknoisy reports every bad
    # input the same way (one line), so parsing errors are raised instead.
    def error(self, message):
        raise InputError(f"{message} (see '{self.prog} --help')")


class _HelpFormatter(argparse.HelpFormatter):
    # Show a default only where there is one worth reading.
    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        hidden = default is None or default is False or default == [] or default is argparse.SUPPRESS
        if "default" in text or hidden or not action.option_strings:
            return text
        return f"{text} (default: {default})"


def add_command(commands, name, handler, *, help, description):
    """Add the subcommand ``name`` run by ``handler(args) -> exit status``; return its parser."""
    parser = commands.add_parser(name, help=help, description=description, formatter_class=_HelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


# --------------------------------------------------------------------------
# argument types: they raise ArgumentTypeError, which argparse turns into
# "argument --rate: ..."
# --------------------------------------------------------------------------
def _float_in(accepts, requirement):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value

    parse.__name__ = requirement
    return parse


rate = _float_in(lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")
fraction = _float_in(lambda v: 0.0 < v < 1.0, "a number strictly between 0 and 1")
positive_float = _float_in(lambda v: v > 0.0, "a positive number")


def int_at_least(minimum):
    """Argument type: an integer ``>= minimum``."""
    requirement = f"an integer >= {minimum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}")
        return value

    parse.__name__ = requirement
    return parse


def _noise_kind(text):
    from ..noise import INSTANCE_NOISE_KINDS, NOISE_KINDS

    kind = text.strip().lower().replace("-", "_")
    if kind not in NOISE_KINDS + INSTANCE_NOISE_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown noise kind {text!r}; choose from {', '.join(NOISE_KINDS + INSTANCE_NOISE_KINDS)}"
        )
    return kind


# --------------------------------------------------------------------------
# shared option groups
# --------------------------------------------------------------------------
def add_noise_options(parser, required):
    """``--noise``, ``--rate``, ``--preset`` and ``--randomness``.

    Read back by :func:`transition_matrix` (the class-conditional kinds) or
    :func:`input_dependent_noise` (the kinds that need the features).
    """
    from ..noise import INSTANCE_NOISE_KINDS, NOISE_KINDS

    parser.add_argument(
        "--noise",
        type=_noise_kind,
        required=required,
        default=None if required else "flip_to_one",
        metavar="KIND",
        help=f"noise kind: {', '.join(NOISE_KINDS)} (class-conditional, hyphens accepted); or "
        f"{' or '.join(INSTANCE_NOISE_KINDS)}, which depend on each row's features: 'instance' is Xia et al. "
        "(2020)'s instance-dependent noise, 'annotator' flips the rows a weak model (logistic regression, "
        "out-of-fold) finds most ambiguous to the class it finds most plausible",
    )
    parser.add_argument(
        "--rate",
        type=rate,
        required=required,
        default=None if required else 0.4,
        metavar="R",
        help="noise rate in [0, 1] (for 'structured', its delta; below 1 for instance and annotator)",
    )
    parser.add_argument(
        "--preset",
        choices=("mnist", "cifar10"),
        default=None,
        help="flips of --noise asymmetric for 10 classes (Patrini et al. 2017)",
    )
    parser.add_argument(
        "--randomness",
        type=rate,
        default=None,
        metavar="F",
        help="for --noise annotator, in [0, 1]: 0 flips exactly the hardest rows to their most plausible wrong "
        "class, 1 draws both from the weak model's probabilities (default: 0)",
    )


def transition_matrix(args, n_classes):
    """The true T of the noise options, for ``n_classes`` classes of the user's data."""
    from ..noise import make_transition_matrix

    if args.noise == "asymmetric" and args.preset is None:
        raise InputError("--noise asymmetric needs --preset mnist or --preset cifar10 (10 classes)")
    if args.randomness is not None:
        raise InputError(f"--randomness is only used with --noise annotator, not --noise {args.noise}")
    given = f"--noise {args.noise} --rate {args.rate:g}" + (f" --preset {args.preset}" if args.preset else "")
    with library_checks(given):
        return make_transition_matrix(args.noise, n_classes, args.rate, random_state=args.seed, preset=args.preset)


def input_dependent_noise(args, X, y, classes, random_state):
    """``(y_noisy, T)`` for a kind of ``INSTANCE_NOISE_KINDS``, which reads the features ``X``.

    ``classes`` are the sorted classes of ``y``. Each row has its own noise;
    ``T`` is its mean over the rows of each clean class, the class-level
    matrix that the correction methods can at best estimate.
    """
    from ..noise import annotator_noise, instance_dependent_noise

    if args.preset is not None:
        raise InputError(f"--preset is only used with --noise asymmetric, not --noise {args.noise}")
    if args.randomness is not None and args.noise != "annotator":
        raise InputError(f"--randomness is only used with --noise annotator, not --noise {args.noise}")
    given = f"--noise {args.noise} --rate {args.rate:g}"
    with library_checks(given):
        if args.noise == "instance":
            y_noisy, noise = instance_dependent_noise(
                X, y, args.rate, classes=classes, random_state=random_state, return_noise=True
            )
        else:
            y_noisy, noise = annotator_noise(
                X, y, args.rate, randomness=args.randomness or 0.0, classes=classes, random_state=random_state,
                return_noise=True,
            )
    codes = np.searchsorted(classes, y)
    T = np.eye(classes.size)
    for i in np.unique(codes):
        T[i] = noise.label_distribution[codes == i].mean(axis=0)
    return y_noisy, T


def add_output_options(parser, *, seed, quiet, plot=None):
    """``--seed`` (what it seeds), ``--quiet`` (what is still printed) and, given its help, ``--plot``."""
    parser.add_argument("--seed", type=int_at_least(0), default=0, help=f"seed of {seed}")
    if plot is not None:
        parser.add_argument("--plot", metavar="FILE.png", help=plot)
    parser.add_argument("--quiet", action="store_true", help=quiet)


def check_plot_path(path):
    """Fail before any work when the figure could not be written."""
    try:
        import matplotlib  # noqa: F401  (first: its submodules may be imported already)
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(f"--plot needs the optional package matplotlib: {_PLOT_HINT}") from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"--plot: folder {folder!r} does not exist")
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    supported = Figure().canvas.get_supported_filetypes()
    if extension not in supported:
        raise InputError(
            f"--plot: cannot tell the image format of {path!r}; end the name with one of "
            f"{', '.join('.' + e for e in sorted(supported))} (e.g. .png)"
        )


def save_figure(fig, path):
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise InputError(f"--plot: cannot write the figure: {os_error_text(exc)}") from None


# --------------------------------------------------------------------------
# the network and where it runs
# --------------------------------------------------------------------------
def add_network_options(parser, *, epochs, hidden, batch_size=128, choose_module=False, seed=None):
    """``--epochs``, ``--lr``, ``--batch-size``, [``--module``], ``--hidden``, ``--device``, ``--threads`` [and ``--seed``].

    ``choose_module`` adds ``--module mlp|cnn``; ``seed`` (what it seeds)
    adds ``--seed``, for a command whose ``--seed`` comes from nowhere else.
    """
    parser.add_argument("--epochs", type=int_at_least(1), default=epochs, help="training epochs of every network")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (Adam)")
    parser.add_argument("--batch-size", type=int_at_least(1), default=batch_size, help="mini-batch size")
    if choose_module:
        parser.add_argument(
            "--module", choices=("mlp", "cnn"), default="mlp", help="network: an MLP, or a small CNN (square images)"
        )
    parser.add_argument(
        "--hidden", type=int_at_least(1), default=hidden,
        help="hidden units of the MLP" if choose_module else "hidden units of the MLP (tabular data)",
    )
    parser.add_argument("--device", default="cpu", help="PyTorch device: cpu, cuda or cuda:N")
    parser.add_argument(
        "--threads",
        type=int_at_least(1),
        default=1,
        help="PyTorch CPU threads; these small networks train fastest on one, more only help bigger ones",
    )
    if seed is not None:
        parser.add_argument("--seed", type=int_at_least(0), default=0, help=f"seed of {seed}")


def check_device_option(device):
    """``--device`` usable here, or one clear line."""
    from ..utils._validation import check_device

    with library_checks():
        check_device(device, label=f"--device {device}", cpu_hint="--device cpu")


@contextlib.contextmanager
def torch_threads(threads):
    """Run the block with ``threads`` torch CPU threads, then restore the count.

    A command may be called from Python (tests, notebooks): torch's thread
    count is left as it was found.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
