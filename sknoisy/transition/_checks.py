"""Whether a transition matrix says anything about the clean class.

``p_noisy = p_clean @ T``: when two rows of ``T`` are equal, the noisy label
is distributed the same whatever of those two classes is the clean one, so
the noisy labels cannot tell them apart. When *every* row is the same (for
example ``np.full((3, 3), 1/3)``), ``p_clean @ T`` is that row whatever
``p_clean`` is: a forward-corrected loss is constant, its gradient is zero
and the network stays at its initialisation. Such a ``T`` is a valid
row-stochastic matrix, so :func:`~sknoisy.check_transition_matrix` accepts
it; :func:`check_informative` is the check the classifiers run on top.
"""

import numbers
import warnings

import numpy as np
from scipy.spatial.distance import pdist, squareform

from ..utils._validation import check_transition_matrix

__all__ = ["UninformativeTransitionWarning", "row_separation", "check_informative"]

#: Default smallest total-variation distance between two rows of an informative T.
_DEFAULT_TOL = 0.01


class UninformativeTransitionWarning(UserWarning):
    """A transition matrix with (nearly) identical rows: some classes cannot be told apart."""


def row_separation(T):
    """Total-variation distance between every pair of rows of ``T``.

    ``D[i, k] = 0.5 * sum_j |T[i, j] - T[k, j]|``, in [0, 1]: 0 when the noisy
    label of a clean ``i`` and of a clean ``k`` follow the same
    distribution (the noisy labels cannot separate ``i`` from ``k``), 1 when
    they never share a noisy label.

    Parameters
    ----------
    T : array-like of shape (n_classes, n_classes)
        A transition matrix, ``T[i, j] = p(noisy = j | clean = i)``.

    Returns
    -------
    D : ndarray of shape (n_classes, n_classes)
        Symmetric, zero on the diagonal.

    Examples
    --------
    >>> from sknoisy.transition import row_separation
    >>> row_separation([[0.8, 0.2], [0.3, 0.7]])
    array([[0. , 0.5],
           [0.5, 0. ]])
    """
    T = check_transition_matrix(T)
    # pdist keeps memory O(C^2); broadcasting the difference would need C^3 floats (8 GB at C=1000)
    return 0.5 * squareform(pdist(T, "cityblock"))


def check_informative(
    T, *, classes=None, tol=_DEFAULT_TOL, uninformative="raise", name="transition_matrix", advice=None
):
    """Refuse (or warn about) a transition matrix whose rows are (nearly) identical.

    * every pair of rows within ``tol`` (total variation, see
      :func:`row_separation`): the noisy labels carry no information about
      the clean class, and forward correction has a zero gradient. Raises a
      ``ValueError`` (``uninformative='raise'``) or warns
      (``uninformative='warn'``);
    * only some pairs within ``tol``: an
      :class:`UninformativeTransitionWarning` naming them (those classes
      cannot be told apart from the noisy labels alone).

    Parameters
    ----------
    T : array-like of shape (n_classes, n_classes)
        A transition matrix, ``T[i, j] = p(noisy = j | clean = i)``.
    classes : array-like of shape (n_classes,), default=None
        Class labels used in the messages; None uses ``0..n_classes-1``.
    tol : float in [0, 1), default=0.01
        Rows closer than this are "identical".
    uninformative : {'raise', 'warn'}, default='raise'
        What to do when every row is the same: refuse a ``T`` given by the
        user; an estimator reporting its own estimate warns instead.
    name : str, default='transition_matrix'
        The name of ``T`` in messages.
    advice : str or None, default=None
        What the user should do, ending the message when every row is the
        same; None advises checking the matrix.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes)
        The validated matrix (as :func:`~sknoisy.check_transition_matrix`
        returns it).

    Raises
    ------
    ValueError
        If every row is within ``tol`` of every other and
        ``uninformative='raise'``, or an argument is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.transition import check_informative
    >>> check_informative([[0.6, 0.4], [0.4, 0.6]])
    array([[0.6, 0.4],
           [0.4, 0.6]])
    >>> check_informative(np.full((3, 3), 1 / 3))
    Traceback (most recent call last):
    ...
    ValueError: transition_matrix has (nearly) identical rows (largest total-variation distance ... zero gradient...
    """
    if uninformative not in ("raise", "warn"):
        raise ValueError(f"uninformative must be 'raise' or 'warn', got {uninformative!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0.0 <= tol < 1.0:
        raise ValueError(f"tol must be a number in [0, 1), got {tol!r}.")
    T = check_transition_matrix(T, name=name)
    n_classes = T.shape[0]
    labels = list(range(n_classes)) if classes is None else np.asarray(classes).tolist()
    if len(labels) != n_classes:
        raise ValueError(f"classes has {len(labels)} labels but {name} has {n_classes} rows.")
    if n_classes < 2:
        return T
    D = row_separation(T)
    widest = float(D.max())
    if widest < tol:
        message = (
            f"{name} has (nearly) identical rows (largest total-variation distance between two rows "
            f"{widest:.3g} < tol={tol:g}): the noisy label follows the same distribution whatever the clean "
            "class, so the labels carry no information and a forward-corrected loss has a zero gradient. "
            + (advice or "Check the matrix (T[i, j] = p(noisy=j | clean=i), one row per clean class).")
        )
        if uninformative == "raise":
            raise ValueError(message)
        warnings.warn(message, UninformativeTransitionWarning, stacklevel=2)
        return T
    i, k = np.nonzero(np.triu(D < tol, k=1))
    if i.size:
        pairs = ", ".join(f"({labels[a]!r}, {labels[b]!r})" for a, b in zip(i[:5].tolist(), k[:5].tolist()))
        warnings.warn(
            f"{name} has (nearly) identical rows for the class pair(s) {pairs}"
            f"{' ...' if i.size > 5 else ''} (total-variation distance < tol={tol:g}): the noisy labels "
            "cannot tell those clean classes apart, so a model corrected with this matrix cannot either.",
            UninformativeTransitionWarning,
            stacklevel=2,
        )
    return T
