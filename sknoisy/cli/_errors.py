"""Bad input: the one kind of error the command reports as a line, not a traceback.

Every check of the user's input (arguments, the CSV file, the options'
values, an optional package the user asked for) raises :class:`InputError`
where it checks. ``main`` reports only that exception as ``sknoisy: error:
...`` with exit status 2; any other exception is a bug and keeps its
traceback (exit status 1).
"""

import contextlib

__all__ = ["InputError", "library_checks", "one_line", "os_error_text"]


class InputError(Exception):
    """The user's input is wrong; the message says what and how to fix it."""


def one_line(exc):
    """The text of an exception on one line (its type name when it has none)."""
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


def os_error_text(exc):
    """``'Permission denied: out.csv'`` for an OSError, its text otherwise."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename!r}"
    return one_line(exc)


@contextlib.contextmanager
def library_checks(what=None):
    """Report the library's ``ValueError`` about user data as bad input.

    Wrap *only* a call that hands the user's data or option values to the
    library, whose own validation then speaks about that input (a preset
    defined for 10 classes given a 3-class file, more folds than rows...).
    ``what`` names the input, e.g. ``"--noise pair"``, unless the library's
    message already does. Code after the input is checked is never wrapped:
    a ValueError there is a bug and must show.
    """
    try:
        yield
    except ValueError as exc:
        raise InputError(f"{what}: {one_line(exc)}" if what else one_line(exc)) from exc
