"""A DivideMix-style split: rows whose loss looks noisy lose their label and are learned semi-supervised.

Li et al. (ICLR 2020, DivideMix) fit a two-component Gaussian mixture to the
per-row training losses: a network learns the clean rows first, so the
component of small losses holds the rows whose label is probably right.
Those keep their label (softened towards the network's prediction by how
sure the split is); the others are treated as *unlabeled* and learn from
the network's own sharpened guess. The paper also mixes both kinds of rows
with MixUp (Zhang et al., ICLR 2018); here that is an option, off by
default (on validation splits it did not pay without data augmentation).
Nothing assumes the noise is the same for every input of a class, and no
trusted rows or transition matrix are needed (trusted rows, when given,
always keep their label).
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._targets import rows_fingerprint, target_labels, target_rows, target_weights
from .base import CrossEntropyClassifier
from .utils._param_validation import Interval

__all__ = ["DivideMixClassifier"]


#: Bins of the loss histogram the mixture is fitted to (the scaled losses lie in [0, 1]): a bin's
#: width adds 1 / (12 * _BINS**2) to a variance, far below the variance floor.
_BINS = 256
#: The variance floor, the authors' ``reg_covar``.
_MIN_VARIANCE = 5e-4


def clean_probabilities(losses, n_iter=50):
    """The posterior probability of the small-loss component of a two-Gaussian mixture, per row.

    ``losses`` (1-d, finite; a tensor stays on its device) are scaled to
    [0, 1] first, as DivideMix does. The mixture is fitted by at most
    ``n_iter`` EM steps, started from the lower and upper quartiles, to a
    256-bin histogram of the losses (deterministic, and the same fit as
    on the rows themselves up to the bins' width: on a slow host, EM on
    10**5 rows took longer than a small network's epoch); each row's
    posterior is then computed from its own loss. Each variance is kept at
    least 5e-4, the authors' ``reg_covar``. With fewer than 2 distinct
    values there is nothing to split and every row is taken as clean.

    Returns
    -------
    proba : torch.Tensor of shape (n_rows,), float32, on the device of ``losses``

    Examples
    --------
    >>> import torch
    >>> from sknoisy._dividemix import clean_probabilities
    >>> clean_probabilities(torch.tensor([0.1, 0.12, 0.09, 0.11, 2.0, 2.2])).round(decimals=2)
    tensor([1., 1., 1., 1., 0., 0.])
    """
    x = torch.as_tensor(losses).float()
    if x.numel() < 2:
        return torch.ones_like(x)
    low, high = float(x.min()), float(x.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        return torch.ones_like(x)
    x = (x - low) / (high - low)
    counts = torch.histc(x, bins=_BINS, min=0.0, max=1.0).cpu().double().numpy()
    centers = (np.arange(_BINS) + 0.5) / _BINS
    cumulative = np.cumsum(counts) / counts.sum()
    means = centers[np.searchsorted(cumulative, [0.25, 0.75])]
    if means[1] - means[0] < 1e-6:
        means = np.array([0.0, 1.0])
    variances = np.full(2, max(float(np.average((centers - centers @ counts / counts.sum()) ** 2, weights=counts)),
                               _MIN_VARIANCE))
    weights = np.full(2, 0.5)
    for _ in range(n_iter):
        low_posterior = _low_posterior(centers, means, variances, weights, np)
        resp = np.stack([low_posterior, 1.0 - low_posterior], axis=1) * counts[:, None]
        mass = resp.sum(axis=0) + 1e-12
        new_means = (resp * centers[:, None]).sum(axis=0) / mass
        weights = mass / mass.sum()
        variances = np.maximum((resp * (centers[:, None] - new_means) ** 2).sum(axis=0) / mass, _MIN_VARIANCE)
        converged = np.abs(new_means - means).max() < 1e-4
        means = new_means
        if converged:
            break
    posterior = _low_posterior(x, means, variances, weights, torch)
    # the component of smaller mean is the clean one
    return posterior if means[0] <= means[1] else 1.0 - posterior


def _low_posterior(x, means, variances, weights, xp):
    """The posterior of component 0 at ``x`` (numpy or torch, ``xp``): a sigmoid of the log-density gap."""
    log_ratio = (
        -0.5 * (x - means[0]) ** 2 / variances[0] + 0.5 * (x - means[1]) ** 2 / variances[1]
        + math.log(weights[0] / weights[1]) - 0.5 * math.log(variances[0] / variances[1])
    )
    if xp is np:
        return 0.5 * (1.0 + np.tanh(0.5 * log_ratio))  # the logistic function, without overflow
    return torch.sigmoid(log_ratio)


def sharpen(proba, temperature):
    """``proba ** (1 / temperature)``, renormalised per row (temperature 1 leaves it as it is)."""
    if temperature == 1:
        return proba
    powered = proba.clamp_min(1e-12) ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


class DivideMixClassifier(CrossEntropyClassifier):
    """A network trained on a loss-based split of its rows: noisy-looking rows are learned as unlabeled.

    For ``warmup_epochs`` epochs the network is trained with its criterion
    (cross-entropy) on every row, and every row's cross-entropy is recorded
    each time it is in a training batch. At the start of each later epoch a
    two-component Gaussian mixture is fitted to the rows' last recorded
    losses; a row's probability of being clean, ``w``, is the posterior of
    the small-loss component (Li et al., ICLR 2020). In that epoch's
    batches:

    * rows with ``w > clean_threshold`` are *labeled* (a row of the
      ``trusted`` mask always is, with ``w = 1``): their target is
      ``w * onehot(label) + (1 - w) * p``, ``p`` the network's prediction;
    * the other rows are *unlabeled*: their target is ``p``;

    each target is sharpened (``p ** (1 / temperature)``, renormalised) and
    held fixed (no gradient flows through it). The loss is the soft
    cross-entropy on the labeled rows, plus ``unlabeled_weight`` times the
    squared error of the probabilities on the unlabeled ones, plus
    ``prior_weight`` times ``KL(prior || mean prediction)``, the prior being
    the training labels' class frequencies (it keeps the guesses from
    collapsing onto a few classes). With ``mixup_alpha > 0`` the batch is
    first mixed with a permutation of itself (MixUp, ``lam ~ Beta(a, a)``,
    ``lam = max(lam, 1 - lam)``, inputs, targets and weights alike), and a
    mixed row counts as labeled when its larger share is.

    The defaults were chosen on validation splits of the training rows
    (``benchmarks/dividemix_tries.py``: the MNIST subset and a tabular set,
    Xia et al.'s noise at 40% and 20%, annotator-like and flip-random noise
    at 40%, 5 development seeds, 20 epochs): mean validation accuracy 81.0%
    over the 8 settings, against 79.8% for ELR, 79.9% for NCE+RCE and 77.2%
    for cross-entropy.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        Returns logits; ``n_features`` and ``n_classes`` are injected.
    warmup_epochs : int >= 0, default=10
        Epochs of plain training before the first split (counted over
        ``partial_fit`` calls too; with 0 the first epoch still trains
        plainly, as no loss has been recorded yet). The split needs a
        network that has learned the clean pattern and not yet the noise:
        in the study above (20 epochs) 7 epochs gave 80.5%, 10 and 14 81.0%;
        with no more epochs than this, a fit never gets past plain
        cross-entropy, and ``fit`` warns. (At 10 epochs a shorter warm-up
        was no clear gain in a quick trial: it helped the MNIST subset and
        cost the tabular set as much.)
    clean_threshold : float in (0, 1), default=0.5
        A row whose clean probability exceeds it keeps its label (0.7:
        80.5% above).
    temperature : float in (0, 1], default=0.5
        Sharpening temperature of the targets (1: none, 80.8% above).
    mixup_alpha : float >= 0, default=0.0
        Both parameters of the Beta distribution of MixUp's weight; 0 (the
        default) mixes nothing, and a step then costs one forward pass, as
        cross-entropy's (with MixUp: one more, without gradient, for the
        guesses). The paper's 4 gave 79.0% above (2.0 points below no
        mixing; 3.5 below on the tabular set's flip-random noise), 0.2
        81.0%: without data augmentation mixing did not pay here.
    unlabeled_weight : float >= 0, default=1.0
        Weight of the unlabeled rows' squared error (a mean over classes);
        0 gave 80.9%, 5 80.4% above.
    prior_weight : float >= 0, default=1.0
        Weight of the class-prior penalty on the batch's mean prediction
        (0: 80.3% above).
    **kwargs
        Every parameter of :class:`~sknoisy.CrossEntropyClassifier` and of
        skorch's ``NeuralNetClassifier``. The ``criterion`` trains the
        warm-up epochs and gives ``valid_loss``; the epochs after it use the
        loss above.

    Attributes
    ----------
    clean_proba_ : torch.Tensor of shape (n_samples,) or None
        Each training row's probability of a clean label from the last split
        (on the network's device; 1 for the rows of ``fit``'s ``trusted``
        mask; rows never in a training batch, e.g. those of a
        ``train_split``, get 0), or None before the first split.
        Training state: :func:`~sknoisy.persistence.save_model` does not save
        it.
    row_losses_ : torch.Tensor of shape (n_samples,)
        Each training row's last recorded cross-entropy (NaN where none was
        recorded). Continued by ``partial_fit`` on the same rows, started
        again on others; not saved.
    classes_, n_features_in_, module_, history_
        As in :class:`~sknoisy.CrossEntropyClassifier`.

    See Also
    --------
    sknoisy.CoTeachingClassifier : Small-loss selection by two networks.
    sknoisy.EarlyLearningClassifier : Early-learning regularization.

    Notes
    -----
    What this keeps of DivideMix and what it leaves out: the mixture split
    of per-row losses, label refinement and guessing with sharpening, the
    squared error on the unlabeled rows and the prior penalty are the
    paper's; MixUp is there but off by default (see ``mixup_alpha``). It
    trains **one network** (the paper trains two, each splitting the rows
    for the other, at twice the cost), uses no data augmentation (the paper
    averages its guesses over augmented copies of each image; none is
    assumed here, so it suits tabular data as well as images), splits on
    the loss each row had when last trained on (during the previous epoch;
    the paper evaluates every row again before each split, an extra pass
    over the data), and mixes each batch with itself rather than a labeled
    batch with an unlabeled one. The split costs a 256-bin histogram of the
    ``n_samples`` losses (on the device) and a few dozen EM steps on it on
    the host each epoch.

    ``sample_weight`` weights each row's loss (with MixUp, each mixed row by
    the mix of its two rows' weights). MixUp's weight and permutation are
    drawn from torch's random generator, which ``fit`` seeds from
    ``random_state``.

    References
    ----------
    J. Li, R. Socher, S. C. H. Hoi. DivideMix: Learning with Noisy Labels as
    Semi-supervised Learning. ICLR 2020.

    H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz. mixup: Beyond Empirical
    Risk Minimization. ICLR 2018.

    Examples
    --------
    >>> from sknoisy import DivideMixClassifier, make_noisy_classification
    >>> from sknoisy.modules import MLP
    >>> X, y_noisy, y_clean, T = make_noisy_classification(
    ...     400, n_classes=4, noise="symmetric", rate=0.4, random_state=0)
    >>> clf = DivideMixClassifier(MLP, warmup_epochs=2, max_epochs=4, random_state=0).fit(X, y_noisy)
    >>> clf.predict_proba(X[:2]).shape
    (2, 4)
    >>> clf.clean_proba_.shape
    torch.Size([400])
    """

    # Each mixed row's loss is weighted by the mix of its rows' weights.
    _supports_sample_weight = True

    _parameter_constraints = {
        **CrossEntropyClassifier._parameter_constraints,
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "clean_threshold": [Interval(Real, 0, 1, closed="neither")],
        "temperature": [Interval(Real, 0, 1, closed="right")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "unlabeled_weight": [Interval(Real, 0, None, closed="left")],
        "prior_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        module,
        *args,
        warmup_epochs=10,
        clean_threshold=0.5,
        temperature=0.5,
        mixup_alpha=0.0,
        unlabeled_weight=1.0,
        prior_weight=1.0,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.warmup_epochs = warmup_epochs
        self.clean_threshold = clean_threshold
        self.temperature = temperature
        self.mixup_alpha = mixup_alpha
        self.unlabeled_weight = unlabeled_weight
        self.prior_weight = prior_weight

    def initialize_module(self):
        super().initialize_module()
        # A new network has recorded nothing and split nothing.
        self.row_losses_ = None
        self.clean_proba_ = None
        return self

    def _train(self, X, y_enc, mask, routing_method, **kwargs):
        fingerprint = rows_fingerprint(y_enc)
        if getattr(self, "_losses_fingerprint", None) != fingerprint:
            self.row_losses_ = None
            self.clean_proba_ = None
        self._losses_fingerprint = fingerprint
        # rows whose label is known to be right: every split keeps their label whole, whatever their loss
        self._trusted_rows = torch.as_tensor(np.flatnonzero(mask))
        counts = np.bincount(y_enc, minlength=len(self.classes_)).astype(np.float32)
        prior = counts / max(counts.sum(), 1.0)
        # KL(prior || mean) = sum prior * (log prior - log mean), a class absent from the labels adding 0
        self._label_prior = torch.as_tensor(np.stack([prior, np.log(np.where(prior > 0, prior, 1.0))]))
        self._splitting = False
        epochs = kwargs.get("epochs") or self.max_epochs
        if routing_method == "fit" and len(self.history) + epochs <= self.warmup_epochs:
            warnings.warn(
                f"{type(self).__name__}: warmup_epochs={self.warmup_epochs} and {epochs} epoch(s) to train: no epoch "
                "gets past the warm-up, so this fit is plain cross-entropy on every row. Train more epochs than "
                "warmup_epochs, or lower warmup_epochs.",
                UserWarning,
                stacklevel=3,
            )
        super()._train(X, y_enc, mask, routing_method, **kwargs)

    # --------------------------------------------------------------- skorch
    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        # history holds a row for the epoch under way (added just above)
        epoch = len(self.history) - 1
        self._splitting = epoch >= self.warmup_epochs and self.row_losses_ is not None
        if self._splitting:
            self.clean_proba_ = self._split(self.row_losses_)

    def _split(self, row_losses):
        """Every row's clean probability from the mixture fitted to the recorded losses (0 where none)."""
        seen = torch.isfinite(row_losses)
        proba = torch.zeros(row_losses.shape, dtype=torch.float32, device=row_losses.device)
        proba[seen] = clean_probabilities(row_losses[seen])
        if len(self._trusted_rows):
            proba[self._trusted_rows.to(proba.device)] = 1.0
        return proba

    def _record_losses(self, logits, labels, rows):
        if rows is None:
            return
        if self.row_losses_ is None:
            self.row_losses_ = torch.full((self._losses_fingerprint[0],), float("nan"), device=logits.device)
        self.row_losses_[rows] = torch.nn.functional.cross_entropy(logits.detach().float(), labels, reduction="none")

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not training:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        table = torch.as_tensor(y_true, device=y_pred.device)
        labels, rows = target_labels(table), target_rows(table)
        self._record_losses(y_pred, labels, rows)
        if not self._splitting:  # a warm-up batch: the criterion's loss
            return super().get_loss(y_pred, y_true, X=X, training=training)
        # Without MixUp the network trains on the rows it guesses for: skorch's own step, one forward pass.
        targets, labeled = self._targets(y_pred.detach(), labels, rows)
        return self._split_loss(y_pred, targets, labeled, target_weights(table))

    def train_step_single(self, batch, **fit_params):
        if not (self._splitting and self.mixup_alpha > 0):
            return super().train_step_single(batch, **fit_params)
        # MixUp: the guesses come from the rows as they are (no gradient), the step from the mixed rows.
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        x = to_tensor(Xi, device=self.device)
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            raise ValueError(
                f"{type(self).__name__} with mixup_alpha > 0 mixes training rows (MixUp), so each batch of X "
                f"must be one tensor of floats; got {type(x).__name__}. Set mixup_alpha=0 for other inputs."
            )
        table = torch.as_tensor(yi, device=self.device)
        labels, rows, weight = target_labels(table), target_rows(table), target_weights(table)
        with torch.no_grad():
            logits = self.infer(x, **fit_params)
            self._record_losses(logits, labels, rows)
            targets, labeled = self._targets(logits, labels, rows)
            lam, perm = self._mixing(len(labels), x.device)
            mixed_x = lam * x + (1 - lam) * x[perm]
            targets = lam * targets + (1 - lam) * targets[perm]
            if weight is not None:
                weight = lam * weight + (1 - lam) * weight[perm]
        loss = self._split_loss(self.infer(mixed_x, **fit_params), targets, labeled, weight)
        loss.backward()
        return {"loss": loss, "y_pred": logits}

    def _targets(self, logits, labels, rows):
        """Sharpened targets of a batch and which rows are labeled (clean-looking)."""
        proba = torch.softmax(logits.float(), dim=1)
        if rows is None:  # labels without row ids: nothing was split, every label is kept
            clean = torch.ones(len(labels), device=proba.device)
        else:
            clean = self.clean_proba_[rows]
        labeled = clean > self.clean_threshold
        onehot = torch.nn.functional.one_hot(labels, proba.shape[1]).to(proba.dtype)
        w = clean.unsqueeze(1)
        refined = torch.where(labeled.unsqueeze(1), w * onehot + (1 - w) * proba, proba)
        return sharpen(refined, self.temperature), labeled

    def _mixing(self, n_rows, device):
        """MixUp's weight (the larger of lam and 1 - lam) and the batch's permutation."""
        alpha = torch.tensor(float(self.mixup_alpha))
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        return max(lam, 1.0 - lam), torch.randperm(n_rows, device=device)

    def _split_loss(self, logits, targets, labeled, weight):
        log_proba = torch.log_softmax(logits.float(), dim=1)
        proba = log_proba.exp()
        supervised = -(targets * log_proba).sum(dim=1)
        unlabeled = ((proba - targets) ** 2).mean(dim=1)
        labeled = labeled.to(log_proba.dtype)
        if weight is None:
            on_labeled, on_unlabeled = labeled, 1 - labeled
        else:
            weight = weight.to(log_proba.dtype)
            on_labeled, on_unlabeled = weight * labeled, weight * (1 - labeled)
        # means over each part of the batch, computed on the device (no count read back to the host)
        loss = (on_labeled * supervised).sum() / on_labeled.sum().clamp_min(1e-12)
        loss = loss + self.unlabeled_weight * (on_unlabeled * unlabeled).sum() / on_unlabeled.sum().clamp_min(1e-12)
        if self.prior_weight:
            if self._label_prior.device != logits.device:
                self._label_prior = self._label_prior.to(logits.device)
            prior, log_prior = self._label_prior
            log_mean = proba.mean(dim=0).clamp_min(1e-12).log()
            loss = loss + self.prior_weight * (prior * (log_prior - log_mean)).sum()
        return loss
