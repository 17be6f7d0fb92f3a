"""The duties every sknoisy classifier shares (base.py)."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch import callbacks as skorch_callbacks

from sknoisy import CrossEntropyClassifier, ForwardCorrectedClassifier, TransitionMatrixEstimator
from sknoisy._targets import split_target_table
from sknoisy.modules import MLP
from sknoisy.utils._testing import make_fast_estimator
from sknoisy._stage1 import stage1_net


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    return X.astype(np.float32), y


def test_string_labels_round_trip(data):
    X, y = data
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = make_fast_estimator(CrossEntropyClassifier).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= set(labels)
    assert clf.score(X, labels) > 0.6


def test_non_contiguous_int_labels(data):
    X, y = data
    labels = np.array([-5, 10, 42])[y]
    clf = make_fast_estimator(CrossEntropyClassifier).fit(X, labels)
    assert list(clf.classes_) == [-5, 10, 42]
    assert clf.predict_proba(X).shape == (len(X), 3)
    assert set(np.unique(clf.predict(X))) <= {-5, 10, 42}


def test_pandas_input_sets_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = make_fast_estimator(CrossEntropyClassifier).fit(df, pd.Series(y))
    assert list(clf.feature_names_in_) == list(df.columns)
    assert clf.predict(df).shape == (len(df),)


def test_same_seed_same_model_and_global_rng_untouched(data):
    X, y = data
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = make_fast_estimator(CrossEntropyClassifier).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])
    c = make_fast_estimator(CrossEntropyClassifier, random_state=1).fit(X, y)
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


def test_pickle_round_trip_same_predictions(data):
    X, y = data
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=np.eye(3)).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    np.testing.assert_array_equal(clf.transition_matrix_, again.transition_matrix_)


def test_n_classes_and_n_features_injected(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(X, y)
    assert clf.module_.net[0].in_features == X.shape[1]
    assert clf.module_.net[-1].out_features == 3
    # an explicit module__n_classes wins, and the user's own module instance is used as is
    module = torch.nn.Linear(X.shape[1], 3)
    clf = CrossEntropyClassifier(module, max_epochs=1, random_state=0).fit(X, y)
    assert clf.module_ is module


def test_user_module_returning_logits(data):
    X, y = data

    class Logits(torch.nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.lin = torch.nn.Linear(n_features, n_classes)

        def forward(self, X):
            return self.lin(X)

    clf = CrossEntropyClassifier(Logits, max_epochs=30, lr=0.05, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert clf.score(X, y) > 0.6


@pytest.mark.parametrize(
    "X_bad, message",
    [
        (np.full((10, 3), np.nan), "NaN"),
        (np.full((10, 3), np.inf), "infinity"),
        (np.zeros(10), "Expected a 2-dimensional|2D array"),
    ],
)
def test_bad_X_messages(X_bad, message):
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match=message):
        make_fast_estimator(CrossEntropyClassifier).fit(X_bad, y)


def test_bad_y_messages(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier)
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="requires y"):
        clf.fit(X, None)


def test_bad_trusted_mask_messages(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier)
    with pytest.raises(ValueError, match="has length 5 but X has 200 samples"):
        clf.fit(X, y, trusted=np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="must be a boolean mask"):
        clf.fit(X, y, trusted=np.arange(len(X)))
    with pytest.raises(ValueError, match="1-D boolean mask"):
        clf.fit(X, y, trusted=np.ones((len(X), 2), dtype=bool))


def test_predict_wrong_number_of_features(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_predict_before_fit_is_not_fitted_error(data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_fast_estimator(CrossEntropyClassifier).predict(data[0])


def test_internal_validation_split_reports_accuracy(data):
    from skorch.dataset import ValidSplit

    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, train_split=ValidSplit(4), max_epochs=3).fit(X, y)
    accs = clf.history[:, "valid_acc"]
    assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs)


def test_nan_loss_stops_with_clear_error(data):
    X, y = data
    X = X * 1e30  # finite input, but the logits overflow
    clf = make_fast_estimator(CrossEntropyClassifier, lr=1e10)
    with pytest.raises(FloatingPointError, match="training loss became"):
        clf.fit(X, y)


class _RecordTrusted(CrossEntropyClassifier):
    """Records the trusted flags seen in training batches."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if training:
            _, trusted = split_target_table(torch.as_tensor(y_true))
            self.seen_trusted_ = getattr(self, "seen_trusted_", 0) + int(trusted.sum())
        return super().get_loss(y_pred, y_true, X=X, training=training)


def test_trusted_mask_travels_with_batches(data):
    X, y = data
    mask = np.zeros(len(X), dtype=bool)
    mask[:30] = True
    clf = _RecordTrusted(MLP, max_epochs=2, random_state=0).fit(X, y, trusted=mask)
    assert clf.seen_trusted_ == 2 * 30


def test_gridsearch_pipeline_routes_trusted_slices(data):
    X, y = data
    mask = np.zeros(len(X), dtype=bool)
    mask[::4] = True
    seen = []

    class Spy(_RecordTrusted):
        def fit(self, X, y, trusted=None, **fit_params):
            seen.append((len(X), int(np.sum(trusted))))
            return super().fit(X, y, trusted=trusted, **fit_params)

    with sklearn.config_context(enable_metadata_routing=True):
        clf = Spy(MLP, max_epochs=1, random_state=0).set_fit_request(trusted=True)
        pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
        grid = GridSearchCV(pipe, {"clf__lr": [0.01, 0.1]}, cv=KFold(2))
        grid.fit(X, y, trusted=mask)
    # 2 params x 2 folds + 1 refit; each fold gets its own slice of the mask
    assert len(seen) == 5
    for n, n_trusted in seen[:4]:
        assert n == 100 and n_trusted == 25
    assert seen[4] == (200, 50)


class _LazyPairs(torch.utils.data.Dataset):
    """Items built on access, as a dataset too large for memory would be."""

    def __init__(self, X, y):
        self.X, self.y, self.reads = X, y, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return torch.from_numpy(self.X[i]), int(self.y[i])


def test_dataset_input_is_read_lazily(data):
    from skorch.helper import SliceDataset

    X, y = data
    lazy = _LazyPairs(X, y)
    X_ds = SliceDataset(lazy, idx=0)
    mask = np.arange(len(X)) < 40
    clf = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=np.eye(3)).fit(X_ds, y, trusted=mask)
    assert lazy.reads > 0
    assert clf.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(clf.predict(X_ds), clf.predict(X))
    dense = make_fast_estimator(ForwardCorrectedClassifier, transition_matrix=np.eye(3)).fit(X, y, trusted=mask)
    np.testing.assert_allclose(clf.predict_proba(X), dense.predict_proba(X), rtol=1e-5, atol=1e-6)


def test_dataset_yielding_pairs_is_refused_with_a_hint(data):
    X, y = data
    with pytest.raises(ValueError, match="must yield inputs only"):
        make_fast_estimator(CrossEntropyClassifier).fit(_LazyPairs(X, y), y)


def test_memmap_input(tmp_path, data):
    X, y = data
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mm.flush()
    X_mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    clf = make_fast_estimator(CrossEntropyClassifier).fit(X_mm, y)
    assert clf.predict(X_mm).shape == (len(X),)


def test_image_arrays_size_the_mlp_by_pixels(data):
    X, y = data
    images = np.repeat(X[:, :4], 4, axis=1).reshape(-1, 1, 4, 4)
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(images, y)
    assert clf.input_shape_ == (1, 4, 4)
    assert clf.module_.net[0].in_features == 16


def test_trusted_validation_split_scores_clean_rows_only(data):
    from sknoisy import TrustedValidSplit

    X, y = data
    mask = np.zeros(len(X), dtype=bool)
    mask[:50] = True
    clf = make_fast_estimator(CrossEntropyClassifier, train_split=TrustedValidSplit(0.4, random_state=0), max_epochs=2)
    clf.fit(X, y, trusted=mask)
    assert len(clf.history[:, "valid_acc"]) == 2
    # no trusted rows: no validation at all rather than a noisy one
    clf.fit(X, y)
    assert "valid_acc" not in clf.history[-1]
    with pytest.raises(ValueError, match="fraction must be in"):
        make_fast_estimator(CrossEntropyClassifier, train_split=TrustedValidSplit(1.5)).fit(X, y, trusted=mask)


# --------------------------------------------------------------------------- classes
def test_partial_fit_sorts_the_classes_it_is_given(data):
    X, y = data
    labels = np.array([2, 0, 1])[y]
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1)
    clf.partial_fit(X, labels, classes=[2, 0, 1])
    assert clf.classes_.tolist() == [0, 1, 2]
    # the labels were encoded by the sorted classes: same model as with sorted classes
    sorted_clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).partial_fit(X, labels, classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.predict_proba(X), sorted_clf.predict_proba(X))
    clf.partial_fit(X, labels, classes=[1, 2, 0])  # the same classes again, in any order
    assert len(clf.history) == 2


@pytest.mark.parametrize(
    "classes, message",
    [
        ([0, 0, 1, 2], "must not repeat a label"),
        ([0, 1], r"labels \[2\] that are not in classes_ \[0, 1\]"),
        (["a", "b", "c"], "that are not in classes_"),
        ([0, "a"], "that are not in classes_"),
    ],
)
def test_partial_fit_refuses_bad_classes(data, classes, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        make_fast_estimator(CrossEntropyClassifier, max_epochs=1).partial_fit(X, y, classes=classes)


def test_partial_fit_classes_must_not_change(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"differ from classes_ from the first call: \[0, 1, 2\]"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    declared = make_fast_estimator(CrossEntropyClassifier, max_epochs=1, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="differ from the classes parameter"):
        declared.partial_fit(X, y, classes=[0, 1, 2, 3])


def test_classes_parameter_declares_classes_without_rows(data):
    X, y = data
    two = y % 2
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1, classes=[2, 1, 0]).fit(X, two)
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.module_.net[-1].out_features == 3
    assert clf.predict_proba(X).shape == (len(X), 3)
    # labels of any type, declared in any order; partial_fit takes them from the parameter too
    names = np.array(["cat", "dog"])[two]
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1, classes=["emu", "dog", "cat"])
    clf.partial_fit(X, names)
    assert clf.classes_.tolist() == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    assert clone(clf).get_params()["classes"] == ["emu", "dog", "cat"]


def test_classes_parameter_errors(data):
    X, y = data
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes_ \[0, 1\]"):
        make_fast_estimator(CrossEntropyClassifier, classes=[0, 1]).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_fast_estimator(CrossEntropyClassifier, classes=[0]).fit(X, np.zeros(len(X), int))


# --------------------------------------------------------------------------- nested parameters
class _WithHelper(CrossEntropyClassifier):
    """A subclass with an estimator-valued parameter it did not list anywhere."""

    def __init__(self, module, helper=None, **kwargs):
        super().__init__(module, **kwargs)
        self.helper = helper


def test_set_params_reaches_any_nested_estimator():
    from sklearn.linear_model import LogisticRegression

    clf = _WithHelper(MLP, helper=LogisticRegression())
    clf.set_params(helper__C=0.5, lr=0.1)
    assert clf.helper.C == 0.5 and clf.lr == 0.1
    assert "helper__C" not in vars(clf)  # set on the estimator, not stored as a net attribute
    assert clf.get_params(deep=True)["helper__C"] == 0.5
    assert "helper__C" not in clf.get_params(deep=False)
    # the estimator may be replaced in the same call, as a grid search does
    clf.set_params(helper=LogisticRegression(), helper__C=2.0)
    assert clf.helper.C == 2.0
    assert clone(clf).helper.C == 2.0


def test_nested_transition_matrix_estimator_params():
    clf = ForwardCorrectedClassifier(MLP, transition_matrix=TransitionMatrixEstimator())
    clf.set_params(transition_matrix__method="gold")
    assert clf.get_params()["transition_matrix__method"] == "gold"
    assert clone(clf).transition_matrix.method == "gold"
    with pytest.raises(ValueError, match="Cannot set transition_matrix__method: transition_matrix='anchor' is not"):
        ForwardCorrectedClassifier(MLP, transition_matrix="anchor").set_params(transition_matrix__method="gold")
    with pytest.raises(ValueError, match="Cannot set lr__x"):
        CrossEntropyClassifier(MLP).set_params(lr__x=1)


def test_skorch_prefixes_keep_their_meaning(data):
    X, y = data
    clf = CrossEntropyClassifier(MLP, max_epochs=1, random_state=0).set_params(
        module__hidden_units=(7,),
        optimizer__weight_decay=0.1,
        iterator_train__shuffle=True,
        callbacks__print_log__sink=print,
    )
    clf.fit(X, y)
    assert clf.module_.net[0].out_features == 7
    assert clf.optimizer_.param_groups[0]["weight_decay"] == 0.1
    assert clf.iterator_train__shuffle is True
    clf.set_params(optimizer__weight_decay=0.2)  # skorch's virtual parameter on a fitted net
    assert clf.optimizer_.param_groups[0]["weight_decay"] == 0.2


def test_stage1_net_takes_plain_parameters_only(data):
    """One list decides: CrossEntropyClassifier's parameters, minus the correction's, criterion and classes."""
    clf = ForwardCorrectedClassifier(
        MLP,
        transition_matrix=TransitionMatrixEstimator(),
        classes=[0, 1, 2],
        criterion__reduction="sum",
        module__hidden_units=(5,),
        iterator_train__shuffle=True,
        lr=0.3,
    )
    stage1 = stage1_net(clf, random_state=4)
    assert type(stage1) is CrossEntropyClassifier
    params = stage1.get_params(deep=False)
    assert params["module__hidden_units"] == (5,) and params["iterator_train__shuffle"] is True
    assert params["lr"] == 0.3 and params["random_state"] == 4
    assert params["criterion"] is torch.nn.CrossEntropyLoss and params["classes"] is None
    assert not any(key.startswith(("criterion__", "transition_matrix")) for key in params)
    names = [name for name, _ in params["callbacks"]]
    assert names[-1] == "stage1_early_stopping"
    assert stage1_net(clf, early_stopping=False).get_params()["callbacks"] is None


# --------------------------------------------------------------------------- divergence (issue 13)
def test_divergence_without_nan_stops_with_clear_error(data):
    """Logits of 1e19 give a finite loss of 3e19 and a model at chance: that must not pass silently."""
    X, y = data
    with pytest.warns(UserWarning, match="X has values up to .* Standardize"):
        with pytest.raises(FloatingPointError, match=r"training diverged: the network's outputs \(logits\) reached"):
            make_fast_estimator(CrossEntropyClassifier).fit(X * 1e20, y)
    with pytest.raises(FloatingPointError, match=r"training diverged.*Lower the learning rate \(lr=1e\+08\)"):
        make_fast_estimator(CrossEntropyClassifier, lr=1e8, max_epochs=3).fit(X, y)


def test_divergence_of_a_bounded_loss_is_caught(data):
    """A robust (bounded) loss freezes instead of growing; the logits still tell."""
    from sknoisy import RobustLossClassifier

    X, y = data
    clf = make_fast_estimator(RobustLossClassifier, lr=1e8, optimizer=torch.optim.SGD, max_epochs=3)
    with pytest.raises(FloatingPointError, match="RobustLossClassifier: training diverged"):
        clf.fit(X, y)


def test_no_divergence_alarm_on_normal_training(data):
    """Long training to near-zero loss, and a backward-corrected loss far below zero, stay quiet."""
    from sknoisy import BackwardCorrectedClassifier

    X, y = data
    CrossEntropyClassifier(MLP, module__hidden_units=(64, 64), lr=0.05, max_epochs=150, random_state=0).fit(X, y)
    T = np.array([[0.55, 0.45, 0.0], [0.45, 0.55, 0.0], [0.0, 0.0, 1.0]])
    clf = BackwardCorrectedClassifier(MLP, transition_matrix=T, lr=0.05, max_epochs=100, random_state=0).fit(X, y)
    assert min(clf.history[:, "train_loss"]) < -10  # legitimately negative: the loss is no signal, logits are


def test_divergence_guard_limit_is_a_parameter(data):
    X, y = data
    with pytest.raises(FloatingPointError, match="max_logit=0.001"):
        make_fast_estimator(CrossEntropyClassifier, callbacks__divergence__max_logit=1e-3, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="max_logit must be a positive finite number"):
        make_fast_estimator(CrossEntropyClassifier, callbacks__divergence__max_logit=-1).fit(X, y)
    make_fast_estimator(CrossEntropyClassifier, lr=1e8, max_epochs=2, callbacks__divergence=None).fit(X, y)


# --------------------------------------------------------------------------- parameters and labels (issue 13)
@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_epochs": -1}, r"The 'max_epochs' parameter of CrossEntropyClassifier must be an int in the range \[1, inf\)\. Got -1"),
        ({"max_epochs": 0}, r"The 'max_epochs' parameter of CrossEntropyClassifier must be .* Got 0 instead"),
        ({"batch_size": 0}, r"The 'batch_size' parameter .* or a int among \{-1\}\. Got 0 instead\. \(-1 puts every row"),
        ({"lr": float("inf")}, r"The 'lr' parameter of CrossEntropyClassifier must be a float in the range \(0\.0, inf\)\. Got inf"),
        ({"device": "bogus"}, "device='bogus' is not a PyTorch device"),
    ],
)
def test_bad_parameters_are_refused_before_training(data, params, message):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)
    assert not clf.__sklearn_is_fitted__()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present here")
def test_cuda_device_without_gpu_is_named(data):
    X, y = data
    with pytest.raises(ValueError, match=r"device='cuda': PyTorch sees no CUDA GPU on this machine.*use device='cpu'"):
        make_fast_estimator(CrossEntropyClassifier, device="cuda").fit(X, y)


def test_device_check_speaks_the_callers_language():
    from sknoisy.utils._validation import check_device

    with pytest.raises(ValueError, match=r"^--device bogus is not a PyTorch device"):
        check_device("bogus", label="--device bogus", cpu_hint="--device cpu")
    assert check_device(None) is None and check_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array(["a", 1, 2] * 66 + ["a", 1], dtype=object), r"y mixes label types: 'a' \(str\) and 1 \(int\)"),
        (["a", 1, 2] * 66 + ["a", 1], "y mixes label types"),  # a list: numpy would silently make '1' a string
        ([None] + [0, 1] * 99 + [2], "y contains None at position 0"),
        (np.array([0.0, np.nan] * 100, dtype=object), "y contains NaN at position 1"),
    ],
)
def test_bad_labels_are_named(data, labels, message):
    X, _ = data
    with pytest.raises(ValueError, match=message):
        make_fast_estimator(CrossEntropyClassifier).fit(X, labels)


def test_object_array_of_int_labels_is_accepted(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(X, y.astype(object))
    assert clf.classes_.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- module outputs (issue 13)
class _Linear(torch.nn.Module):
    def __init__(self, n_features, n_classes, width=None, softmax=False):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, width or n_classes)
        self.softmax = softmax

    def forward(self, X):
        out = self.linear(X)
        return torch.softmax(out, dim=-1) if self.softmax else out


def test_module_output_width_is_checked_on_the_first_batch(data):
    X, y = data
    with pytest.raises(ValueError, match=r"outputs of shape \(64, 2\).*shape \(64, 3\).*module__n_classes=2 does not"):
        CrossEntropyClassifier(_Linear, module__n_classes=2, max_epochs=1, batch_size=64).fit(X, y)
    with pytest.raises(ValueError, match=r"outputs of shape \(64, 1\).*one output per row"):
        CrossEntropyClassifier(_Linear, module__width=1, max_epochs=1, batch_size=64).fit(X, y)
    with pytest.warns(UserWarning, match="outputs look like probabilities"):
        CrossEntropyClassifier(_Linear, module__softmax=True, max_epochs=1).fit(X, y)


def test_a_module_without_trainable_parameters_is_refused(data):
    X, y = data
    message = (r"CrossEntropyClassifier: the module Sequential has no trainable parameters \(none that requires grad\), "
               r"so training cannot change it: give a module with layers to learn, such as sknoisy.modules.MLP")
    with pytest.raises(ValueError, match=message):
        CrossEntropyClassifier(torch.nn.Sequential, max_epochs=1).fit(X, y)
    frozen = torch.nn.Linear(X.shape[1], 3).requires_grad_(False)
    with pytest.raises(ValueError, match="the module Linear has no trainable parameters"):
        CrossEntropyClassifier(frozen, max_epochs=1).fit(X, y)


def test_an_inner_network_error_names_the_estimator_being_fitted(data):
    from sknoisy import ForwardCorrectedClassifier
    from sknoisy.utils._fitting import estimator_name

    X, y = data
    # the stage-1 network of the T estimate is a CrossEntropyClassifier: the error names both
    message = r"^ForwardCorrectedClassifier \(its inner CrossEntropyClassifier\): the module returned outputs of shape"
    with pytest.raises(ValueError, match=message):
        ForwardCorrectedClassifier(_Linear, module__n_classes=2, transition_matrix="anchor", max_epochs=1).fit(X, y)
    # after the fit (and outside any), each estimator names itself again
    assert estimator_name(CrossEntropyClassifier(_Linear)) == "CrossEntropyClassifier"


def test_module_outputs_are_checked_once_per_fit(data, monkeypatch):
    X, y = data
    calls = []
    original = CrossEntropyClassifier._check_module_outputs
    monkeypatch.setattr(
        CrossEntropyClassifier, "_check_module_outputs", lambda self, *a: calls.append(1) or original(self, *a)
    )
    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=3, batch_size=16).fit(X, y)
    clf.predict(X)
    assert calls == [1]
    clf.partial_fit(X, y)
    assert calls == [1, 1]


# --------------------------------------------------------------------------- warm_start (issue 13)
def test_warm_start_refit_on_other_features_is_refused_clearly(data):
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, warm_start=True, max_epochs=1).fit(X, y)
    module = clf.module_
    with pytest.raises(ValueError, match="X has 5 features, but .* expecting 6 .*set warm_start=False"):
        clf.fit(X[:, :5], y)
    # the fitted network and its description are untouched
    assert clf.module_ is module and clf.n_features_in_ == 6 and clf.predict(X).shape == (len(X),)
    clf.fit(X, y)  # the same features: training continues
    assert len(clf.history) == 2
    clf.set_params(warm_start=False).fit(X[:, :5], y)
    assert clf.n_features_in_ == 5


# --------------------------------------------------------------------------- sample_weight (issue 13)
def _full_batch_ce(**params):
    return CrossEntropyClassifier(
        MLP, module__hidden_units=(8,), max_epochs=5, lr=0.05, batch_size=-1, random_state=0, **params
    )


def test_integer_weights_equal_repeated_rows(data):
    X, y = data
    weights = np.arange(len(X)) % 3  # 0, 1 or 2 copies of each row
    weighted = _full_batch_ce().fit(X, y, sample_weight=weights)
    repeated = _full_batch_ce().fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-4, atol=1e-5)
    plain = _full_batch_ce().fit(X, y)
    assert not np.allclose(weighted.predict_proba(X), plain.predict_proba(X), atol=1e-3)


def test_uniform_weights_change_nothing(data):
    X, y = data
    plain = make_fast_estimator(CrossEntropyClassifier, max_epochs=2).fit(X, y)
    for weights in (np.full(len(X), 7.0), 3.0, [1] * len(X)):
        again = make_fast_estimator(CrossEntropyClassifier, max_epochs=2).fit(X, y, sample_weight=weights)
        np.testing.assert_array_equal(plain.predict_proba(X), again.predict_proba(X))


def test_sample_weight_reaches_the_loss_through_batches_and_splits(data):
    from skorch.dataset import ValidSplit

    from sknoisy._targets import split_target_table, target_weights

    X, y = data
    seen = []

    class Spy(CrossEntropyClassifier):
        _supports_sample_weight = True

        def get_loss(self, y_pred, y_true, X=None, training=False):
            labels, _ = split_target_table(y_true)
            assert labels.dtype == torch.int64
            seen.append(float(target_weights(y_true).sum()))
            return super().get_loss(y_pred, y_true, X=X, training=training)

    weights = np.where(y == 0, 2.0, 1.0)
    Spy(MLP, max_epochs=1, train_split=ValidSplit(4), random_state=0).fit(X, y, sample_weight=weights)
    assert sum(seen) == pytest.approx(len(X), rel=1e-5)  # weights have mean 1: every row once, train or valid


def test_sample_weight_is_routed_like_trusted(data):
    X, y = data
    weights = np.where(y == 0, 2.0, 1.0)
    seen = []

    class Spy(CrossEntropyClassifier):
        def fit(self, X, y, trusted=None, *, sample_weight=None, **fit_params):
            seen.append(None if sample_weight is None else len(sample_weight))
            return super().fit(X, y, trusted=trusted, sample_weight=sample_weight, **fit_params)

    with sklearn.config_context(enable_metadata_routing=True):
        clf = Spy(MLP, max_epochs=1, random_state=0).set_fit_request(sample_weight=True)
        clf.set_score_request(sample_weight=False)
        GridSearchCV(clf, {"lr": [0.01]}, cv=KFold(2)).fit(X, y, sample_weight=weights)
    assert seen == [100, 100, 200]


def test_weighted_loss_needs_a_row_wise_criterion():
    from sknoisy.base import weighted_criterion_loss

    logits, labels, weight = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0]), torch.tensor([1.0, 1.0, 0.0, 2.0])
    summed = weighted_criterion_loss(torch.nn.CrossEntropyLoss(reduction="sum"), weight, logits, labels)
    assert float(summed) == pytest.approx(4 * np.log(3), rel=1e-6)
    with pytest.raises(ValueError, match="reduction='mean' or 'sum'"):
        weighted_criterion_loss(torch.nn.CrossEntropyLoss(reduction="none"), weight, logits, labels)
    criterion = torch.nn.CrossEntropyLoss()
    weighted_criterion_loss(criterion, weight, logits, labels)
    assert criterion.reduction == "mean"  # restored


class _OwnLoss(CrossEntropyClassifier):
    """A subclass that changes the loss and has not said it reads the weights."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return super().get_loss(y_pred, y_true, X=X, training=training) * 1.0


class _OwnWeightedLoss(_OwnLoss):
    _supports_sample_weight = True


def test_a_loss_that_may_ignore_weights_refuses_them(data):
    X, y = data
    weights = np.where(y == 0, 2.0, 1.0)
    with pytest.raises(NotImplementedError, match="_OwnLoss does not weight its loss by sample_weight yet"):
        _OwnLoss(MLP, max_epochs=1).fit(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match="class body"):  # also the ValueError scikit-learn's checks expect
        _OwnLoss(MLP, max_epochs=1).fit(X, y, sample_weight=weights)
    _OwnLoss(MLP, max_epochs=1).fit(X, y, sample_weight=np.ones(len(X)))  # uniform: nothing to ignore
    _OwnWeightedLoss(MLP, max_epochs=1).fit(X, y, sample_weight=weights)


def test_robust_losses_meet_the_weighting_contract(data):
    """Evidence for helper A: the APL criteria honour reduction='none', so declaring support suffices."""
    from sknoisy import RobustLossClassifier

    class Weighted(RobustLossClassifier):
        _supports_sample_weight = True

    X, y = data
    weights = np.arange(len(X)) % 3
    params = {"module__hidden_units": (8,), "max_epochs": 3, "lr": 0.05, "batch_size": -1, "random_state": 0}
    weighted = Weighted(MLP, **params).fit(X, y, sample_weight=weights)
    repeated = Weighted(MLP, **params).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-4, atol=1e-5)


def test_weighted_target_table_layout():
    from sknoisy._targets import make_target_table, split_target_table, target_labels, target_rows, target_weights

    table = make_target_table([2, 0, 1], [True, False, False], weight=[0.5, 1.0, 1.5])
    assert table.dtype == np.float64 and table.shape == (3, 4)
    labels, trusted = split_target_table(torch.as_tensor(table))
    assert labels.dtype == torch.int64 and labels.tolist() == [2, 0, 1] and trusted.tolist() == [True, False, False]
    assert target_rows(torch.as_tensor(table)).tolist() == [0, 1, 2]
    assert target_weights(torch.as_tensor(table)).dtype == torch.float32
    assert target_labels(table).dtype == np.int64
    assert target_weights(make_target_table([0, 1], [False, True])) is None


# --------------------------------------------------------------------------- callbacks, Ctrl-C in two stages
class _CountFits(skorch_callbacks.Callback):
    def __init__(self, log=None):
        self.log = log

    def on_train_begin(self, net, **kwargs):
        self.log.append(type(net).__name__)


def test_user_callbacks_belong_to_the_final_network_only(data):
    X, y = data
    log = []
    clf = ForwardCorrectedClassifier(
        MLP,
        transition_matrix=TransitionMatrixEstimator(method="anchor", cv=2),
        callbacks=[("count", _CountFits(log))],
        callbacks__count__log=log,
        callbacks__print_log__sink=lambda *a: None,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    assert log == ["ForwardCorrectedClassifier"]  # not once per fold of stage 1
    stage1 = stage1_net(clf)
    params = stage1.get_params(deep=False)
    assert "callbacks__count__log" not in params and "callbacks__print_log__sink" in params
    assert [name for name, _ in params["callbacks"]] == ["stage1_early_stopping"]


_FORWARD_CALLS = {"n": 0, "interrupt_at": None}


class _CtrlC(torch.nn.Module):
    """An MLP whose n-th forward pass (counted over every instance) is hit by Ctrl-C."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.net = MLP(n_features, n_classes, hidden_units=(8,))

    def forward(self, X):
        _FORWARD_CALLS["n"] += 1
        if _FORWARD_CALLS["n"] == _FORWARD_CALLS["interrupt_at"]:
            raise KeyboardInterrupt
        return self.net(X)


@pytest.mark.parametrize("make", ["forward-anchor", "glc"])
def test_ctrl_c_in_stage_1_ends_the_whole_fit(data, make):
    from sknoisy import GLCClassifier

    X, y = data
    trusted = np.arange(len(X)) % 4 == 0
    params = {"max_epochs": 3, "batch_size": 32, "random_state": 0}
    clf = (
        ForwardCorrectedClassifier(_CtrlC, transition_matrix="anchor", **params)
        if make == "forward-anchor"
        else GLCClassifier(_CtrlC, **params)
    )
    _FORWARD_CALLS.update(n=0, interrupt_at=3)
    with pytest.raises(KeyboardInterrupt, match=r"fit was interrupted while preparing its training.*not fitted"):
        clf.fit(X, y, trusted=trusted)
    assert _FORWARD_CALLS["n"] == 3  # promptly: no other fold, no stage 2
    assert not clf.__sklearn_is_fitted__()
    _FORWARD_CALLS.update(n=0, interrupt_at=None)
    clf.fit(X, y, trusted=trusted)  # and it can be fitted again
    assert clf.__sklearn_is_fitted__()


def test_ctrl_c_in_the_final_network_keeps_it_and_says_so(data):
    X, y = data
    _FORWARD_CALLS.update(n=0, interrupt_at=4)
    message = r"training was interrupted \(KeyboardInterrupt\) in epoch 1 of 3.*keeps the weights"
    with pytest.warns(UserWarning, match=message):
        clf = CrossEntropyClassifier(_CtrlC, max_epochs=3, batch_size=32, random_state=0).fit(X, y)
    assert clf.predict(X).shape == (len(X),)
    _FORWARD_CALLS.update(n=0, interrupt_at=4)
    with pytest.raises(KeyboardInterrupt, match="in epoch 1 of 3"):
        CrossEntropyClassifier(_CtrlC, max_epochs=3, batch_size=32, callbacks__interrupt__reraise=True).fit(X, y)
    _FORWARD_CALLS.update(n=0, interrupt_at=None)


def test_early_stopping_is_not_taken_for_an_interrupt(data):
    import warnings

    from skorch.callbacks import EarlyStopping
    from skorch.dataset import ValidSplit

    X, y = data
    clf = CrossEntropyClassifier(
        MLP, lr=0.3, max_epochs=100, train_split=ValidSplit(4), callbacks=[EarlyStopping(patience=2)], random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert len(clf.history) < 100


# --------------------------------------------------------------------------- partial_fit(epochs=N), as in skorch
def test_partial_fit_and_fit_take_skorch_epochs(data):
    X, y = data[0], data[1]
    clf = CrossEntropyClassifier(MLP, max_epochs=5, random_state=0)
    clf.partial_fit(X, y, epochs=2)
    assert len(clf.history) == 2
    clf.partial_fit(X, y, epochs=3)
    assert len(clf.history) == 5
    clf.partial_fit(X, y)  # max_epochs more
    assert len(clf.history) == 10
    assert len(CrossEntropyClassifier(MLP, max_epochs=5, random_state=0).fit(X, y, epochs=1).history) == 1
    # the same epochs trained in two calls or one give the same model
    once = CrossEntropyClassifier(MLP, max_epochs=5, random_state=0).partial_fit(X, y, epochs=4)
    twice = CrossEntropyClassifier(MLP, max_epochs=5, random_state=0).partial_fit(X, y, epochs=4)
    np.testing.assert_allclose(once.predict_proba(X), twice.predict_proba(X))


@pytest.mark.parametrize("epochs", [0, -1, 1.5, "3", True])
def test_partial_fit_refuses_bad_epochs(data, epochs):
    X, y = data[0], data[1]
    with pytest.raises(ValueError, match="The 'epochs' parameter of CrossEntropyClassifier must be an int"):
        CrossEntropyClassifier(MLP, max_epochs=1).partial_fit(X, y, epochs=epochs)


# ---------------------------------------------------------------- per-batch cost: optimizer and callbacks


def test_adam_runs_fused_unless_the_user_chooses(data):
    X, y = data
    fused = make_fast_estimator(CrossEntropyClassifier).fit(X, y)
    assert fused.optimizer_.defaults["fused"] is True
    plain = make_fast_estimator(CrossEntropyClassifier, optimizer__fused=False).fit(X, y)
    assert not plain.optimizer_.defaults["fused"]
    # the same update up to float rounding
    np.testing.assert_allclose(fused.predict_proba(X), plain.predict_proba(X), atol=1e-5)
    foreach = make_fast_estimator(CrossEntropyClassifier, optimizer__foreach=True).fit(X, y)
    assert not foreach.optimizer_.defaults["fused"] and foreach.optimizer_.defaults["foreach"]
    # an optimizer without a fused update is built as given
    rms = make_fast_estimator(CrossEntropyClassifier, optimizer=torch.optim.RMSprop).fit(X, y)
    assert isinstance(rms.optimizer_, torch.optim.RMSprop)
    # same random_state, same model
    again = make_fast_estimator(CrossEntropyClassifier).fit(X, y)
    assert np.array_equal(fused.predict_proba(X), again.predict_proba(X))


def test_a_device_without_a_fused_kernel_gets_the_default_update(data, monkeypatch):
    import sknoisy.base as base

    class NoFused(torch.optim.Adam):
        def __init__(self, params, fused=None, **kwargs):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be on a supported device")
            super().__init__(params, **kwargs)

    monkeypatch.setattr(base, "_FUSED_OPTIMIZERS", (NoFused,))
    X, y = data
    clf = make_fast_estimator(CrossEntropyClassifier, optimizer=NoFused).fit(X, y)
    assert isinstance(clf.optimizer_, NoFused) and not clf.optimizer_.defaults["fused"]
    assert len(clf.optimizer_.param_groups[0]["params"]) == len(list(clf.module_.parameters()))


def test_callbacks_are_called_for_the_methods_they_define_only(data):
    X, y = data
    calls = []

    class EpochOnly(skorch_callbacks.Callback):
        def on_epoch_end(self, net, **kwargs):
            calls.append("epoch")

    class BatchEnd(skorch_callbacks.Callback):
        def on_batch_end(self, net, training=None, **kwargs):
            calls.append("batch")

    patched = EpochOnly()
    patched.on_batch_begin = lambda net, **kwargs: calls.append("patched")  # an instance attribute counts

    clf = make_fast_estimator(CrossEntropyClassifier, max_epochs=2, batch_size=50,
                              callbacks=[("e", EpochOnly()), ("b", BatchEnd()), ("p", patched)]).fit(X, y)
    n_batches = 2 * 4  # 200 rows in batches of 50, 2 epochs
    assert calls.count("epoch") == 2 * 2 and calls.count("batch") == n_batches and calls.count("patched") == n_batches
    # new callbacks are seen at once
    calls.clear()
    clf.set_params(callbacks=[("b", BatchEnd())]).fit(X, y)
    assert calls == ["batch"] * n_batches
    # the cache of who listens travels with a pickled net and stays right
    net = make_fast_estimator(CrossEntropyClassifier, max_epochs=1).fit(X, y)
    loaded = pickle.loads(pickle.dumps(net))
    loaded.partial_fit(X, y)
    assert len(loaded.history) == 2 and np.isfinite(loaded.history[-1, "train_loss"])
