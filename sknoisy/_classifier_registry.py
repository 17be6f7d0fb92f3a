"""The registry of classifier methods: each method declared once, everything that offers methods reads it.

A new way of training on noisy labels is its own module (a
:class:`~sknoisy.CrossEntropyClassifier` subclass, re-exported in
``sknoisy/__init__.py``) and one :class:`ClassifierMethod` entry in
:data:`CLASSIFIER_METHODS`. From that entry alone:

* :class:`~sknoisy.AutoNoisyClassifier` tries it (``methods='auto'`` when
  ``in_auto``; with trusted rows only when ``needs_trusted``), and hands it
  the shared ``T`` when it ``takes_transition_matrix``;
* the command line offers it (``sknoisy compare --methods``, ``sknoisy fit
  --method``, ``sknoisy issues --method``) and describes it in ``--help``;
* the test suite runs scikit-learn's and sknoisy's checks on it (through the
  test-only trusted-rows subclass when ``needs_trusted``), the bad-input
  battery, save/load round trips and the scale tests;
* the documentation lists it (:func:`methods_doc`, README's table).

Layering: above every classifier family (it imports them), below
:mod:`sknoisy._auto` and :mod:`sknoisy.cli`.
"""

import types
import typing

from ._coteaching import CoTeachingClassifier
from ._dividemix import DivideMixClassifier
from ._elr import EarlyLearningClassifier
from ._glc import GLCClassifier
from ._instance_forward import INSTANCE_FORWARD_AUTO_MAX_CLASSES, InstanceForwardClassifier
from ._loss_correction import BackwardCorrectedClassifier, ForwardCorrectedClassifier
from ._meta import MetaLossCorrectionClassifier
from ._robust import RobustLossClassifier
from ._trusted import TrustedOnlyClassifier, TrustedTeacherClassifier
from ._trusted_blend import TrustedBlendClassifier
from .base import CrossEntropyClassifier

__all__ = ["ClassifierMethod", "CLASSIFIER_METHODS", "auto_method_names", "methods_doc"]


class ClassifierMethod(typing.NamedTuple):
    """One way of training a classifier on noisy labels.

    Built as ``estimator(module, **net_params, **params)``.
    """

    #: The name users type (``methods=[...]``, ``--method``).
    name: str
    #: The public sknoisy classifier class.
    estimator: type
    #: What it does, in a few words (tables, ``--help``, docstrings).
    summary: str
    #: The paper it follows ("Author et al. year"), or "" for none.
    paper: str = ""
    #: Whether it refuses to run without trusted rows (``fit(X, y, trusted=mask)``).
    needs_trusted: bool = False
    #: Whether it takes a ``transition_matrix`` that AutoNoisyClassifier and the CLI share between methods.
    takes_transition_matrix: bool = False
    #: Whether, given no ``transition_matrix``, it learns its own T with the network; it is then handed the
    #: shared T only when the user names one.
    learns_transition_matrix: bool = False
    #: Whether ``methods='auto'`` tries it (otherwise only when named).
    in_auto: bool = True
    #: Fixed constructor parameters of the method.
    params: typing.Mapping = types.MappingProxyType({})
    #: ``methods='auto'`` tries it only on data of at most this many classes (None: any number).
    auto_max_classes: typing.Optional[int] = None

    def tried_by_auto(self, n_classes=None):
        """Whether ``methods='auto'`` tries it on data of ``n_classes`` classes (None: not known yet)."""
        return self.in_auto and (self.auto_max_classes is None or n_classes is None
                                 or n_classes <= self.auto_max_classes)

    @property
    def description(self):
        """``summary (paper)``: one line for tables and help texts."""
        return f"{self.summary} ({self.paper})" if self.paper else self.summary


_ENTRIES = {
    m.name: m
    for m in (
        ClassifierMethod("ce", CrossEntropyClassifier, "plain cross-entropy, no correction"),
        ClassifierMethod(
            "forward", ForwardCorrectedClassifier,
            "forward correction, T learned with the network or given", "Li et al. 2021; Patrini et al. 2017",
            takes_transition_matrix=True, learns_transition_matrix=True,
        ),
        ClassifierMethod(
            "backward", BackwardCorrectedClassifier,
            "backward correction with an estimated T (unreliable with an estimate: only tried when named)",
            "Patrini et al. 2017",
            takes_transition_matrix=True, in_auto=False,
        ),
        ClassifierMethod(
            "glc", GLCClassifier, "Gold Loss Correction, T from the trusted rows",
            "Hendrycks et al. 2018", needs_trusted=True,
        ),
        ClassifierMethod(
            "mlc", MetaLossCorrectionClassifier,
            "Meta Loss Correction, T refined (a little) from the confident joint", "Wang et al. 2020",
            needs_trusted=True, learns_transition_matrix=True,
        ),
        ClassifierMethod(
            "trusted_only", TrustedOnlyClassifier,
            "plain cross-entropy on the trusted rows alone, the noisy rows ignored (the baseline to beat)",
            needs_trusted=True,
        ),
        ClassifierMethod(
            "teacher", TrustedTeacherClassifier,
            "a teacher trained on the trusted rows relabels the untrusted rows it doubts (or distils), no T",
            "Li et al. 2017", needs_trusted=True,
        ),
        ClassifierMethod(
            "trusted_blend", TrustedBlendClassifier,
            "a network of the trusted rows and ELR on every row, their probabilities averaged, no T",
            "Liu et al. 2020", needs_trusted=True,
        ),
        ClassifierMethod(
            "nce+rce", RobustLossClassifier, "robust active-passive loss NCE+RCE", "Ma et al. 2020",
            params=types.MappingProxyType({"loss": "nce+rce"}),
        ),
        ClassifierMethod(
            "elr", EarlyLearningClassifier,
            "early-learning regularization, pulls predictions towards their running average", "Liu et al. 2020",
        ),
        ClassifierMethod(
            "instance_forward", InstanceForwardClassifier,
            "forward correction through a T(x) per row: class flip rates from VolMin's T, flip targets from the "
            "network's features, NCE+RCE",
            "Xia et al. 2020", auto_max_classes=INSTANCE_FORWARD_AUTO_MAX_CLASSES,
        ),
        ClassifierMethod(
            "coteaching", CoTeachingClassifier,
            "two networks teach each other on their small-loss rows", "Han et al. 2018",
            in_auto=False,
        ),
        ClassifierMethod(
            "dividemix", DivideMixClassifier,
            "a mixture on per-row losses splits the rows; noisy-looking ones learn from the network's sharpened guesses",
            "Li et al. 2020",
        ),
    )
}

#: The classifier methods by name, in the order they are offered and reported (read-only; every
#: consumer reads it when it runs, so an entry added to the registry is offered everywhere).
CLASSIFIER_METHODS = types.MappingProxyType(_ENTRIES)


def auto_method_names(with_trusted, n_classes=None):
    """The names ``methods='auto'`` tries, in registry order: with enough trusted rows every entry
    marked ``in_auto`` (and not limited to fewer than ``n_classes`` classes), without them those that need none."""
    return [m.name for m in CLASSIFIER_METHODS.values()
            if m.tried_by_auto(n_classes) and (with_trusted or not m.needs_trusted)]


def methods_doc(indent):
    """The methods as a reST bullet list, one line each, for docstrings."""
    return "\n".join(
        f"{indent}* ``'{m.name}'``{' (needs trusted rows)' if m.needs_trusted else ''}"
        f"{'' if m.in_auto else ' (only when named)'}"
        f"{'' if m.auto_max_classes is None else f' (by auto up to {m.auto_max_classes} classes)'}: {m.description}."
        for m in CLASSIFIER_METHODS.values()
    )
