"""Plain-text output: tables, transition matrices and the notes after them."""

import contextlib
import warnings

__all__ = ["format_table", "format_matrix", "collect_warnings", "print_notes"]


def format_table(header, rows, align=None):
    """Plain-text table; by default the first column left-aligned, the others right-aligned.

    Examples
    --------
    >>> print(format_table(["method", "accuracy"], [["ce", "0.912"], ["forward", "0.950"]]))
    method   accuracy
    ce          0.912
    forward     0.950
    """
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(header)]
    align = align or ["<"] + [">"] * (len(header) - 1)
    lines = ["  ".join(f"{str(h):{a}{w}}" for h, a, w in zip(header, align, widths)).rstrip()]
    lines += ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def format_matrix(T, labels):
    """A transition matrix with its clean classes as rows and noisy ones as columns.

    Examples
    --------
    >>> print(format_matrix([[0.9, 0.1], [0.2, 0.8]], ["a", "b"]))
    clean \\ noisy      a      b
    a              0.900  0.100
    b              0.200  0.800
    """
    labels = [str(label) for label in labels]
    rows = [[label, *(f"{v:.3f}" for v in row)] for label, row in zip(labels, T)]
    return format_table(["clean \\ noisy", *labels], rows)


@contextlib.contextmanager
def collect_warnings(notes, prefix="", ignore=()):
    """Turn the warnings raised inside the block into one-line ``notes`` (each once).

    ``ignore`` lists warning categories that say nothing the user can act on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in ignore:
            warnings.simplefilter("ignore", category)
        yield
    for w in caught:
        text = f"{prefix}{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in notes:
            notes.append(text)


def print_notes(notes, quiet):
    """Print each note once, unless ``quiet``."""
    if not quiet:
        for note in dict.fromkeys(notes):
            print(f"note: {note}")
