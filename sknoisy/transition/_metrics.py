"""Comparing transition matrices, and converting to and from cleanlab's orientation.

sknoisy's ``T[i, j] = p(noisy = j | clean = i)`` has rows that sum to one;
cleanlab's ``noise_matrix[i, j] = P(label = i | true_label = j)`` is its
transpose, with columns that sum to one.
"""

import numpy as np

from ..utils._validation import check_square_matrix, check_transition_matrix

__all__ = ["transition_matrix_error", "to_cleanlab_noise_matrix", "from_cleanlab_noise_matrix"]


def transition_matrix_error(T_hat, T):
    """Mean over rows of the L1 distance between an estimate and the truth.

    ``mean_i sum_j |T_hat[i, j] - T[i, j]|``, in [0, 2] for stochastic
    matrices (0 is perfect). Neither matrix has to be exactly stochastic.

    Parameters
    ----------
    T_hat, T : array-like of shape (n_classes, n_classes)

    Returns
    -------
    error : float

    Raises
    ------
    ValueError
        Non-square, non-finite or differently shaped matrices.

    Examples
    --------
    >>> from sknoisy.transition import transition_matrix_error
    >>> transition_matrix_error([[0.9, 0.1], [0.2, 0.8]], [[1.0, 0.0], [0.2, 0.8]])
    0.1
    """
    T_hat = check_square_matrix(T_hat, name="T_hat")
    T = check_square_matrix(T, name="T")
    if T_hat.shape != T.shape:
        raise ValueError(f"T_hat has shape {T_hat.shape} but T has shape {T.shape}.")
    return float(np.abs(T_hat - T).sum(axis=1).mean())


def to_cleanlab_noise_matrix(T):
    """Convert ``T`` to cleanlab's ``noise_matrix`` (its transpose).

    cleanlab's ``noise_matrix[i, j] = P(label = i | true_label = j)``: columns
    sum to one.

    Parameters
    ----------
    T : array-like of shape (n_classes, n_classes)
        Row-stochastic, ``T[i, j] = p(noisy = j | clean = i)``.

    Returns
    -------
    noise_matrix : ndarray of shape (n_classes, n_classes)

    Examples
    --------
    >>> from sknoisy.transition import to_cleanlab_noise_matrix
    >>> to_cleanlab_noise_matrix([[0.9, 0.1], [0.3, 0.7]])
    array([[0.9, 0.3],
           [0.1, 0.7]])
    """
    return np.ascontiguousarray(check_transition_matrix(T, name="T").T)


def from_cleanlab_noise_matrix(noise_matrix):
    """Convert cleanlab's column-stochastic ``noise_matrix`` to ``T``.

    Parameters
    ----------
    noise_matrix : array-like of shape (n_classes, n_classes)
        ``noise_matrix[i, j] = P(label = i | true_label = j)``; every column
        sums to one.

    Returns
    -------
    T : ndarray of shape (n_classes, n_classes)
        ``T[i, j] = p(noisy = j | clean = i)``, rows sum to one.

    Raises
    ------
    ValueError
        Not square, not finite, negative entries, or columns that do not sum
        to one.

    Examples
    --------
    >>> from sknoisy.transition import from_cleanlab_noise_matrix
    >>> from_cleanlab_noise_matrix([[0.9, 0.3], [0.1, 0.7]])
    array([[0.9, 0.1],
           [0.3, 0.7]])
    """
    nm = check_square_matrix(noise_matrix, name="noise_matrix")
    sums = nm.sum(axis=0)
    bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-6)
    if bad.size:
        hint = ""
        if np.allclose(nm.sum(axis=1), 1.0, atol=1e-6):
            hint = " Its rows sum to 1: it already looks like a sknoisy T."
        raise ValueError(
            f"noise_matrix is not column-stochastic: column {bad[0]} sums to {sums[bad[0]]:.6g} "
            "(cleanlab's noise_matrix[i, j] = P(label=i | true_label=j), so every column must sum to 1)."
            + hint
        )
    return check_transition_matrix(nm.T, name="noise_matrix.T")
