"""Tests of TrustedBlendClassifier (sknoisy/_trusted_blend.py)."""

import json

import numpy as np
import pytest
import torch

from sknoisy import (
    CLASSIFIER_METHODS,
    EarlyLearningClassifier,
    TrustedBlendClassifier,
    TrustedOnlyClassifier,
    load_model,
    save_model,
)
from sknoisy.modules import MLP
from sknoisy.utils._testing import FAST_NET_PARAMS, boundary_noise_data

FAST = {**FAST_NET_PARAMS, "max_epochs": 10}


@pytest.fixture(scope="module")
def data():
    """3 classes; the noisy labels are those of a single wrong decision boundary (input-dependent noise)."""
    return boundary_noise_data()


@pytest.fixture(scope="module")
def blend(data):
    X, y, _, trusted = data
    return TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)


def _softmax(module, X):
    with torch.no_grad():
        return torch.softmax(module.eval()(torch.as_tensor(X)), dim=1).numpy()


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
def test_predict_proba_is_the_weighted_average_of_the_two_networks(blend, data, weight):
    X = data[0]
    expected = weight * _softmax(blend.trusted_module_, X) + (1 - weight) * _softmax(blend.module_, X)
    proba = blend.set_params(trusted_weight=weight).predict_proba(X)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    blend.set_params(trusted_weight=0.5)


def test_the_elr_network_is_elr_and_the_trusted_network_the_trusted_rows_alone(blend, data):
    X, y, _, trusted = data
    elr = EarlyLearningClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    # training the trusted network first leaves the ELR network's seeded draws as they were
    np.testing.assert_allclose(_softmax(blend.module_, X), elr.predict_proba(X), atol=1e-6)
    assert blend.n_trusted_ == 60 and blend.history_[-1]["epoch"] == FAST["max_epochs"]
    alone = TrustedOnlyClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    # the same recipe (with half the steps of a full fit), from its own seed: as good, not the same weights
    acc_alone = np.mean(alone.predict(X) == data[2])
    acc_trusted_net = np.mean(_softmax(blend.trusted_module_, X).argmax(1) == data[2])
    assert abs(acc_trusted_net - acc_alone) < 0.1


def test_the_trusted_network_takes_half_the_steps_of_a_full_fit(data, monkeypatch):
    import sknoisy._trusted_blend as blend_module
    from sknoisy._trusted import _matching_epochs

    X, y, _, trusted = data
    fitted = []

    def spy(*args, **kwargs):
        fitted.append(fit_trusted_net(*args, **kwargs))
        return fitted[-1]

    fit_trusted_net = blend_module.fit_trusted_net
    monkeypatch.setattr(blend_module, "fit_trusted_net", spy)
    TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    expected = _matching_epochs(FAST["max_epochs"] // 2, FAST["batch_size"], len(y), int(trusted.sum()))
    assert len(fitted[0].history_) == expected == FAST["max_epochs"] // 2 * _matching_epochs(
        1, FAST["batch_size"], len(y), int(trusted.sum()))


def test_the_blend_beats_both_halves_under_input_dependent_noise(blend, data):
    X, _, y_clean, _ = data
    acc = {
        "blend": np.mean(blend.predict(X) == y_clean),
        "elr": np.mean(_softmax(blend.module_, X).argmax(1) == y_clean),
        "trusted": np.mean(_softmax(blend.trusted_module_, X).argmax(1) == y_clean),
    }
    # measured: blend 0.91, ELR 0.62 (it learns the wrong boundary), the trusted network 0.90
    assert acc["blend"] > acc["elr"] + 0.1
    assert acc["blend"] >= acc["trusted"] - 0.02


def test_the_optimizer_never_trains_the_trusted_network(data):
    X, y, _, trusted = data
    clf = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    in_optimizer = {id(p) for group in clf.optimizer_.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in clf.trusted_module_.parameters()}
    assert {id(p) for p in clf.module_.parameters()} <= in_optimizer
    before = {k: v.clone() for k, v in clf.trusted_module_.state_dict().items()}
    elr_before = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    clf.partial_fit(X, y, trusted=trusted, epochs=2)
    for key, value in clf.trusted_module_.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert any(not torch.equal(v, elr_before[k]) for k, v in clf.module_.state_dict().items())
    assert len(clf.history_) == FAST["max_epochs"] + 2


def test_warm_start_fit_trains_a_new_trusted_network(data):
    X, y, _, trusted = data
    clf = TrustedBlendClassifier(MLP, **FAST, warm_start=True).fit(X, y, trusted=trusted)
    first = clf.trusted_module_
    clf.fit(X, y, trusted=trusted)
    assert clf.trusted_module_ is not first
    assert len(clf.history_) == 2 * FAST["max_epochs"]


def test_same_seed_same_model_and_save_load(blend, data, tmp_path):
    X, y, _, trusted = data
    again = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    np.testing.assert_array_equal(again.predict_proba(X), blend.predict_proba(X))
    folder = save_model(blend, tmp_path / "blend")
    # the trusted network is in the weights file, not among what the manifest could not save
    assert json.loads((folder / "manifest.json").read_text())["not_saved"] == ["targets_"]
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(X), blend.predict_proba(X))
    np.testing.assert_array_equal(_softmax(loaded.trusted_module_, X), _softmax(blend.trusted_module_, X))


def test_validation_rows_are_scored_on_the_blend(data):
    X, y, _, trusted = data
    from sknoisy import TrustedValidSplit

    clf = TrustedBlendClassifier(MLP, **FAST, train_split=TrustedValidSplit(0.25)).fit(X, y, trusted=trusted)
    assert np.isfinite(clf.history_[-1]["valid_loss"])


def test_sample_weight_weights_both_networks(data):
    X, y, _, trusted = data
    w = np.where(np.arange(len(y)) % 2 == 0, 1.0, 3.0)
    a = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted, sample_weight=w)
    b = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    assert not np.allclose(_softmax(a.trusted_module_, X), _softmax(b.trusted_module_, X))
    assert not np.allclose(_softmax(a.module_, X), _softmax(b.module_, X))
    with pytest.raises(ValueError, match="sample_weight is 0 on every one of them"):
        TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted, sample_weight=np.where(trusted, 0.0, 1.0))


def test_bad_input(data):
    X, y, _, trusted = data
    with pytest.raises(ValueError, match="TrustedBlendClassifier needs trusted rows: pass fit"):
        TrustedBlendClassifier(MLP, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"'trusted_weight' parameter of TrustedBlendClassifier must be a float "
                                         r"in the range \[0\.0, 1\.0\]\. Got 1\.5"):
        TrustedBlendClassifier(MLP, **FAST, trusted_weight=1.5).fit(X, y, trusted=trusted)
    with pytest.raises(ValueError, match=r"'trusted_weight' parameter .* Got nan"):
        TrustedBlendClassifier(MLP, **FAST, trusted_weight=float("nan")).fit(X, y, trusted=trusted)
    with pytest.warns(UserWarning, match=r"no trusted row of class\(es\) \[2\]; the trusted network never"):
        clf = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted & (y != 2))
    assert clf.predict_proba(X).shape == (600, 3)


def test_registry_entry():
    entry = CLASSIFIER_METHODS["trusted_blend"]
    assert entry.estimator is TrustedBlendClassifier and entry.needs_trusted and not entry.takes_transition_matrix


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_both_networks_on_the_device(data):
    X, y, _, trusted = data
    clf = TrustedBlendClassifier(MLP, **FAST, device="cuda").fit(X, y, trusted=trusted)
    assert {p.device.type for p in clf.trusted_module_.parameters()} == {"cuda"}
    assert {p.device.type for p in clf.module_.parameters()} == {"cuda"}
    cpu = TrustedBlendClassifier(MLP, **FAST).fit(X, y, trusted=trusted)
    # the same recipe on another device: the same accuracy within a few rows, not the same bits
    assert np.mean(clf.predict(X) == cpu.predict(X)) > 0.9
