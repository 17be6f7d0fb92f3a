"""The registry of T-estimation methods: one entry feeds the transformer, the docs and the CLI.

A new way of estimating ``T`` from probabilities is one function in
:mod:`._estimates` and one :class:`TransitionMethod` entry here; the
transformer, its docstring, its error messages and every list of method names
elsewhere (classifiers, CLI) follow from :data:`TRANSITION_METHODS`.
"""

import types
import typing

from ._estimates import estimate_anchor, estimate_confident_joint, estimate_confusion, estimate_dual_t, estimate_gold

__all__ = ["TransitionMethod", "TRANSITION_METHODS", "DEFAULT_TRANSITION_METHOD"]


class TransitionMethod(typing.NamedTuple):
    """One way of estimating ``T`` from probabilities of the noisy labels.

    ``estimate(proba, labels, quantile)`` returns ``T``. For a method that
    ``needs_trusted``, ``proba`` are the probabilities of the *trusted* rows
    from a model trained on the untrusted rows and ``labels`` their clean
    labels; otherwise ``proba`` are out-of-fold probabilities of every row
    and ``labels`` the (noisy) labels as given. ``quantile`` is the
    transformer's outlier filter of anchor searches (a method without an
    anchor search ignores it).
    """

    name: str
    needs_trusted: bool
    summary: str
    estimate: typing.Callable


#: Read-only mapping from each method name to its :class:`TransitionMethod`.
TRANSITION_METHODS = types.MappingProxyType(
    {
        m.name: m
        for m in (
            TransitionMethod(
                "anchor", False, "noisy-label probabilities of each class's anchor point (Patrini et al. 2017)",
                lambda proba, labels, quantile: estimate_anchor(proba, quantile=quantile),
            ),
            TransitionMethod(
                "dual_t", False, "anchor T times the count T of predicted vs noisy labels (Yao et al. 2020)",
                lambda proba, labels, quantile: estimate_dual_t(proba, labels, quantile=quantile),
            ),
            TransitionMethod(
                "confident_joint", False, "calibrated confident joint, as cleanlab's (Northcutt et al. 2021)",
                lambda proba, labels, quantile: estimate_confident_joint(proba, labels),
            ),
            TransitionMethod(
                "gold", True, "mean noisy-label probabilities of trusted rows (GLC, Hendrycks et al. 2018)",
                lambda proba, labels, quantile: estimate_gold(proba, labels),
            ),
            TransitionMethod(
                "confusion", True, "smoothed confusion matrix on the trusted rows (GLC's baseline)",
                lambda proba, labels, quantile: estimate_confusion(proba, labels),
            ),
        )
    }
)


#: The method used when none is named (``TransitionMatrixEstimator`` and the
#: classifiers that estimate ``T``): the lowest mean T error without trusted
#: rows in ``benchmarks/results/t_estimation.md``.
DEFAULT_TRANSITION_METHOD = "confident_joint"


def lookup_method(name, param="method"):
    """The registry entry called ``name``, or a ValueError listing the valid names."""
    try:
        return TRANSITION_METHODS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise ValueError(f"{param} must be one of {list(TRANSITION_METHODS)}, got {name!r}.") from None


def methods_doc(indent):
    """The methods as a reST bullet list, one line each, for docstrings."""
    return "\n".join(
        f"{indent}* ``'{m.name}'``{' (needs trusted rows)' if m.needs_trusted else ''}: {m.summary}."
        for m in TRANSITION_METHODS.values()
    )
