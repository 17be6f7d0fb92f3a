"""Scale: many classes, data larger than memory, distributed grid search, accelerate, GPU.

What is proved here, and how:

* many classes (C = 1000): every T estimator and every loss gives finite
  results of the right shape, runs without a Python loop over samples (the
  lines of sknoisy code executed are counted and stay far below n_samples)
  and without big temporaries (tracemalloc peak); the classifiers train an
  epoch with C = 1000;
* larger than memory: a memory-mapped X and a lazy torch Dataset (wrapped
  in skorch's SliceDataset) are fitted and predicted without being copied
  whole (tracemalloc for the memmap; an ``__array__`` that raises for the
  Dataset, so any ``np.asarray(X)`` fails loudly);
* a GridSearchCV over correction methods run on a 2-worker Dask
  LocalCluster (loopback) finds the same best parameters as the sequential
  run;
* skorch's AccelerateMixin combines with the sknoisy classifiers (one CPU
  process);
* with a GPU: every estimator trains with device='cuda', its T buffer lives
  on the device, and no loss synchronises with the host.

The timings and peak memory of the closing note are measured by
benchmarks/speed.py and benchmarks/scale.py, not here.
"""

import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from skorch.helper import SliceDataset

import sknoisy
from sknoisy import (
    CrossEntropyClassifier,
    ForwardCorrectedClassifier,
    GLCClassifier,
    MetaLossCorrectionClassifier,
    TransitionMatrixEstimator,
    make_noisy_classification,
    make_transition_matrix,
)
from sknoisy.losses import (
    LOSS_NAMES,
    BackwardCorrectedCrossEntropy,
    ForwardCorrectedCrossEntropy,
    make_loss,
)
from sknoisy.modules import MLP
from sknoisy.transition import estimate_anchor, estimate_dual_t, estimate_gold
from sknoisy.utils._testing import classifier_specs

#: The registry's methods that need trusted rows (two-stage tests of their own below).
NEEDS_TRUSTED_METHODS = {name for name, m in sknoisy.CLASSIFIER_METHODS.items() if m.needs_trusted}

N_MANY = 5000
C_MANY = 1000
_SKNOISY_DIR = os.path.dirname(os.path.abspath(sknoisy.__file__))

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ---------------------------------------------------------------- helpers
def _run_counting_lines(fn, *args, **kwargs):
    """Call ``fn`` and count the Python lines executed inside the sknoisy package.

    A Python loop over samples would execute at least one line per sample,
    so a count far below n_samples proves the work is vectorised.
    """
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_trace(frame, event, arg):
        if frame.f_code.co_filename.startswith(_SKNOISY_DIR):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, count


def _traced_peak(fn, *args, **kwargs):
    """Call ``fn``; return its result and the tracemalloc peak (bytes) during the call."""
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def _all_estimator_specs(T):
    """(id, class, kwargs) of every classifier of the registry, with a given T where one is taken."""
    return classifier_specs(T)


# ------------------------------------------------------------ many classes
@pytest.fixture(scope="module")
def many_class_proba():
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((N_MANY, C_MANY))
    logits -= logits.max(axis=1, keepdims=True)
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    labels = np.arange(N_MANY) % C_MANY  # every class present (gold needs them all)
    return proba, labels


@pytest.mark.filterwarnings("ignore:No sample is predicted:UserWarning")
@pytest.mark.parametrize(
    "method, quantile",
    [("anchor", None), ("anchor", 0.97), ("dual_t", None), ("dual_t", 0.97), ("gold", None)],
)
def test_transition_estimators_with_1000_classes(many_class_proba, method, quantile):
    proba, labels = many_class_proba
    if method == "anchor":
        call = (estimate_anchor, (proba,), {"quantile": quantile})
    elif method == "dual_t":
        call = (estimate_dual_t, (proba, labels), {"quantile": quantile})
    else:
        call = (estimate_gold, (proba, labels), {})
    fn, args, kwargs = call
    (T, lines), peak = _traced_peak(_run_counting_lines, fn, *args, **kwargs)
    assert T.shape == (C_MANY, C_MANY)
    assert np.all(np.isfinite(T))
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-9)
    # vectorised: a loop over the 5000 samples would run >= 5000 lines
    assert lines < N_MANY // 10, f"{lines} lines of sknoisy code for {N_MANY} samples"
    # no (n, C, C) or (C, C, C) temporaries and no pile of full copies
    assert peak < 3 * proba.nbytes, f"peak {peak / 1e6:.0f} MB for a {proba.nbytes / 1e6:.0f} MB input"


@pytest.fixture(scope="module")
def many_class_T():
    return make_transition_matrix("symmetric", C_MANY, 0.2)


def _many_class_losses(T):
    losses = [
        ("forward", lambda: ForwardCorrectedCrossEntropy(T)),
        ("backward", lambda: BackwardCorrectedCrossEntropy(T)),
    ]
    losses += [(name, lambda name=name: make_loss(name)) for name in LOSS_NAMES]
    return losses


@pytest.mark.parametrize("name", ["forward", "backward", *LOSS_NAMES])
def test_losses_with_1000_classes(many_class_T, name):
    criterion = dict(_many_class_losses(many_class_T))[name]()
    gen = torch.Generator().manual_seed(0)
    logits = (3.0 * torch.randn(N_MANY, C_MANY, generator=gen)).requires_grad_()
    target = torch.randint(0, C_MANY, (N_MANY,), generator=gen)

    def forward_backward():
        loss = criterion(logits, target)
        loss.backward()
        return loss

    loss, lines = _run_counting_lines(forward_backward)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert logits.grad.shape == (N_MANY, C_MANY)
    assert torch.isfinite(logits.grad).all()
    assert lines < N_MANY // 10, f"{lines} lines of sknoisy code for a batch of {N_MANY}"
    if hasattr(criterion, "reduction"):
        criterion.reduction = "none"
        with torch.no_grad():
            per_sample = criterion(logits, target)
        assert per_sample.shape == (N_MANY,) and torch.isfinite(per_sample).all()


@pytest.fixture(scope="module")
def many_class_data():
    n_per_class, n_features = 2, 16
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(C_MANY), n_per_class)
    X = rng.standard_normal((len(y), n_features)).astype(np.float32)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[::n_per_class] = True  # one trusted row per class
    return X, y, trusted


# The given T is built in the test (the fixture is not reachable from parametrize).
_MANY_CLASS_SPECS = [
    spec for spec in classifier_specs("given") if spec[0] != "backward"  # covered by the loss test, see below
] + [("forward-That", ForwardCorrectedClassifier, {"transition_matrix": "anchor"})]


# (backward correction at C = 1000 is covered by the loss test: the classifier
# adds only the SVD of T, about a second per inversion.)
@pytest.mark.parametrize("cls, kwargs", [s[1:] for s in _MANY_CLASS_SPECS], ids=[s[0] for s in _MANY_CLASS_SPECS])
def test_classifiers_fit_one_epoch_with_1000_classes(many_class_data, many_class_T, cls, kwargs):
    if kwargs.get("transition_matrix") == "given":
        kwargs = {**kwargs, "transition_matrix": many_class_T}
    X, y, trusted = many_class_data
    clf = cls(MLP, module__hidden_units=(32,), max_epochs=1, batch_size=256, random_state=0, **kwargs)
    with warnings.catch_warnings():
        # 2 rows per class: fewer than some folds or splits want; that is the point here.
        warnings.simplefilter("ignore", UserWarning)
        clf.fit(X, y, trusted=trusted)
    proba = clf.predict_proba(X[:50])
    assert proba.shape == (50, C_MANY)
    assert np.all(np.isfinite(proba))
    if hasattr(clf, "transition_matrix_"):
        assert clf.transition_matrix_.shape == (C_MANY, C_MANY)


# --------------------------------------------------- larger than memory
N_BIG, F_BIG = 4000, 512  # an 8 MB float32 X: big enough for tracemalloc to see a copy


@pytest.fixture(scope="module")
def memmap_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("memmap") / "X.npy"
    rng = np.random.default_rng(0)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(N_BIG, F_BIG))
    centers = rng.standard_normal((3, F_BIG)).astype(np.float32)
    y = np.arange(N_BIG) % 3
    for start in range(0, N_BIG, 1000):
        stop = start + 1000
        X[start:stop] = centers[y[start:stop]] + rng.standard_normal((stop - start, F_BIG), dtype=np.float32)
    X.flush()
    del X
    return path, y


def _memmap_specs():
    T = make_transition_matrix("symmetric", 3, 0.2)
    return [
        ("ce", CrossEntropyClassifier, {}),
        ("forward", ForwardCorrectedClassifier, {"transition_matrix": T}),
        ("forward-estimated", ForwardCorrectedClassifier, {"transition_matrix": "anchor"}),
    ]


def _check_memmap_not_copied(path, y, mode, spec):
    _, cls, kwargs = _memmap_specs()[spec]
    X = np.load(path, mmap_mode=mode)
    assert isinstance(X, np.memmap)
    # batches of 128 rows (256 KB) are copied one at a time; X (8 MB) never whole
    params = dict(module__hidden_units=(16,), max_epochs=1, batch_size=128, random_state=0, **kwargs)
    # one untraced warm-up: torch and skorch allocate lazily on their first fit
    cls(MLP, **params).fit(np.asarray(X[:300]), y[:300]).predict(np.asarray(X[:10]))
    clf = cls(MLP, **params)
    _, peak_fit = _traced_peak(clf.fit, X, y)
    pred, peak_predict = _traced_peak(clf.predict, X)
    assert pred.shape == (N_BIG,)
    assert np.mean(pred == y) > 0.9
    limit = X.nbytes // 4
    assert peak_fit < limit, f"fit allocated {peak_fit / 1e6:.1f} MB for a {X.nbytes / 1e6:.0f} MB memmap"
    assert peak_predict < limit, f"predict allocated {peak_predict / 1e6:.1f} MB for a {X.nbytes / 1e6:.0f} MB memmap"


@pytest.mark.parametrize("mode", ["r", "r+"], ids=["read-only", "read-write"])
@pytest.mark.parametrize("spec", [0, 1], ids=["ce", "forward-given-T"])
def test_memmap_is_read_in_batches(memmap_file, spec, mode):
    path, y = memmap_file
    _check_memmap_not_copied(path, y, mode, spec)


def test_memmap_with_estimated_transition_matrix_is_read_in_batches(memmap_file):
    path, y = memmap_file
    _check_memmap_not_copied(path, y, "r", 2)


class LazyDataset(torch.utils.data.Dataset):
    """(x, y) items generated on access, as a data set too large for memory would be.

    ``np.asarray`` of it (or of a SliceDataset over it) fails: any code that
    materialises X whole is caught.
    """

    n_features = 8

    def __init__(self, n_samples, n_classes=3):
        self.n_samples = n_samples
        self.n_classes = n_classes
        gen = torch.Generator().manual_seed(1234)
        self.centers = 2.0 * torch.randn(n_classes, self.n_features, generator=gen)
        self.reads = 0

    def __len__(self):
        return self.n_samples

    def label(self, i):
        return int(i) % self.n_classes

    def __getitem__(self, i):
        if not 0 <= i < self.n_samples:
            raise IndexError(i)
        self.reads += 1
        gen = torch.Generator().manual_seed(int(i))
        x = self.centers[self.label(i)] + torch.randn(self.n_features, generator=gen)
        return x, self.label(i)

    def __array__(self, *args, **kwargs):
        raise AssertionError("the lazy Dataset was materialised whole with np.asarray")


@pytest.fixture
def forbid_materialising(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("the SliceDataset was materialised whole with np.asarray")

    monkeypatch.setattr(SliceDataset, "__array__", refuse)


def _lazy_data(n=240):
    ds = LazyDataset(n)
    y = np.array([ds.label(i) for i in range(n)])
    trusted = np.arange(n) % 4 == 0
    return ds, SliceDataset(ds, idx=0), y, trusted


def _lazy_fit_predict(cls, kwargs):
    ds, X, y, trusted = _lazy_data()
    clf = cls(MLP, module__hidden_units=(16,), max_epochs=3, lr=0.05, batch_size=32, random_state=0, **kwargs)
    clf.fit(X, y, trusted=trusted)
    reads_fit = ds.reads
    pred = clf.predict(X)
    assert reads_fit > 0 and ds.reads > reads_fit  # both read item by item
    assert pred.shape == y.shape
    assert np.mean(pred == y) > 0.8
    return clf


_T3 = make_transition_matrix("symmetric", 3, 0.2)
_LAZY_SPECS = [spec for spec in _all_estimator_specs(_T3) if spec[0] != "mlc"]  # MLC: own test below


@pytest.mark.parametrize("cls, kwargs", [s[1:] for s in _LAZY_SPECS], ids=[s[0] for s in _LAZY_SPECS])
def test_lazy_dataset_fit_predict(forbid_materialising, cls, kwargs):
    _lazy_fit_predict(cls, kwargs)


def test_lazy_dataset_fit_predict_mlc(forbid_materialising):
    _lazy_fit_predict(MetaLossCorrectionClassifier, {})


@pytest.mark.parametrize("method", ["anchor", "dual_t"])
def test_lazy_dataset_with_estimated_transition_matrix(forbid_materialising, method):
    clf = _lazy_fit_predict(ForwardCorrectedClassifier, {"transition_matrix": method})
    assert clf.transition_matrix_.shape == (3, 3)


@pytest.mark.parametrize("transition_matrix", [_T3, "anchor"], ids=["given-T", "estimated-T"])
def test_plain_torch_dataset_as_X(transition_matrix):
    ds = LazyDataset(150)
    X = _InputsOnly(ds)  # np.asarray(X) raises: never materialised
    y = np.array([ds.label(i) for i in range(len(ds))])
    clf = ForwardCorrectedClassifier(
        MLP, transition_matrix=transition_matrix, module__hidden_units=(16,), max_epochs=3, lr=0.05,
        batch_size=32, random_state=0,
    ).fit(X, y)
    assert clf.predict(X).shape == (150,)
    assert clf.n_features_in_ == LazyDataset.n_features
    assert clf.transition_matrix_.shape == (3, 3)


class _InputsOnly(torch.utils.data.Dataset):
    """A plain torch Dataset yielding inputs only, lazily."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        return self.pairs[i][0]

    def __array__(self, *args, **kwargs):
        raise AssertionError("the Dataset was materialised whole with np.asarray")


# --------------------------------------------------- distributed grid search
def _grid_search(n_jobs):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    # 40% flip-to-one noise with well separated classes: forward correction
    # with the true T wins by a clear margin (checked below), so a
    # floating-point wobble cannot change the winner.
    X, y_noisy, _, T = make_noisy_classification(
        300, n_features=8, n_classes=3, noise="flip_to_one", rate=0.4, class_sep=2.0, random_state=0
    )
    net = {"module__hidden_units": (16,), "max_epochs": 10, "lr": 0.05, "batch_size": 32, "random_state": 0}
    grid = [
        {"clf": [CrossEntropyClassifier(MLP, **net)]},
        {"clf": [ForwardCorrectedClassifier(MLP, **net)], "clf__transition_matrix": [T]},
        {
            "clf": [ForwardCorrectedClassifier(MLP, **net)],
            "clf__transition_matrix": [TransitionMatrixEstimator(cv=2, refit=False, random_state=0)],
            "clf__transition_matrix__method": ["anchor", "dual_t"],
        },
    ]
    pipe = Pipeline([("clf", CrossEntropyClassifier(MLP, **net))])
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3), n_jobs=n_jobs, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y_noisy)


def _describe(params):
    """Comparable form of best_params_ (estimators by class, arrays rounded)."""

    def describe(value):
        if hasattr(value, "fit"):
            return type(value).__name__
        if isinstance(value, str):
            return value
        return np.asarray(value, dtype=float).round(6).tolist()

    return {key: describe(value) for key, value in params.items()}


@pytest.mark.slow
def test_grid_search_on_dask_matches_sequential():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    sequential = _grid_search(n_jobs=1)
    scores = np.sort(sequential.cv_results_["mean_test_score"])
    assert scores[-1] - scores[-2] > 0.03, "the grid has no clear winner; the comparison would be meaningless"
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as cluster, distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        with joblib.parallel_backend("dask"):
            distributed_search = _grid_search(n_jobs=-1)
        # the fits really ran on the workers
        assert all(client.run(lambda: "sknoisy" in sys.modules).values())
    assert distributed_search.best_index_ == sequential.best_index_
    assert _describe(distributed_search.best_params_) == _describe(sequential.best_params_)
    # Bitwise equality is not to be had across processes: BLAS kernels may
    # sum in another order for differently aligned buffers. One test row of
    # 100 flipping in a fold moves a mean score by 1/300.
    np.testing.assert_allclose(
        distributed_search.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"], atol=0.02
    )


# ------------------------------------------------------------ accelerate
def _accelerated(cls):
    from skorch.hf import AccelerateMixin

    return type(f"Accelerated{cls.__name__}", (AccelerateMixin, cls), {})


def _quiet_accelerator():
    from accelerate import Accelerator

    # skorch's mixin prints through accelerator.print whatever verbose says
    return {"accelerator": Accelerator(cpu=True), "callbacks__print_log__sink": lambda *a: None}


_ACCELERATED_SPECS = [spec for spec in _all_estimator_specs(_T3) if spec[0] not in NEEDS_TRUSTED_METHODS]


@pytest.mark.parametrize("cls, kwargs", [s[1:] for s in _ACCELERATED_SPECS], ids=[s[0] for s in _ACCELERATED_SPECS])
def test_accelerate_mixin_single_cpu_process(cls, kwargs):
    pytest.importorskip("accelerate")
    X, y_noisy, _, _ = make_noisy_classification(200, n_features=8, n_classes=3, random_state=0)
    params = dict(module__hidden_units=(16,), max_epochs=3, random_state=0, **kwargs)
    clf = _accelerated(cls)(MLP, **_quiet_accelerator(), **params).fit(X, y_noisy)
    assert clf.predict(X).shape == (200,)
    for buffer in clf.criterion_.buffers():
        assert buffer.device.type == "cpu"
    plain = cls(MLP, **params).fit(X, y_noisy)
    # one process on CPU: accelerate changes nothing in the arithmetic
    np.testing.assert_allclose(clf.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6)


def _trusted_data():
    X, y_noisy, y_clean, _ = make_noisy_classification(
        300, n_features=8, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0
    )
    trusted = np.arange(300) % 5 == 0
    return X, np.where(trusted, y_clean, y_noisy), trusted


_TWO_STAGE = [
    ("forward-estimated-T", ForwardCorrectedClassifier, {"transition_matrix": "anchor"}),
    ("glc", GLCClassifier, {}),
]


@pytest.mark.parametrize("cls, kwargs", [s[1:] for s in _TWO_STAGE], ids=[s[0] for s in _TWO_STAGE])
def test_accelerate_mixin_two_stage_estimators(cls, kwargs):
    pytest.importorskip("accelerate")
    X, y, trusted = _trusted_data()
    clf = _accelerated(cls)(MLP, **_quiet_accelerator(), module__hidden_units=(16,), max_epochs=3,
                            random_state=0, **kwargs)
    clf.fit(X, y, trusted=trusted)
    assert clf.transition_matrix_.shape == (3, 3)


def test_accelerate_mixin_keeps_the_mlc_meta_step():
    pytest.importorskip("accelerate")
    X, y, trusted = _trusted_data()
    params = {"module__hidden_units": (16,), "max_epochs": 5, "random_state": 0}
    plain = MetaLossCorrectionClassifier(MLP, **params).fit(X, y, trusted=trusted)
    assert not np.allclose(plain.transition_matrix_, np.eye(3))  # the meta step moves T here
    clf = _accelerated(MetaLossCorrectionClassifier)(MLP, **_quiet_accelerator(), **params)
    clf.fit(X, y, trusted=trusted)
    np.testing.assert_allclose(clf.transition_matrix_, plain.transition_matrix_, atol=1e-5)


# ------------------------------------------------------------------ CUDA
@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("name", [spec[0] for spec in classifier_specs()])
def test_estimators_train_on_cuda(name):
    X, y_noisy, y_clean, T = make_noisy_classification(
        300, n_features=8, n_classes=3, noise="flip_to_one", rate=0.3, random_state=0
    )
    trusted = np.arange(300) % 5 == 0
    y = np.where(trusted, y_clean, y_noisy)
    cls, kwargs = {spec[0]: spec[1:] for spec in _all_estimator_specs(T)}[name]
    clf = cls(MLP, device="cuda", max_epochs=3, random_state=0, **kwargs).fit(X, y, trusted=trusted)
    assert next(clf.module_.parameters()).device.type == "cuda"
    for name, buffer in clf.criterion_.named_buffers():
        assert buffer.device.type == "cuda", f"criterion buffer {name} is on {buffer.device}"
    if hasattr(clf, "transition_matrix_"):
        assert isinstance(clf.transition_matrix_, np.ndarray)
    proba = clf.predict_proba(X)
    assert proba.shape == (300, 3) and np.all(np.isfinite(proba))


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("name", ["forward", "backward", *LOSS_NAMES])
def test_losses_never_synchronise_on_cuda(name):
    T = make_transition_matrix("symmetric", 10, 0.2)
    criterion = dict(_many_class_losses(T))[name]().to("cuda")
    logits = torch.randn(256, 10, device="cuda", requires_grad=True)
    target = torch.randint(0, 10, (256,), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any host round trip raises
    try:
        loss = criterion(logits, target)
        loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss).item()
