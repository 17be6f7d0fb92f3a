"""Methods that learn from trusted rows without assuming class-conditional noise.

Every transition-matrix method (forward correction, GLC, MLC) reads the
noise through one ``T`` per class. When annotators err on the ambiguous
items, toward the plausible wrong class, that ``T`` describes nobody, and
the noisy rows read through it can do harm (issue 20: 8-9 points below the
trusted rows alone). The methods here use the trusted rows otherwise:

* :class:`TrustedOnlyClassifier`: plain cross-entropy on the trusted rows
  alone, the baseline any method that uses the noisy rows must beat (and a
  candidate of :class:`~sknoisy.AutoNoisyClassifier`, so that auto with
  trusted rows never does worse than ignoring the noisy ones);
* :class:`TrustedTeacherClassifier`: a teacher trained on the trusted rows
  judges every untrusted row (Li et al., ICCV 2017, distillation; or
  filtering / relabelling of the rows it confidently disagrees with), and a
  student is trained on every row with those targets.

Layering: above :mod:`sknoisy.base` and :mod:`sknoisy._stage1`, below the
classifier registry.
"""

import math
import warnings
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

from ._loss_correction import check_trusted_rows
from ._stage1 import stage1_net
from ._targets import split_target_table, target_rows, target_weights
from .base import CrossEntropyClassifier, weighted_criterion_loss
from .utils._param_validation import Interval, StrOptions
from .utils._random import seed_from
from .utils._rows import take_rows

__all__ = ["TrustedOnlyClassifier", "TrustedTeacherClassifier"]

#: How the teacher's judgement enters the student's targets on untrusted rows.
TEACHER_MODES = ("distill", "filter", "relabel")

# The defaults (measured on validation splits of the training rows; see TrustedTeacherClassifier).
DEFAULT_MODE = "relabel"
DEFAULT_LABEL_WEIGHT = 0.25
DEFAULT_CONFIDENCE = 0.5
DEFAULT_TEACHER_EARLY_STOPPING = False


#: The most epochs over the trusted rows per epoch over every row (see :func:`_matching_epochs`).
MAX_EPOCH_FACTOR = 50


def _matching_epochs(epochs, batch_size, n_rows, n_trusted):
    """Epochs over ``n_trusted`` rows that take as many optimizer steps as ``epochs`` over ``n_rows``.

    ``max_epochs`` is chosen for the whole data set; on its small trusted
    share it would leave a network barely trained (20 trusted rows per
    class take 2 steps an epoch where the MNIST subset takes 32). At most
    :data:`MAX_EPOCH_FACTOR` times ``epochs``.

    >>> from sknoisy._trusted import _matching_epochs
    >>> _matching_epochs(20, 128, 4000, 200), _matching_epochs(20, -1, 4000, 200)
    (320, 20)
    """
    if batch_size in (None, -1) or n_trusted <= 0:
        return int(epochs)
    steps_all, steps_trusted = math.ceil(n_rows / batch_size), math.ceil(n_trusted / batch_size)
    return int(epochs * min(math.ceil(steps_all / steps_trusted), MAX_EPOCH_FACTOR))


def _warn_classes_without_trusted_rows(estimator, y_enc, mask, consequence):
    missing = np.setdiff1d(np.arange(len(estimator.classes_)), y_enc[mask])
    if missing.size:
        warnings.warn(
            f"{type(estimator).__name__}: no trusted row of class(es) {estimator.classes_[missing].tolist()}; "
            f"{consequence}",
            UserWarning,
            stacklevel=5,
        )


def _trusted_weights(sample_weight, rows, name):
    """The weights of the trusted rows, rescaled to mean 1 (only their ratios matter)."""
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64)[rows]
    total = weight.sum()
    if not total > 0:
        raise ValueError(
            f"{name} trains on the trusted rows, but sample_weight is 0 on every one of them; give some trusted "
            "rows a positive weight."
        )
    return weight * (len(weight) / total)


class TrustedOnlyClassifier(CrossEntropyClassifier):
    """Plain cross-entropy on the trusted rows alone: the noisy rows are ignored; needs trusted rows.

    ``fit(X, y, trusted=mask)`` trains the network on the rows of ``mask``
    only. It is the baseline every method that reads the noisy rows must
    beat: when the noise depends on the input (annotators err on the
    ambiguous items, toward the plausible class), the methods that assume
    class-conditional noise can fall below it (issue 20). As a method of the
    classifier registry it is tried by :class:`~sknoisy.AutoNoisyClassifier`
    whenever there are trusted rows, so that auto never does worse than
    ignoring the noisy rows (scored on held-out trusted rows).

    Everything else is :class:`~sknoisy.CrossEntropyClassifier`: the classes
    are those of every row (or ``classes``), so a class without a trusted
    row still gets an output (which the network never learns to predict);
    ``sample_weight`` weights the trusted rows (the weights of the other
    rows are ignored); a ``train_split`` splits the trusted rows.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    match_steps : bool, default=True
        Train as many optimizer steps as ``max_epochs`` epochs over *every*
        row would take (``max_epochs`` times the ratio of the batches per
        epoch, at most 50 times ``max_epochs``; ``partial_fit``'s ``epochs``
        too): ``max_epochs`` is set for the whole data set, and over its
        small trusted share it would leave the network barely trained (200
        of 4,000 rows take 2 steps an epoch instead of 32). False: ``max_epochs``
        epochs over the trusted rows.
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``.

    Attributes
    ----------
    n_trusted_ : int
        The number of rows the network was trained on (of the last call to
        ``fit`` or ``partial_fit``).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    TrustedTeacherClassifier : uses the noisy rows too, through a teacher of the trusted rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import TrustedOnlyClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, _ = make_noisy_classification(300, n_classes=3, rate=0.4, random_state=0)
    >>> trusted = np.arange(300) < 60
    >>> y = np.where(trusted, y_clean, y_noisy)
    >>> clf = TrustedOnlyClassifier(MLP, max_epochs=5, random_state=0).fit(X, y, trusted=trusted)
    >>> clf.n_trusted_, clf.predict(X[:3]).shape
    (60, (3,))
    """

    # its loss is the base's weighted mean, on the trusted rows' weights
    _supports_sample_weight = True

    _parameter_constraints = {**CrossEntropyClassifier._parameter_constraints, "match_steps": ["boolean"]}

    def __init__(self, module, *args, match_steps=True, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.match_steps = match_steps

    def _train(self, X, y_enc, mask, routing_method, sample_weight=None, epochs=None, **fit_params):
        # checked on every call: partial_fit's later calls bring new rows
        check_trusted_rows(self, y_enc, mask, purpose="train on them")
        _warn_classes_without_trusted_rows(
            self, y_enc, mask, "the network trains on the trusted rows only, so it never learns to predict them."
        )
        rows = np.flatnonzero(mask)
        self.n_trusted_ = int(rows.size)
        weight = _trusted_weights(sample_weight, rows, type(self).__name__)
        epochs = self.max_epochs if epochs is None else epochs
        if self.match_steps:
            epochs = _matching_epochs(epochs, self.batch_size, len(y_enc), rows.size)
        super()._train(
            take_rows(X, rows), y_enc[rows], mask[rows], routing_method, epochs=epochs,
            **({} if weight is None else {"sample_weight": weight}), **fit_params,
        )


class TrustedTeacherClassifier(CrossEntropyClassifier):
    __doc__ = f"""A student trained on every row with the targets of a teacher of the trusted rows; needs trusted rows.

    Learning from noisy labels with distillation (Li et al., ICCV 2017), and
    its hard variants (filtering or relabelling the noisy rows a model of the
    clean rows confidently disagrees with), inside ``fit(X, y, trusted=mask)``:

    1. stage 1, the teacher: a network with this estimator's settings is
       trained with plain cross-entropy on the **trusted** rows only (a
       stage-1 net, :func:`sknoisy._stage1.stage1_net`), for as many
       optimizer steps as the student takes (as
       :class:`TrustedOnlyClassifier` with ``match_steps=True``);
    2. stage 2, the student: a fresh network is trained on every row. A
       trusted row's target is its (clean) label; an untrusted row's depends
       on ``mode``, with ``p`` the teacher's probabilities of the row and
       ``e(y~)`` the one-hot noisy label:

       * ``'distill'`` (Li et al.): the soft target
         ``label_weight * e(y~) + (1 - label_weight) * p``;
       * ``'filter'``: the row is dropped when the teacher gives another
         class at least ``confidence``, kept with its noisy label otherwise;
       * ``'relabel'``: the row takes the teacher's class when the teacher
         gives another class at least ``confidence``, its noisy label
         otherwise.

    Nothing here assumes that the noise is the same for every row of a
    class: the teacher judges each row by its input. The student can beat
    the teacher because it sees the noisy rows, whose labels carry
    information wherever the teacher is unsure.

    *The defaults are measured* (``benchmarks/trusted_teacher.py``, a
    validation split of the training rows, the test split never loaded):
    digits and a 6-class ``make_classification`` set, an annotator-like
    stand-in noise at 40% (the rows a weak logistic regression is least sure
    of take its most probable wrong class), 20 trusted rows per class,
    MLP(64), 30 epochs, seeds 0 and 1; mean validation accuracy over the 4
    runs:

    ===============================================  ========
    variant                                          accuracy
    ===============================================  ========
    CE on every row                                  66.6
    GLC                                              71.5
    trusted rows only, max_epochs over them          68.5
    trusted rows only (TrustedOnlyClassifier)        77.5
    distill, label_weight 0 (the teacher alone)      77.7
    distill, label_weight 0.25                       77.9
    distill, label_weight 0.5                        76.5
    distill 0.25, early-stopped teacher              76.9
    filter, confidence 0.5                           76.6
    **relabel, confidence 0.5** (default)            78.2
    ===============================================  ========

    So every variant that trusts its teacher enough is within a point of
    the trusted rows alone, and the default (relabel, the best by 0.3
    points, within the spread of the seeds) beats it by 0.6 points; the
    noisy labels add little where the annotator errs exactly on the rows a
    model finds hard. The early-stopped teacher (its epoch of best loss on
    20% of the trusted rows) is less confident and weaker than one trained
    on every trusted row for as many steps as the student.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    mode : {{'distill', 'filter', 'relabel'}}, default={DEFAULT_MODE!r}
        How the teacher's judgement makes the untrusted rows' targets (above).
    label_weight : float in [0, 1], default={DEFAULT_LABEL_WEIGHT!r}
        ``lambda`` of ``'distill'``: the weight of the noisy label in the
        soft target (1: plain cross-entropy on the noisy labels; 0: the
        teacher's probabilities alone).
    confidence : float in [0, 1), default={DEFAULT_CONFIDENCE!r}
        ``'filter'`` and ``'relabel'`` act on an untrusted row when the
        teacher's most probable class is not its label and has at least this
        probability.
    teacher_early_stopping : bool, default={DEFAULT_TEACHER_EARLY_STOPPING!r}
        True: the teacher holds out a stratified 20% of the trusted rows and
        keeps its epoch of best loss on them (the stage-1 nets' early
        stopping; their accuracy is ``teacher_accuracy_``). False: it trains
        on every trusted row.
    criterion : class, default=torch.nn.CrossEntropyLoss
        Called as ``criterion(logits, target_probabilities)`` with
        ``reduction='none'`` (torch's cross-entropy takes probabilities as
        targets); the rows' losses are averaged, weighted by
        ``sample_weight`` when given (a dropped row weighs 0).
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``; the teacher uses the same ones (but
        not the ``callbacks``, as every stage-1 net).

    Attributes
    ----------
    teacher_ : CrossEntropyClassifier
        The teacher, fitted on the trusted rows (its classes are the encoded
        classes ``0 .. n_classes - 1``). Not saved by
        :func:`sknoisy.save_model`: a loaded model predicts, and ``fit``
        trains a new teacher.
    teacher_accuracy_ : float
        The teacher's accuracy on its held-out trusted rows (NaN without
        ``teacher_early_stopping``, or when there were too few to hold any
        out).
    filtered_fraction_ : float
        The fraction of the untrusted rows the teacher confidently disagrees
        with (the rows ``'filter'`` drops and ``'relabel'`` relabels; also
        reported for ``'distill'``).
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier` (of the student).

    Notes
    -----
    ``fit(..., sample_weight=w)`` weights both the teacher's rows and the
    student's. A class without trusted rows is a class the teacher never
    predicts: its untrusted rows keep some of their noisy label only through
    ``label_weight`` ('distill') or when the teacher is unsure.
    ``partial_fit`` keeps the teacher of the first call and asks it about
    the new rows.

    References
    ----------
    Y. Li, J. Yang, Y. Song, L. Cao, J. Luo and L.-J. Li, "Learning from
    Noisy Labels with Distillation", ICCV 2017.

    See Also
    --------
    TrustedOnlyClassifier : the trusted rows alone, the baseline this method must beat.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy import TrustedTeacherClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, _ = make_noisy_classification(400, n_classes=3, rate=0.4, random_state=0)
    >>> trusted = np.arange(400) < 90
    >>> y = np.where(trusted, y_clean, y_noisy)
    >>> clf = TrustedTeacherClassifier(MLP, max_epochs=5, random_state=0).fit(X, y, trusted=trusted)
    >>> clf.teacher_.classes_.tolist(), 0.0 <= clf.filtered_fraction_ <= 1.0
    ([0, 1, 2], True)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    # get_loss reduces through weighted_criterion_loss with the table's weights
    _supports_sample_weight = True

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "mode": [StrOptions(set(TEACHER_MODES))],
        "label_weight": [Interval(Real, 0, 1, closed="both")],
        "confidence": [Interval(Real, 0, 1, closed="left")],
        "teacher_early_stopping": ["boolean"],
    }

    def __init__(
        self,
        module,
        *args,
        mode=DEFAULT_MODE,
        label_weight=DEFAULT_LABEL_WEIGHT,
        confidence=DEFAULT_CONFIDENCE,
        teacher_early_stopping=DEFAULT_TEACHER_EARLY_STOPPING,
        criterion=torch.nn.CrossEntropyLoss,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.mode = mode
        self.label_weight = label_weight
        self.confidence = confidence
        self.teacher_early_stopping = teacher_early_stopping

    def _prepare_training(self, X, y_enc, mask, sample_weight=None):
        check_trusted_rows(self, y_enc, mask, purpose="train the teacher")
        _warn_classes_without_trusted_rows(
            self, y_enc, mask, "the teacher never predicts them, so it doubts every noisy label of theirs."
        )
        teacher = fit_trusted_net(self, X, y_enc, mask, sample_weight, early_stopping=self.teacher_early_stopping)
        self.teacher_ = teacher
        self.teacher_accuracy_ = _held_out_accuracy(teacher)

    def _train(self, X, y_enc, mask, routing_method, **fit_params):
        teacher = getattr(self, "teacher_", None)
        if teacher is None:
            raise ValueError(
                f"{type(self).__name__} has no teacher_ (a model loaded by load_model keeps only the student); "
                "call fit to train a teacher and a student."
            )
        # Asked once per call about every row, on the host; the rows of a
        # batch are looked up by their ROW column. Lives while training only.
        proba = torch.as_tensor(teacher.predict_proba(X), dtype=torch.float32)
        disagree = (proba.argmax(dim=1).numpy() != y_enc) & (proba.max(dim=1).values.numpy() >= self.confidence)
        untrusted = ~mask
        self.filtered_fraction_ = float(disagree[untrusted].mean()) if untrusted.any() else 0.0
        self._teacher_proba = proba
        try:
            super()._train(X, y_enc, mask, routing_method, **fit_params)
        finally:
            self._teacher_proba = None

    def _student_targets(self, labels, trusted, proba):
        """``(targets, keep)``: the target probabilities of the batch, and each row's 0/1 weight."""
        onehot = F.one_hot(labels, proba.shape[1]).to(proba.dtype)
        keep = torch.ones_like(labels, dtype=proba.dtype)
        if self.mode == "distill":
            lam = float(self.label_weight)
            return torch.where(trusted[:, None], onehot, lam * onehot + (1.0 - lam) * proba), keep
        top, guess = proba.max(dim=1)
        act = ~trusted & (guess != labels) & (top >= self.confidence)
        if self.mode == "filter":
            return onehot, torch.where(act, torch.zeros_like(keep), keep)
        return torch.where(act[:, None], F.one_hot(guess, proba.shape[1]).to(proba.dtype), onehot), keep

    def get_loss(self, y_pred, y_true, X=None, training=False):
        table = torch.as_tensor(y_true, device=y_pred.device)
        labels, trusted = split_target_table(table)
        proba = getattr(self, "_teacher_proba", None)
        rows = target_rows(table)
        if proba is None or rows is None:
            # outside fit (a user's scoring): the plain loss on the labels given
            return self._criterion_loss(y_pred, table, labels, training=training)
        if proba.device != y_pred.device:
            self._teacher_proba = proba = proba.to(y_pred.device)
        targets, keep = self._student_targets(labels, trusted, proba[rows].to(y_pred.dtype))
        weight = target_weights(table)
        weight = keep if weight is None else keep * weight
        return weighted_criterion_loss(self.criterion_, weight, y_pred, targets)


def fit_trusted_net(estimator, X, y_enc, mask, sample_weight=None, *, early_stopping=False, steps_fraction=1.0):
    """A plain network with the settings of ``estimator``, fitted on the trusted rows of ``mask`` alone.

    A stage-1 net (:func:`sknoisy._stage1.stage1_net`, seeded from the
    estimator's ``random_state``) whose classes are the encoded classes
    ``0 .. n_classes - 1``, so that its probabilities line up with ``y_enc``
    even when a class has no trusted row. It trains for as many optimizer
    steps as ``max_epochs`` over every row take (:func:`_matching_epochs`),
    or ``steps_fraction`` of them (``max_epochs`` scaled, at least one);
    with ``early_stopping`` it keeps its epoch of best loss on a held-out
    20% of the trusted rows. ``sample_weight`` weights the trusted rows.
    """
    rows = np.flatnonzero(mask)
    net = stage1_net(estimator, random_state=seed_from(estimator.random_state), early_stopping=early_stopping)
    epochs = max(1, round(estimator.max_epochs * steps_fraction))
    net.set_params(
        classes=np.arange(len(estimator.classes_)),
        max_epochs=_matching_epochs(epochs, estimator.batch_size, len(y_enc), rows.size),
    )
    weight = _trusted_weights(sample_weight, rows, type(estimator).__name__)
    return net.fit(take_rows(X, rows), y_enc[rows], **({} if weight is None else {"sample_weight": weight}))


def _held_out_accuracy(net):
    """The validation accuracy of a stage-1 net at its epoch of best validation loss (NaN without one)."""
    history = net.history_
    if not len(history) or "valid_loss" not in history[-1] or "valid_acc" not in history[-1]:
        return float("nan")
    losses = history[:, "valid_loss"]
    return float(history[int(np.argmin(losses)), "valid_acc"])
