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

from sknoisy import CrossEntropyClassifier, ForwardCorrectedClassifier
from sknoisy.modules import MLP
from sknoisy.utils._testing import make_fast_estimator


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
            self.seen_trusted_ = getattr(self, "seen_trusted_", 0) + int(torch.as_tensor(y_true)[:, 1].sum())
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
