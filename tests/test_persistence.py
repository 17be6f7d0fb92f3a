"""Tests for sknoisy.persistence: a folder with a JSON manifest and torch weights, no pickle."""

import inspect
import json
import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import EarlyStopping

import sknoisy
from sknoisy import (
    BackwardCorrectedClassifier,
    CrossEntropyClassifier,
    ForwardCorrectedClassifier,
    GLCClassifier,
    MetaLossCorrectionClassifier,
    RobustLossClassifier,
    TransitionMatrixEstimator,
)
from sknoisy.modules import MLP, SmallCNN
from sknoisy.persistence import FORMAT_VERSION, load_model, read_metadata, save_model
from sknoisy.utils._testing import classifier_specs

FAST = {"module__hidden_units": (8,), "max_epochs": 2, "lr": 0.05, "batch_size": 32, "random_state": 0}
T3 = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])


class TopLevelNet(torch.nn.Module):
    """A user's own module: importable, but not on the allow-list."""

    def __init__(self, n_features, n_classes=2):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.linear(X)


class TwoNetClassifier(CrossEntropyClassifier):
    """Registers a second network, as co-teaching would: it must be saved and restored too."""

    def initialize_module(self):
        super().initialize_module()
        sizes = self._module_size_params()
        self.peer_ = MLP(n_features=sizes["n_features"], n_classes=sizes["n_classes"], hidden_units=(4,))
        return self


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 5).astype(np.float32)
    y = np.array(["ant", "bee", "cat"])[np.argmax(X[:, :3] + 0.3 * rng.randn(90, 3), axis=1)]
    trusted = np.zeros(90, dtype=bool)
    trusted[::3] = True
    return X, y, trusted


def make(name):
    return {
        "CrossEntropyClassifier": lambda: CrossEntropyClassifier(MLP, **FAST),
        "ForwardCorrectedClassifier": lambda: ForwardCorrectedClassifier(MLP, transition_matrix=T3, **FAST),
        "ForwardCorrectedClassifier(estimated T)": lambda: ForwardCorrectedClassifier(
            MLP, transition_matrix=TransitionMatrixEstimator(LogisticRegression(C=0.5), method="dual_t", cv=2), **FAST
        ),
        "BackwardCorrectedClassifier": lambda: BackwardCorrectedClassifier(MLP, transition_matrix=T3, **FAST),
        "GLCClassifier": lambda: GLCClassifier(MLP, **FAST),
        "MetaLossCorrectionClassifier": lambda: MetaLossCorrectionClassifier(MLP, meta_batch_size=8, **FAST),
        "RobustLossClassifier": lambda: RobustLossClassifier(MLP, loss="nce+rce", **FAST),
    }[name]()


ESTIMATORS = [
    "CrossEntropyClassifier",
    "ForwardCorrectedClassifier",
    "ForwardCorrectedClassifier(estimated T)",
    "BackwardCorrectedClassifier",
    "GLCClassifier",
    "MetaLossCorrectionClassifier",
    "RobustLossClassifier",
]


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """One fitted ForwardCorrectedClassifier saved once, for the tests that corrupt a copy."""
    X, y, trusted = data
    clf = make("ForwardCorrectedClassifier").fit(X, y)
    folder = save_model(clf, tmp_path_factory.mktemp("saved") / "model")
    return clf, folder


def copy_model(folder, tmp_path):
    target = tmp_path / "copy"
    target.mkdir()
    for name in ("manifest.json", "weights.pt"):
        (target / name).write_bytes((folder / name).read_bytes())
    return target


def edit_manifest(folder, edit):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


# --------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ESTIMATORS)
def test_loaded_model_predicts_exactly_as_saved(name, data, tmp_path):
    X, y, trusted = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make(name).fit(X, y, trusted=trusted)
    folder = save_model(clf, tmp_path / "model")
    loaded = load_model(folder)

    assert type(loaded) is type(clf)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.classes_.tolist() == ["ant", "bee", "cat"]
    assert loaded.n_features_in_ == 5 and loaded.input_shape_ == (5,)
    if hasattr(clf, "transition_matrix_"):
        np.testing.assert_array_equal(loaded.transition_matrix_, clf.transition_matrix_)
    assert set(loaded.get_params(deep=False)) == set(clf.get_params(deep=False))
    assert loaded.get_params()["module__hidden_units"] == (8,)


def test_nested_parameters_and_callbacks_round_trip(data, tmp_path):
    X, y, _ = data
    clf = make("ForwardCorrectedClassifier(estimated T)")
    clf.set_params(callbacks=[("stop", EarlyStopping(patience=3, monitor="train_loss"))])
    clf.fit(X, y)
    loaded = load_model(save_model(clf, tmp_path / "model"))
    estimator = loaded.transition_matrix
    assert isinstance(estimator, TransitionMatrixEstimator)
    assert estimator.method == "dual_t" and estimator.cv == 2
    assert isinstance(estimator.estimator, LogisticRegression) and estimator.estimator.C == 0.5
    # callbacks are code: never rebuilt from a folder, only recorded for a reader
    assert loaded.callbacks is None
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert "EarlyStopping" in manifest["not_restored"]["callbacks"] and "callbacks" not in manifest["params"]
    # the rebuilt estimator trains again like the original
    loaded.set_params(max_epochs=1).fit(X, y)
    assert loaded.predict(X).shape == (90,)


def test_images_dataframes_and_device(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(1)
    X = rng.rand(40, 1, 8, 8).astype(np.float32)
    y = rng.randint(0, 2, 40)
    cnn = CrossEntropyClassifier(SmallCNN, module__channels=(4, 4), max_epochs=1, random_state=0).fit(X, y)
    loaded = load_model(save_model(cnn, tmp_path / "cnn"), device="cpu")
    assert loaded.input_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(loaded.predict_proba(X), cnn.predict_proba(X))

    frame = pd.DataFrame(rng.randn(40, 3).astype(np.float32), columns=["a", "b", "c"])
    mlp = CrossEntropyClassifier(MLP, **FAST).fit(frame, y)
    loaded = load_model(save_model(mlp, tmp_path / "frame"))
    assert loaded.feature_names_in_.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict_proba(frame), mlp.predict_proba(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"a": "z"}))


def test_loading_leaves_the_global_torch_rng_alone(saved):
    _, folder = saved
    before = torch.random.get_rng_state()
    load_model(folder)
    assert torch.equal(before, torch.random.get_rng_state())


def test_manifest_is_readable_json(saved):
    clf, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "weights.pt"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "sknoisy-model" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["estimator"] == "sknoisy.ForwardCorrectedClassifier"
    assert manifest["params"]["module"] == {"__class__": "sknoisy.modules.MLP"}
    assert manifest["params"]["optimizer"] == {"__class__": "torch.optim.Adam"}
    assert manifest["params"]["module__hidden_units"] == {"__tuple__": [8]}
    assert manifest["fitted"]["classes_"]["__ndarray__"] == ["ant", "bee", "cat"]
    assert manifest["fitted"]["transition_matrix_"]["__ndarray__"] == clf.transition_matrix_.tolist()
    assert set(manifest["versions"]) >= {"sknoisy", "torch", "skorch", "scikit-learn", "numpy"}
    # a matrix row is one line, so a person can read T
    assert "[0.8, 0.1, 0.1]" in (folder / "manifest.json").read_text()
    # the weights are a plain state_dict that torch loads without unpickling objects
    state = torch.load(folder / "weights.pt", weights_only=True)
    assert set(state) == {"module_", "criterion_", "optimizer_"}
    assert set(state["module_"]) == set(clf.module_.state_dict())


def test_saving_again_replaces_a_saved_model(saved, data, tmp_path):
    clf, folder = saved
    target = copy_model(folder, tmp_path)
    X, y, _ = data
    other = CrossEntropyClassifier(MLP, **{**FAST, "random_state": 1}).fit(X, y)
    save_model(other, target)
    np.testing.assert_array_equal(load_model(target).predict_proba(X), other.predict_proba(X))
    assert not list(target.glob("*.tmp"))


# --------------------------------------------------------------------------
# what cannot be saved
# --------------------------------------------------------------------------
def test_refuses_a_module_instance(data, tmp_path):
    X, y, _ = data
    clf = CrossEntropyClassifier(MLP(n_features=5, n_classes=3), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"module: holds a MLP instance.*pass the class"):
        save_model(clf, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_refuses_a_lambda_and_a_local_class(data, tmp_path):
    X, y, _ = data
    clf = CrossEntropyClassifier(MLP, **FAST).fit(X, y)
    clf.set_params(predict_nonlinearity=lambda logits: logits)
    with pytest.raises(ValueError, match=r"predict_nonlinearity: holds .*<lambda>; a model folder holds no code"):
        save_model(clf, tmp_path / "model")

    class LocalNet(TopLevelNet):
        pass

    local = CrossEntropyClassifier(LocalNet, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"module: class .*LocalNet is defined inside a function"):
        save_model(local, tmp_path / "model")


def test_refuses_unfitted_and_foreign_estimators(tmp_path):
    with pytest.raises(NotFittedError, match="call fit before save_model"):
        save_model(CrossEntropyClassifier(MLP), tmp_path / "model")
    with pytest.raises(TypeError, match="save_model saves sknoisy's classifiers"):
        save_model(LogisticRegression(), tmp_path / "model")


def test_refuses_a_file_or_a_folder_of_other_files(saved, tmp_path):
    clf, _ = saved
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        save_model(clf, tmp_path / "file")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no saved model"):
        save_model(clf, tmp_path / "busy")


# --------------------------------------------------------------------------
# bad folders
# --------------------------------------------------------------------------
def test_missing_folder_and_files(saved, tmp_path):
    _, folder = saved
    with pytest.raises(ValueError, match="no such model folder"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"manifest\.json: missing"):
        load_model(tmp_path / "empty")
    target = copy_model(folder, tmp_path)
    (target / "weights.pt").unlink()
    with pytest.raises(ValueError, match=r"weights\.pt: missing"):
        load_model(target)


def test_corrupt_files_name_the_file(saved, tmp_path):
    _, folder = saved
    target = copy_model(folder, tmp_path)
    (target / "weights.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"weights\.pt: not a weights file written by torch\.save"):
        load_model(target)
    (target / "manifest.json").write_text("{ not json")
    with pytest.raises(ValueError, match=r"manifest\.json: not valid JSON"):
        load_model(target)
    (target / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match=r"manifest\.json: not a sknoisy model manifest"):
        load_model(target)


def test_weights_that_do_not_fit_the_module(saved, tmp_path):
    _, folder = saved
    target = copy_model(folder, tmp_path)
    edit_manifest(target, lambda m: m["params"].update(module__hidden_units={"__tuple__": [16]}))
    with pytest.raises(ValueError, match=r"weights\.pt: the weights do not fit the module"):
        load_model(target)


class Payload:
    """Unpickling this would call print: what a malicious weights file would do."""

    def __reduce__(self):
        return (print, ("code from the file ran",))


def test_code_in_the_weights_is_never_run(saved, tmp_path, capsys):
    _, folder = saved
    target = copy_model(folder, tmp_path)
    torch.save({"layer": Payload()}, target / "weights.pt")
    with pytest.raises(ValueError, match=r"weights\.pt: not a readable weights file \(it holds objects other than tensors"):
        load_model(target)
    assert "code from the file ran" not in capsys.readouterr().out
    torch.save({"layer": [1, 2]}, target / "weights.pt")
    with pytest.raises(ValueError, match=r"weights\.pt: lacks module_; it does not belong to the manifest"):
        load_model(target)
    state = torch.load(folder / "weights.pt", weights_only=True)
    torch.save({**state, "module_": {"layer": [1, 2]}}, target / "weights.pt")
    with pytest.raises(ValueError, match=r"weights\.pt: module_ does not hold a state_dict of tensors"):
        load_model(target)
    torch.save({**state, "optimizer_": {"layer": 1}}, target / "weights.pt")
    with pytest.raises(ValueError, match=r"weights\.pt: optimizer_ does not hold an optimizer's state_dict"):
        load_model(target)


def test_format_versions(saved, tmp_path):
    _, folder = saved
    target = copy_model(folder, tmp_path)
    edit_manifest(target, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match=rf"model format {FORMAT_VERSION + 1}; this sknoisy .* reads formats up to "
                                         rf"{FORMAT_VERSION}\. Upgrade sknoisy"):
        load_model(target)
    edit_manifest(target, lambda m: m.update(format_version="one"))
    with pytest.raises(ValueError, match="unknown model format version 'one'"):
        load_model(target)


def test_only_allow_listed_classes_are_imported(saved, tmp_path):
    _, folder = saved
    target = copy_model(folder, tmp_path)
    edit_manifest(target, lambda m: m["params"].update(module={"__class__": "subprocess.Popen"}))
    with pytest.raises(ValueError, match=r"'subprocess\.Popen', which is not on sknoisy's allow-list"):
        load_model(target)
    edit_manifest(target, lambda m: m["params"].update(module={"__class__": "sknoisy.persistence.load_model"}))
    with pytest.raises(ValueError, match="is not a class sknoisy may load"):
        load_model(target)
    edit_manifest(target, lambda m: m["params"].update(module={"__class__": "sknoisy.__main__.main"}))
    with pytest.raises(ValueError, match="is not a class path"):
        load_model(target)
    mlp = {"__class__": "sknoisy.modules.MLP"}
    edit_manifest(target, lambda m: m["params"].update(module=mlp, verbose={"__function__": "builtins.eval"}))
    with pytest.raises(ValueError, match="verbose: names a function; a model folder never holds code"):
        load_model(target)
    edit_manifest(target, lambda m: m["params"].update(verbose=0))
    load_model(target)  # the folder is sound again
    edit_manifest(target, lambda m: m.update(estimator="sknoisy.modules.MLP"))
    with pytest.raises(ValueError, match="is not a sknoisy classifier"):
        load_model(target)


def test_a_users_own_module_loads_when_trusted(data, tmp_path):
    X, y, _ = data
    clf = CrossEntropyClassifier(TopLevelNet, max_epochs=1, random_state=0).fit(X, y)
    folder = save_model(clf, tmp_path / "model")
    path = json.loads((folder / "manifest.json").read_text())["params"]["module"]["__class__"]
    assert path.endswith("TopLevelNet")
    with pytest.raises(ValueError, match=rf"allowed_classes=\['{path}'\]"):
        load_model(folder)
    loaded = load_model(folder, allowed_classes=[path])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# --------------------------------------------------------------------------
# the caller's metadata
# --------------------------------------------------------------------------
def test_metadata_round_trips_and_leaves_the_model_alone(saved, data, tmp_path):
    clf, _ = saved
    X, _, _ = data
    metadata = {"features": ["a", "b"], "scale": [1.5, 2.0], "nested": {"n": 3, "ok": True, "none": None}}
    folder = save_model(clf, tmp_path / "m", metadata=metadata)
    assert read_metadata(folder) == metadata
    assert json.loads((folder / "manifest.json").read_text())["metadata"] == metadata
    assert np.array_equal(load_model(folder).predict_proba(X), clf.predict_proba(X))


def test_metadata_is_empty_when_none_was_given(saved):
    _, folder = saved
    assert read_metadata(folder) == {}


@pytest.mark.parametrize(
    "metadata, match",
    [
        ([1, 2], "metadata must be a dict"),
        ({"x": float("nan")}, "plain JSON"),
        ({"x": np.zeros(2)}, "plain JSON"),
        ({"x": object()}, "plain JSON"),
    ],
)
def test_metadata_that_is_not_plain_json_is_refused(saved, tmp_path, metadata, match):
    clf, _ = saved
    with pytest.raises(ValueError, match=match):
        save_model(clf, tmp_path / "m", metadata=metadata)
    assert not (tmp_path / "m").exists()  # refused before anything was written


def test_read_metadata_of_a_damaged_folder(saved, tmp_path):
    _, folder = saved
    with pytest.raises(ValueError, match="no such model folder"):
        read_metadata(tmp_path / "nowhere")
    copy = copy_model(folder, tmp_path)
    edit_manifest(copy, lambda m: m.update(metadata=[1, 2]))
    with pytest.raises(ValueError, match="'metadata' must be an object"):
        read_metadata(copy)


# --------------------------------------------------------------------------
# every learned tensor persists
# --------------------------------------------------------------------------
def _fast(cls, **overrides):
    from sknoisy.utils._testing import make_fast_estimator

    return make_fast_estimator(cls, **{"max_epochs": 3, **overrides})


def _round_trips():
    """Every method of the classifier registry (with a given T where it takes one, to skip stage 1), and a
    method that learns its T by default once more with T given."""
    trips = {}
    for name, cls, kwargs in classifier_specs(T3):
        entry = sknoisy.CLASSIFIER_METHODS[name]
        if entry.takes_transition_matrix and entry.learns_transition_matrix:
            trips[f"{name} (given T)"] = (cls, kwargs)
            # its own default (make_fast_estimator would otherwise give it a quick estimate)
            kwargs = {**kwargs, "transition_matrix": inspect.signature(cls).parameters["transition_matrix"].default}
        trips[name] = (cls, kwargs)
    return trips


ROUND_TRIPS = _round_trips()

#: Training state a model folder leaves out on purpose (listed in its manifest's ``not_saved``): a loaded
#: teacher method keeps only the student, a loaded ELR restarts its running targets (tests/test_elr.py).
UNSAVED_TRAINING_STATE = {"teacher": {"teacher_"}, "elr": {"targets_"}, "trusted_blend": {"targets_"}}


def _states(net):
    names = list(net._modules) + list(net._criteria) + list(net._optimizers)
    return {name: getattr(net, name + "_").state_dict() for name in names}


def _assert_same(a, b, where):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_every_state_dict_round_trips_and_partial_fit_continues_identically(name, data, tmp_path):
    X, y, trusted = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls, kwargs = ROUND_TRIPS[name]
        clf = _fast(cls, **kwargs).fit(X, y, trusted=trusted)
        folder = save_model(clf, tmp_path / "model")
        loaded = load_model(folder)
        _assert_same(_states(clf), _states(loaded), name)
        # 3 epochs, or more where a method matches the optimizer steps of a full fit (trusted_only)
        assert len(loaded.history_) == len(clf.history_) >= 3
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
        if hasattr(clf, "transition_matrix_"):
            np.testing.assert_array_equal(loaded.transition_matrix_, clf.transition_matrix_)
        if name == "forward":
            # the loaded criterion holds the learned T, not the initial one it is built with
            from sknoisy._loss_correction import volmin_initial_transition_matrix

            restored = loaded.criterion_.transition_matrix.double().numpy()
            np.testing.assert_array_equal(restored, clf.transition_matrix_)
            assert not np.allclose(restored, volmin_initial_transition_matrix(3), atol=1e-4)
        not_saved = set(json.loads((folder / "manifest.json").read_text())["not_saved"])
        assert not_saved & {"teacher_", "targets_"} == UNSAVED_TRAINING_STATE.get(name, set())
        if name == "teacher":
            with pytest.raises(ValueError, match="has no teacher_ .a model loaded by load_model keeps only the student"):
                loaded.partial_fit(X, y, trusted=trusted)
        if name in UNSAVED_TRAINING_STATE:
            return  # training does not continue identically, by design
        for net in (clf, loaded):
            net.set_params(max_epochs=1).partial_fit(X, y, trusted=trusted)
    _assert_same(_states(clf), _states(loaded), f"{name} after partial_fit")
    if hasattr(clf, "transition_matrix_"):
        np.testing.assert_array_equal(loaded.transition_matrix_, clf.transition_matrix_)


def test_sknoisy_early_stopping_restores_the_best_epochs_learned_t(data):
    from sknoisy.callbacks import EarlyStopping as StateEarlyStopping

    X, y, _ = data
    seen = {}

    class Record(EarlyStopping):  # keeps the criterion's T of every epoch, to compare with the restored one
        def on_epoch_end(self, net, **kwargs):
            seen[len(net.history)] = net.criterion_.transition_matrix.clone()

    stop = StateEarlyStopping(monitor="train_loss", patience=2, load_best=True, lower_is_better=False)
    clf = _fast(ForwardCorrectedClassifier, transition_matrix="volmin", max_epochs=6,
                callbacks=[("record", Record()), ("stop", stop)])
    clf.fit(X, y)
    best = stop.best_epoch_
    assert best != len(clf.history)  # it stopped after a worse epoch, so there is something to restore
    torch.testing.assert_close(clf.criterion_.transition_matrix, seen[best], rtol=0, atol=0)
    np.testing.assert_array_equal(clf.transition_matrix_, seen[best].double().numpy())


def test_an_interrupted_save_leaves_the_old_model_loadable(saved, data, tmp_path, monkeypatch):
    clf, folder = saved
    X, y, _ = data
    target = copy_model(folder, tmp_path)
    other = CrossEntropyClassifier(MLP, **{**FAST, "random_state": 1}).fit(X, y)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import sknoisy.persistence as persistence

    for where in ("torch.save", "rename"):
        with monkeypatch.context() as patch:
            if where == "torch.save":
                patch.setattr(torch, "save", interrupted)
            else:
                real = os.rename
                calls = []

                def second_rename_interrupted(src, dst):
                    calls.append(src)
                    if len(calls) == 2:  # the old model is moved aside, the new one not yet in place
                        raise KeyboardInterrupt
                    return real(src, dst)

                patch.setattr(persistence.os, "rename", second_rename_interrupted)
            with pytest.raises(KeyboardInterrupt):
                save_model(other, target)
        np.testing.assert_array_equal(load_model(target).predict_proba(X), clf.predict_proba(X))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no temporary folder left
    save_model(other, target)
    np.testing.assert_array_equal(load_model(target).predict_proba(X), other.predict_proba(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]


def test_an_extra_network_a_method_registers_is_saved_and_restored(data, tmp_path):
    X, y, _ = data
    clf = TwoNetClassifier(MLP, **FAST).fit(X, y)
    assert clf._modules == ["module", "peer"]
    folder = save_model(clf, tmp_path / "model")
    path = json.loads((folder / "manifest.json").read_text())["estimator"]
    loaded = load_model(folder, allowed_classes=[path])
    assert set(torch.load(folder / "weights.pt", weights_only=True)) == {"module_", "peer_", "criterion_", "optimizer_"}
    _assert_same(_states(clf), _states(loaded), "two networks")
