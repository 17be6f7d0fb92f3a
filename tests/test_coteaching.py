"""Tests of CoTeachingClassifier (sknoisy._coteaching)."""

import numpy as np
import pytest
import torch

from sknoisy import CoTeachingClassifier
from sknoisy._data import as_training_data
from sknoisy.modules import MLP
from sknoisy.noise import make_noisy_classification
from sknoisy.persistence import load_model, save_model

TINY = {"module__hidden_units": (16,), "batch_size": 32, "lr": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y_noisy, _, _ = make_noisy_classification(150, 5, 3, noise="symmetric", rate=0.3, random_state=0)
    return X.astype(np.float32), y_noisy


def _make(**params):
    return CoTeachingClassifier(MLP, **{**TINY, "max_epochs": 2, **params})


def _weights(module):
    return torch.cat([p.detach().ravel() for p in module.parameters()])


def test_second_network_is_registered_with_skorch_and_trained(data, tmp_path):
    X, y = data
    clf = _make(max_epochs=1).fit(X, y)
    assert "module2" in clf.prefixes_ and "module2" in clf._modules
    assert not torch.equal(_weights(clf.module_), _weights(clf.module2_))
    optimized = {id(p) for group in clf.optimizer_.param_groups for p in group["params"]}
    assert {id(p) for p in clf.module2_.parameters()} <= optimized
    # skorch's own save_params / load_params know it
    clf.save_params(f_params=tmp_path / "m1.pt", f_module2=tmp_path / "m2.pt")
    other = _make(max_epochs=1, random_state=5).fit(X, y)
    other.load_params(f_params=tmp_path / "m1.pt", f_module2=tmp_path / "m2.pt")
    assert torch.equal(_weights(other.module2_), _weights(clf.module2_))


def test_a_module_instance_gets_a_twin_with_its_own_weights(data):
    X, y = data
    params = {k: v for k, v in TINY.items() if not k.startswith("module__")}
    clf = CoTeachingClassifier(MLP(5, 3, hidden_units=(8,)), max_epochs=1, **params).fit(X, y)
    assert clf.module2_ is not clf.module_
    assert not torch.equal(_weights(clf.module_), _weights(clf.module2_))


def test_forget_rate_ramps_to_its_value(data):
    clf = _make(forget_rate=0.3, ramp_epochs=4)
    assert [clf.forget_rate_at(t) for t in (0, 2, 4, 9)] == [0.0, 0.15, 0.3, 0.3]


def test_each_network_learns_from_the_rows_the_other_finds_easy(data):
    X, y = data
    clf = _make(max_epochs=1, forget_rate=0.5, ramp_epochs=1).fit(X, y)
    clf.partial_fit(X, y, epochs=1)  # epoch 1: half of each batch is dropped
    X_b, table = as_training_data(X[:10], y[:10], np.zeros(10, bool))
    X_b, table = torch.as_tensor(X_b), torch.as_tensor(table)
    for module in (clf.module_, clf.module2_):
        module.zero_grad()
    step = clf.train_step_single((X_b, table))
    with torch.no_grad():
        rows1 = torch.nn.functional.cross_entropy(clf.module_(X_b), table[:, 0], reduction="none")
        rows2 = torch.nn.functional.cross_entropy(clf.module2_(X_b), table[:, 0], reduction="none")
    for module, ranking in ((clf.module_, rows2), (clf.module2_, rows1)):
        kept = torch.argsort(ranking)[:5]
        grads = [p.grad.clone() for p in module.parameters()]
        module.zero_grad()
        torch.nn.functional.cross_entropy(module(X_b[kept]), table[kept, 0]).backward()
        for got, expected in zip(grads, (p.grad for p in module.parameters())):
            torch.testing.assert_close(got, expected)
    assert float(step["loss"].detach()) == pytest.approx(
        float(rows1[torch.argsort(rows2)[:5]].mean() + rows2[torch.argsort(rows1)[:5]].mean()), rel=1e-5
    )
    assert step["y_pred"].shape == (2, 10, 3)  # both networks' logits


def test_trusted_rows_are_always_among_the_rows_kept(data):
    X, y = data
    clf = _make(max_epochs=1, forget_rate=0.5, ramp_epochs=1).fit(X, y)
    clf.partial_fit(X, y, epochs=1)  # epoch 1: half of each batch is dropped
    with torch.no_grad():
        X_b = torch.as_tensor(X[:10])
        rows = [torch.nn.functional.cross_entropy(m(X_b), torch.as_tensor(y[:10]), reduction="none")
                for m in (clf.module_, clf.module2_)]
    # the three rows the first network finds hardest are trusted: the second network trains on them
    trusted = np.zeros(10, bool)
    trusted[torch.argsort(rows[0])[-3:].numpy()] = True
    _, table = as_training_data(X[:10], y[:10], trusted)
    step = clf.train_step_single((X_b, torch.as_tensor(table)))
    ranking = rows[0].masked_fill(torch.as_tensor(trusted), -np.inf)
    kept_by_first = torch.argsort(ranking)[:5]
    assert set(np.flatnonzero(trusted)) <= set(kept_by_first.tolist())
    expected = rows[1][kept_by_first].mean() + rows[0][torch.argsort(rows[1].masked_fill(
        torch.as_tensor(trusted), -np.inf))[:5]].mean()
    assert float(step["loss"].detach()) == pytest.approx(float(expected), rel=1e-5)


def test_predictions_are_the_first_networks(data):
    X, y = data
    clf = _make().fit(X, y)
    with torch.no_grad():
        expected = torch.softmax(clf.module_(torch.as_tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-6)


def test_uniform_sample_weight_changes_nothing(data):
    X, y = data
    plain = _make().fit(X, y).predict_proba(X)
    weighted = _make().fit(X, y, sample_weight=np.full(len(y), 2.0)).predict_proba(X)
    np.testing.assert_allclose(weighted, plain, atol=1e-6)


def test_same_random_state_same_model(data):
    X, y = data
    np.testing.assert_array_equal(_make(random_state=2).fit(X, y).predict_proba(X),
                                  _make(random_state=2).fit(X, y).predict_proba(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"forget_rate": 1.0}, r"'forget_rate' parameter of CoTeachingClassifier must be a float in the range "
                               r"\[0(\.0)?, 1(\.0)?\)\. Got 1\.0"),
        ({"forget_rate": -0.2}, r"'forget_rate' parameter .* Got -0\.2"),
        ({"forget_rate": None}, r"'forget_rate' parameter .* Got None"),
        ({"ramp_epochs": 0}, r"'ramp_epochs' parameter of CoTeachingClassifier must be an int in the range "
                             r"\[1, inf\)\. Got 0"),
    ],
)
def test_bad_parameters_are_refused_clearly(data, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        _make(**params).fit(X, y)


class _NoReduction(torch.nn.Module):
    def forward(self, logits, labels):
        return torch.nn.functional.cross_entropy(logits, labels)


def test_a_criterion_without_reduction_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="ranks rows by their own loss"):
        _make(criterion=_NoReduction).fit(X, y)


def test_save_and_load_predicts_the_same(data, tmp_path):
    X, y = data
    clf = _make().fit(X, y)
    loaded = load_model(save_model(clf, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert isinstance(loaded.module2_, torch.nn.Module)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_both_networks_train_on_the_device(data):
    X, y = data
    clf = _make(device="cuda").fit(X, y)
    assert {p.device.type for p in clf.module2_.parameters()} == {"cuda"}
    assert clf.predict_proba(X).shape == (len(X), 3)
