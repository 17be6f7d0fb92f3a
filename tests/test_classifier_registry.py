"""The classifier registry: each method declared once, and a new entry is offered everywhere."""

import inspect

import numpy as np
import pytest

import sknoisy
from sknoisy import CLASSIFIER_METHODS, AutoNoisyClassifier, ClassifierMethod, CrossEntropyClassifier
from sknoisy._classifier_registry import _ENTRIES
from sknoisy.cli import main
from sknoisy.modules import MLP
from sknoisy.utils._testing import NEEDS_TRUSTED, all_estimators, classifier_specs


def test_every_entry_is_a_public_classifier_built_as_documented():
    public = dict(all_estimators())
    for name, m in CLASSIFIER_METHODS.items():
        assert m.name == name and m.summary and isinstance(m.estimator, type)
        assert public.get(m.estimator.__name__) is m.estimator, f"{name}: its class must be exported by sknoisy"
        signature = inspect.signature(m.estimator).parameters
        assert set(m.params) <= set(signature), f"{name}: params must be constructor parameters"
        if m.takes_transition_matrix or m.learns_transition_matrix:
            assert "transition_matrix" in signature


def test_every_public_classifier_is_a_method_of_the_registry():
    registered = {m.estimator for m in CLASSIFIER_METHODS.values()}
    classifiers = {cls for _, cls in all_estimators() if issubclass(cls, CrossEntropyClassifier)}
    assert classifiers <= registered


def test_needs_trusted_is_read_from_the_registry():
    assert NEEDS_TRUSTED == {m.estimator.__name__ for m in CLASSIFIER_METHODS.values() if m.needs_trusted}
    assert [spec[0] for spec in classifier_specs()] == list(CLASSIFIER_METHODS)


class _ToyClassifier(CrossEntropyClassifier):
    """A new method, for the test below: one class ..."""


@pytest.fixture
def toy_method(monkeypatch):
    # ... and one registry entry
    monkeypatch.setattr(sknoisy, "_ToyClassifier", _ToyClassifier, raising=False)
    monkeypatch.setitem(_ENTRIES, "toy", ClassifierMethod("toy", _ToyClassifier, "a toy method", "Nobody 2026"))
    return "toy"


def test_a_new_entry_is_tried_by_auto_and_offered_by_the_cli(toy_method, capsys):
    X, y = np.random.RandomState(0).randn(90, 4).astype(np.float32), np.arange(90) % 3
    auto = AutoNoisyClassifier(MLP, methods="auto", cv=2, max_epochs=2, random_state=0).fit(X, y)
    assert toy_method in auto.methods_
    assert isinstance(auto.search_.cv_results_["params"][auto.methods_.index("toy")]["method"], str)
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    # argparse wraps the help text wherever the entries before it end
    assert "toy: a toy method (Nobody 2026)" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "toy" in capsys.readouterr().out
    assert main(["compare", "--methods", "ce,toy", "--epochs", "1", "--quiet", "--rate", "0.2"]) == 0
    table = capsys.readouterr().out
    assert "a toy method (Nobody 2026)" in table
