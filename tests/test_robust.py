"""Tests of RobustLossClassifier (sknoisy._robust)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback, GradientNormClipping

from sknoisy._robust import RobustLossClassifier, _GradientNormClipping
from sknoisy.base import CrossEntropyClassifier
from sknoisy.losses import DEFAULT_LOSS_PARAMS, LOSS_NAMES, ActivePassiveLoss, GeneralizedCrossEntropy
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.utils._testing import make_fast_estimator
from sknoisy._stage1 import stage1_net

TINY = {"module__hidden_units": (16,), "batch_size": 64, "lr": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def small_data():
    X, y_noisy, _, _ = make_noisy_classification(
        300, 6, 3, noise="symmetric", rate=0.2, random_state=0
    )
    return X.astype(np.float32), y_noisy


def _fit(X, y, **params):
    return RobustLossClassifier(MLP, **{**TINY, "max_epochs": 3, **params}).fit(X, y)


# ---------------------------------------------------------------- every loss
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_loss_fits_without_nan(small_data, loss):
    X, y = small_data
    clf = _fit(X, y, loss=loss)
    losses = np.asarray(clf.history[:, "train_loss"])
    assert np.all(np.isfinite(losses))
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert set(clf.loss_params_) == set(DEFAULT_LOSS_PARAMS[loss]) - {"reduction"}


@pytest.mark.parametrize("loss", ["ce", "gce", "sce", "nce+rce", "nce+mae", "nfl+rce", "ngce+mae"])
@pytest.mark.parametrize("n_classes", [2, 1000])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_no_nan_for_few_many_classes_and_confident_outputs(loss, n_classes, scale):
    # scale=1e3 makes the logits huge, so the softmax saturates in float32.
    rng = np.random.RandomState(0)
    X = (rng.randn(2000, 5) * scale).astype(np.float32)
    y = np.arange(2000) % n_classes
    clf = RobustLossClassifier(MLP, loss=loss, max_epochs=1, **{**TINY, "batch_size": 256}).fit(X, y)
    assert np.all(np.isfinite(clf.history[:, "train_loss"]))
    proba = clf.predict_proba(X)
    assert proba.shape == (2000, n_classes)
    assert np.all(np.isfinite(proba))
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("loss", ["mae", "nce+rce", "gce"])
def test_predict_proba_is_softmax_of_logits(small_data, loss):
    X, y = small_data
    clf = _fit(X, y, loss=loss)
    with torch.no_grad():
        logits = clf.module_(torch.as_tensor(X))
    expected = torch.softmax(logits, dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[expected.argmax(axis=1)])


# ----------------------------------------------------------- the criterion
def test_defaults_and_overrides_reach_the_criterion(small_data):
    X, y = small_data
    clf = _fit(X, y, loss="nfl+rce", beta=10, max_epochs=1)
    assert clf.loss_params_ == {"alpha": 1.0, "beta": 10.0, "gamma": 0.5}
    assert isinstance(clf.loss_params_["beta"], float)
    crit = clf.criterion_
    assert isinstance(crit, ActivePassiveLoss)
    assert (crit.active, crit.passive, crit.alpha, crit.beta, crit.gamma) == ("nfl", "rce", 1.0, 10.0, 0.5)

    clf = _fit(X, y, loss="gce", max_epochs=1)
    assert isinstance(clf.criterion_, GeneralizedCrossEntropy) and clf.criterion_.q == 0.7
    clf = _fit(X, y, loss="ce", max_epochs=1)
    assert isinstance(clf.criterion_, torch.nn.CrossEntropyLoss) and clf.loss_params_ == {}


def test_criterion_kwargs_are_passed_to_the_loss(small_data):
    X, y = small_data
    clf = _fit(X, y, loss="nfl+mae", criterion__detach_denominator=True, max_epochs=1)
    assert clf.criterion_.detach_denominator is True
    # the APL authors' NFL gradient (detached focal weights) is one criterion__ parameter away
    clf = _fit(X, y, loss="nfl", criterion__detach_focal_weights=True, max_epochs=1)
    assert clf.criterion_.detach_focal_weights is True and clf.criterion_.detach_denominator is False


def test_set_params_loss_then_refit_rebuilds_the_criterion(small_data):
    X, y = small_data
    clf = _fit(X, y, loss="nce+rce", max_epochs=1)
    clf.set_params(loss="sce", alpha=0.01)
    clf.fit(X, y)
    assert clf.criterion_.alpha == 0.01 and type(clf.criterion_).__name__ == "SymmetricCrossEntropy"


class _GradNormRecorder(Callback):
    """Records the total gradient norm as the optimizer will see it."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad.detach().flatten() for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.cat(grads).norm()))


def test_clip_grad_norm_clips_and_none_disables(small_data):
    X, y = small_data
    rec = _GradNormRecorder()
    clf = _fit(X, y, loss="ce", clip_grad_norm=1e-3, callbacks=[rec], max_epochs=1)
    assert dict(clf.callbacks_)["grad_norm_clipping"].gradient_clip_value == 1e-3
    assert rec.norms and max(rec.norms) <= 1e-3 * 1.001

    rec = _GradNormRecorder()
    clf = _fit(X, y, loss="ce", clip_grad_norm=None, callbacks=[rec], max_epochs=1)
    assert "grad_norm_clipping" not in dict(clf.callbacks_)
    assert max(rec.norms) > 1e-2

    clf = RobustLossClassifier(MLP)
    assert clf.clip_grad_norm == 5.0


def _grads_with(scale, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.zeros(shape, dtype=dtype)) for shape in [(16, 6), (16,), (3, 16), (3,)]]
    for p in params:
        p.grad = scale * torch.randn(p.shape, generator=gen, dtype=dtype)
    return params


@pytest.mark.parametrize("scale", [1e-3, 0.3, 1.0, 30.0, float("nan")])
@pytest.mark.parametrize("max_norm, norm_type", [(5.0, 2), (1.0, 2), (1.0, 1), (1.0, float("inf"))])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_default_clipping_gives_torch_clip_grad_norm_gradients_bit_for_bit(scale, max_norm, norm_type, dtype):
    # the cheap clipping must be a pure speed-up: the same gradients as
    # torch.nn.utils.clip_grad_norm_ (what skorch's GradientNormClipping calls)
    # whether the norm is within bounds, above them, or NaN
    for seed in range(5):
        ours, theirs = _grads_with(scale, seed, dtype), _grads_with(scale, seed, dtype)
        clipping = _GradientNormClipping(gradient_clip_value=max_norm, gradient_clip_norm_type=norm_type)
        clipping.on_grad_computed(None, named_parameters=((str(i), p) for i, p in enumerate(ours)))
        torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0, equal_nan=True)
    # a gradient exactly at the bound: torch scales by 5 / (5 + 1e-6) < 1, and so do we
    ours, theirs = _grads_with(1.0, 0), _grads_with(1.0, 0)
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in ours])))
    _GradientNormClipping(norm).on_grad_computed(None, named_parameters=(("p", p) for p in ours))
    torch.nn.utils.clip_grad_norm_(theirs, norm)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


def test_default_clipping_trains_the_same_model_as_skorch_clipping(small_data):
    # a bound low enough that most steps clip: the fitted weights equal those
    # of skorch's own GradientNormClipping callback, so no accuracy moves
    X, y = small_data
    ours = _fit(X, y, loss="nce+rce", clip_grad_norm=0.05)
    assert isinstance(dict(ours.callbacks_)["grad_norm_clipping"], _GradientNormClipping)
    skorchs = _fit(X, y, loss="nce+rce", clip_grad_norm=None, callbacks=[("clip", GradientNormClipping(0.05))])
    for a, b in zip(ours.module_.parameters(), skorchs.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    unclipped = _fit(X, y, loss="nce+rce", clip_grad_norm=None)
    assert not np.allclose(ours.predict_proba(X), unclipped.predict_proba(X))
    # the callback is skorch's, so its parameters are reachable the skorch way
    ours.set_params(callbacks__grad_norm_clipping__gradient_clip_value=0.5)
    assert dict(ours.callbacks_)["grad_norm_clipping"].gradient_clip_value == 0.5


def test_plain_net_drops_robust_params():
    clf = RobustLossClassifier(MLP, loss="gce", q=0.5, clip_grad_norm=None, max_epochs=2, lr=0.1)
    plain = stage1_net(clf, random_state=0)
    assert type(plain) is CrossEntropyClassifier
    params = plain.get_params()
    assert params["max_epochs"] == 2 and params["lr"] == 0.1
    assert not {"loss", "q", "clip_grad_norm"} & set(params)


# ------------------------------------------------------------- bad input
def _param(name):
    return rf"The '{name}' parameter of RobustLossClassifier must be "


_NON_NEGATIVE = r"a float in the range \[0\.0, inf\) or None"
_POSITIVE = r"a float in the range \(0\.0, inf\) or None"


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"loss": "nce+foo"}, InvalidParameterError, _param("loss") + r"a str among \{.*'nce\+rce'.*\}\. Got 'nce\+foo'"),
        ({"loss": None}, InvalidParameterError, _param("loss") + r"a str among \{.*'gce'.*\}\. Got None"),
        ({"loss": "gce", "q": 1.5}, InvalidParameterError, _param("q") + r"a float in the range \(0\.0, 1\.0\] or None\. Got 1\.5"),
        ({"loss": "ngce+rce", "q": 0.0}, InvalidParameterError, _param("q") + r"a float in the range \(0\.0, 1\.0\]"),
        ({"loss": "nce+rce", "alpha": -1.0}, InvalidParameterError, _param("alpha") + _NON_NEGATIVE + r"\. Got -1\.0"),
        ({"loss": "sce", "beta": -0.5}, InvalidParameterError, _param("beta") + _NON_NEGATIVE + r"\. Got -0\.5"),
        ({"loss": "nce+mae", "alpha": 0, "beta": 0}, ValueError, r"alpha and beta cannot both be 0"),
        ({"loss": "nce+rce", "q": 0.7}, ValueError, r"loss='nce\+rce' does not use q=0.7 \(it takes alpha, beta\)"),
        ({"loss": "ce", "gamma": 0.5}, ValueError, r"loss='ce' does not use gamma=0.5 \(it takes none of"),
        ({"loss": "gce", "alpha": 1.0, "beta": 2.0}, ValueError, r"does not use alpha=1.0, beta=2.0 \(it takes q\)"),
        ({"loss": "nfl", "gamma": -1.0}, InvalidParameterError, _param("gamma") + _NON_NEGATIVE),
        ({"alpha": "big"}, InvalidParameterError, _param("alpha") + _NON_NEGATIVE + r"\. Got 'big'"),
        ({"beta": True}, InvalidParameterError, _param("beta") + _NON_NEGATIVE + r"\. Got True"),
        (
            {"criterion": torch.nn.CrossEntropyLoss},
            InvalidParameterError,
            _param("criterion") + r"None\. .* builds its criterion from loss; .* use CrossEntropyClassifier\(criterion",
        ),
        ({"criterion__beta": 3.0}, ValueError, r"set beta with the RobustLossClassifier parameter .*not criterion__beta"),
        ({"loss": "ce", "criterion__label_min": 0.1}, TypeError, r"criterion__\* parameter \(label_min\) is not a parameter of loss 'ce'"),
        ({"clip_grad_norm": 0.0}, InvalidParameterError, _param("clip_grad_norm") + _POSITIVE + r"\. Got 0\.0 .*None disables"),
        ({"clip_grad_norm": float("inf")}, InvalidParameterError, _param("clip_grad_norm") + _POSITIVE + r"\. Got inf"),
        ({"clip_grad_norm": "5"}, InvalidParameterError, _param("clip_grad_norm") + _POSITIVE + r"\. Got '5'"),
    ],
)
def test_bad_parameters_raise_clear_errors(small_data, params, error, match):
    X, y = small_data
    clf = RobustLossClassifier(MLP, max_epochs=1, **params)
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_bad_loss_fails_before_training(small_data):
    X, y = small_data
    clf = RobustLossClassifier(MLP, loss="bogus", max_epochs=1)
    with pytest.raises(InvalidParameterError, match=_param("loss")):
        clf.fit(X, y)
    assert not clf.initialized_


# ---------------------------------------------------- sklearn integration
def test_grid_search_over_losses(small_data):
    X, y = small_data
    clf = RobustLossClassifier(MLP, **{**TINY, "max_epochs": 2})
    grid = [
        {"loss": ["ce", "nce+rce", "nce+mae"], "beta": [None]},
        {"loss": ["nce+rce"], "beta": [1.0, 10.0]},
        {"loss": ["gce"], "q": [0.5, 0.7]},
    ]
    search = GridSearchCV(clf, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 7
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.loss in ("ce", "nce+rce", "nce+mae", "gce")


def test_clone_and_pickle(small_data):
    X, y = small_data
    clf = RobustLossClassifier(MLP, loss="nfl+mae", beta=10.0, gamma=1.0, clip_grad_norm=2.0, max_epochs=2)
    copy = clone(clf)
    params = copy.get_params()
    assert (params["loss"], params["beta"], params["gamma"], params["clip_grad_norm"]) == ("nfl+mae", 10.0, 1.0, 2.0)
    assert params["alpha"] is None and params["q"] is None and params["criterion"] is None

    fitted = _fit(X, y, loss="nfl+mae", beta=10.0)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.predict_proba(X), fitted.predict_proba(X), rtol=1e-6)
    assert restored.loss_params_ == fitted.loss_params_


def test_same_seed_same_model_and_trusted_is_accepted(small_data):
    X, y = small_data
    a = _fit(X, y).predict_proba(X)
    b = RobustLossClassifier(MLP, **{**TINY, "max_epochs": 3}).fit(X, y, trusted=np.zeros(len(y), bool)).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_partial_fit_keeps_training(small_data):
    X, y = small_data
    clf = RobustLossClassifier(MLP, **{**TINY, "max_epochs": 1})
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert len(clf.history) == 2


# ------------------------------------------------------------- robustness
def test_nce_rce_beats_cross_entropy_under_60_percent_symmetric_noise():
    # 4 classes, 60% of labels flipped (exact counts): the noisy label is still
    # the most frequent per class (40% vs 20% each), but 30 epochs of a
    # 64-unit MLP let plain cross-entropy memorise the flips, while the
    # bounded APL loss cannot.
    X, y_noisy, y_clean, _ = make_noisy_classification(
        2000, 10, 4, noise="symmetric", rate=0.6, exact=True, random_state=0
    )
    X_train, X_test, y_train, _, _, y_test = train_test_split(X, y_noisy, y_clean, test_size=0.5, random_state=0)
    params = {"module__hidden_units": (64,), "max_epochs": 30, "lr": 1e-2, "batch_size": 64, "random_state": 0}
    ce = CrossEntropyClassifier(MLP, **params).fit(X_train, y_train).score(X_test, y_test)
    apl = RobustLossClassifier(MLP, loss="nce+rce", **params).fit(X_train, y_train).score(X_test, y_test)
    assert apl > ce + 0.05, (apl, ce)


# ---------------------------------------------------------- sklearn checks
_SKORCH_INIT = (
    "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ (skorch design, not ours)"
)
_EXPECTED_FAILURES = {
    "check_no_attributes_set_in_init": _SKORCH_INIT,
    "check_sample_weight_equivalence_on_dense_data": "weighted and repeated rows agree only to float32 rounding (~3e-6)",
}


# tests/test_common.py runs these checks over every exported estimator in the
# fast suite; this copy (for development before the export) is marked slow.
@pytest.mark.slow
@parametrize_with_checks(
    [make_fast_estimator(RobustLossClassifier)],
    expected_failed_checks=lambda est: dict(_EXPECTED_FAILURES),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
