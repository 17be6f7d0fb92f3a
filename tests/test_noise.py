"""Tests for sknoisy.noise."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sknoisy import noise
from sknoisy.noise import (
    CIFAR10_ASYMMETRIC,
    MNIST_ASYMMETRIC,
    NOISE_KINDS,
    add_noisy_copies,
    check_transition_matrix,
    corrupt_labels,
    empirical_transition_matrix,
    make_noisy_classification,
    make_transition_matrix,
)
from sknoisy.transition import to_cleanlab_noise_matrix
from sknoisy.utils import _validation

FAST = settings(max_examples=40, deadline=None)


def expected_diagonal(kind, C, r, mapping=None):
    if kind == "uniform":
        return np.full(C, 1 - r + r / C)
    if kind in ("symmetric", "flip_random", "flip_to_one", "pair"):
        return np.full(C, 1 - r)
    if kind == "structured":
        return np.full(C, (1 - r) / C + r * 2 / (C + 2))
    diag = np.ones(C)
    diag[list(mapping)] = 1 - r
    return diag


@st.composite
def transition_cases(draw, max_classes=12):
    kind = draw(st.sampled_from(NOISE_KINDS))
    C = draw(st.integers(2, max_classes))
    rate = draw(st.floats(0, 1))
    seed = draw(st.integers(0, 2**31 - 1))
    order = draw(st.sampled_from(["decreasing", "increasing", "random"]))
    kwargs = {"random_state": seed, "order": order}
    mapping = None
    if kind == "asymmetric":
        sources = draw(st.lists(st.integers(0, C - 1), min_size=1, max_size=C, unique=True))
        mapping = {}
        for s in sources:
            d = draw(st.integers(0, C - 2))
            mapping[s] = d + (d >= s)
        kwargs["mapping"] = mapping
    return kind, C, rate, kwargs, mapping


# --------------------------------------------------------------------------
# make_transition_matrix
# --------------------------------------------------------------------------
@FAST
@given(transition_cases())
def test_every_kind_is_row_stochastic_with_documented_diagonal(case):
    kind, C, rate, kwargs, mapping = case
    T = make_transition_matrix(kind, C, rate, **kwargs)
    assert T.shape == (C, C)
    assert np.all(T >= 0)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(T), expected_diagonal(kind, C, rate, mapping), atol=1e-12)
    # The validated matrix is unchanged by the shared validator.
    np.testing.assert_allclose(check_transition_matrix(T, C), T, atol=1e-12)


@FAST
@given(st.integers(2, 12), st.floats(0, 1), st.sampled_from(["decreasing", "increasing", "random"]))
def test_structured_family(C, delta, order):
    T = make_transition_matrix("structured", C, delta, order=order, random_state=0)
    off = T[~np.eye(C, dtype=bool)].reshape(C, C - 1)
    # The correct label is never beaten by a false one; the most confusable ties with it.
    assert np.all(off <= np.diag(T)[:, None] + 1e-12)
    np.testing.assert_allclose(off.max(axis=1), np.diag(T), atol=1e-12)
    if delta == 0:
        np.testing.assert_allclose(T, 1 / C, atol=1e-12)
    # Every row holds the same multiset of values, only placed differently.
    np.testing.assert_allclose(np.sort(T, axis=1), np.sort(T[[0]], axis=1).repeat(C, 0), atol=1e-12)


def test_structured_orders():
    dec = make_transition_matrix("structured", 5, 1.0, order="decreasing")
    inc = make_transition_matrix("structured", 5, 1.0, order="increasing")
    for i in range(5):
        assert np.argmax(np.where(np.arange(5) == i, -1, dec[i])) == (i + 1) % 5
        assert np.argmax(np.where(np.arange(5) == i, -1, inc[i])) == (i - 1) % 5
    r1 = make_transition_matrix("structured", 6, 0.7, order="random", random_state=3)
    r2 = make_transition_matrix("structured", 6, 0.7, order="random", random_state=3)
    np.testing.assert_array_equal(r1, r2)


@pytest.mark.parametrize("C", [2, 3, 10])
def test_structured_delta_zero_is_uniform_noise_and_delta_one_ties(C):
    # Rolnick et al.: "we interpolate between uniform noise, delta = 0, and noise so structured
    # that the most common false label is as likely as the correct label, delta = 1".
    for order in ("decreasing", "increasing", "random"):
        T0 = make_transition_matrix("structured", C, 0.0, order=order, random_state=0)
        np.testing.assert_allclose(T0, make_transition_matrix("uniform", C, 1.0), atol=1e-15)
        T1 = make_transition_matrix("structured", C, 1.0, order=order, random_state=0)
        np.testing.assert_allclose(T1.sum(axis=1), 1.0, atol=1e-12)
        false = np.where(np.eye(C, dtype=bool), -1.0, T1)
        np.testing.assert_allclose(false.max(axis=1), np.diag(T1), atol=1e-12)
    np.testing.assert_allclose(np.diag(T1), 2 / (C + 2))


def test_structured_interpolates_linearly_and_keeps_the_order():
    C = 10
    T0, T1 = (make_transition_matrix("structured", C, d) for d in (0.0, 1.0))
    for delta in (0.25, 0.5, 0.8):
        T = make_transition_matrix("structured", C, delta)
        np.testing.assert_allclose(T, (1 - delta) * T0 + delta * T1, atol=1e-12)
        np.testing.assert_allclose(T.sum(axis=1), 1.0, atol=1e-12)
        # 'decreasing': the false labels i+1, i+2, ... (mod C) are ever less likely
        ranked = np.array([T[i, (i + np.arange(1, C)) % C] for i in range(C)])
        assert np.all(np.diff(ranked, axis=1) < 0)
    # the correct label gains as delta grows; the least confusable false label loses
    deltas = np.linspace(0, 1, 6)
    diags = [make_transition_matrix("structured", C, d)[0, 0] for d in deltas]
    lasts = [make_transition_matrix("structured", C, d)[0, C - 1] for d in deltas]
    assert np.all(np.diff(diags) > 0) and np.all(np.diff(lasts) < 0)


def test_closed_forms():
    C, r = 4, 0.4
    np.testing.assert_allclose(
        make_transition_matrix("uniform", C, r), (1 - r) * np.eye(C) + r / C * np.ones((C, C))
    )
    sym = (1 - r) * np.eye(C) + r / (C - 1) * (np.ones((C, C)) - np.eye(C))
    np.testing.assert_allclose(make_transition_matrix("symmetric", C, r), sym)
    np.testing.assert_allclose(make_transition_matrix("flip_random", C, r), sym)
    np.testing.assert_allclose(make_transition_matrix("Flip-Random", C, r), sym)
    pair = make_transition_matrix("pair", C, r)
    for i in range(C):
        assert pair[i, (i + 1) % C] == pytest.approx(r)
    # Singular matrices are allowed.
    assert np.linalg.matrix_rank(make_transition_matrix("uniform", C, 1.0)) == 1
    assert abs(np.linalg.det(make_transition_matrix("symmetric", C, (C - 1) / C))) < 1e-12


@FAST
@given(st.integers(2, 12), st.floats(0.01, 1), st.integers(0, 2**31 - 1))
def test_flip_to_one_sends_to_exactly_one_other_class(C, rate, seed):
    T = make_transition_matrix("flip_to_one", C, rate, random_state=seed)
    off = T * (1 - np.eye(C))
    assert np.all((off > 0).sum(axis=1) == 1)
    np.testing.assert_allclose(off.max(axis=1), rate)


def test_flip_to_one_targets_vary_with_seed():
    targets = {tuple(np.argmax(make_transition_matrix("flip_to_one", 6, 0.5, random_state=s) - np.eye(6), 1))
               for s in range(20)}
    assert len(targets) > 1


def test_presets():
    assert MNIST_ASYMMETRIC == {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}
    assert CIFAR10_ASYMMETRIC == {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}
    r = 0.3
    T = make_transition_matrix("asymmetric", 10, r, preset="mnist")
    expected = np.eye(10)
    for src, dst in [(7, 1), (2, 7), (5, 6), (6, 5), (3, 8)]:
        expected[src, src] = 1 - r
        expected[src, dst] = r
    np.testing.assert_allclose(T, expected)
    T = make_transition_matrix("asymmetric", 10, r, preset="CIFAR-10")
    expected = np.eye(10)
    for src, dst in [(9, 1), (2, 0), (4, 7), (3, 5), (5, 3)]:
        expected[src, src] = 1 - r
        expected[src, dst] = r
    np.testing.assert_allclose(T, expected)
    np.testing.assert_allclose(
        make_transition_matrix("asymmetric", 10, r, mapping=CIFAR10_ASYMMETRIC), T
    )


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        (("gaussian", 3, 0.1), {}, ValueError, r"Unknown noise kind 'gaussian'.*uniform.*structured"),
        ((3, 3, 0.1), {}, TypeError, "kind must be a string"),
        (("uniform", 1, 0.1), {}, ValueError, "n_classes must be >= 2"),
        (("uniform", 2.5, 0.1), {}, TypeError, "n_classes must be an integer"),
        (("uniform", True, 0.1), {}, TypeError, "n_classes must be an integer"),
        (("uniform", 3, 1.5), {}, ValueError, r"rate must be in \[0, 1\]"),
        (("uniform", 3, -0.1), {}, ValueError, r"rate must be in \[0, 1\]"),
        (("uniform", 3, float("nan")), {}, ValueError, r"rate must be in \[0, 1\]"),
        (("uniform", 3, "0.1"), {}, TypeError, "rate must be a real number"),
        (("structured", 3, 0.1), {"order": "sideways"}, ValueError, "Unknown order 'sideways'"),
        (("asymmetric", 3, 0.1), {}, ValueError, "needs a mapping"),
        (("asymmetric", 3, 0.1), {"mapping": {0: 3}}, ValueError, r"class 3, outside 0..2"),
        (("asymmetric", 3, 0.1), {"mapping": {-1: 0}}, ValueError, r"class -1, outside 0..2"),
        (("asymmetric", 3, 0.1), {"mapping": {1: 1}}, ValueError, "sends class 1 to itself"),
        (("asymmetric", 3, 0.1), {"mapping": {0: 1.5}}, TypeError, "integer class indices"),
        (("asymmetric", 3, 0.1), {"mapping": [(0, 1)]}, TypeError, "mapping must be a dict"),
        (("asymmetric", 5, 0.1), {"preset": "mnist"}, ValueError, "n_classes=10, got n_classes=5"),
        (("asymmetric", 10, 0.1), {"preset": "imagenet"}, ValueError, "Unknown preset 'imagenet'"),
        (("asymmetric", 10, 0.1), {"preset": "mnist", "mapping": {0: 1}}, ValueError, "not both"),
        (("pair", 10, 0.1), {"preset": "mnist"}, ValueError, "only used with kind='asymmetric'"),
    ],
)
def test_make_transition_matrix_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_transition_matrix(*args, **kwargs)


# --------------------------------------------------------------------------
# corrupt_labels
# --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(transition_cases(max_classes=8), st.booleans())
def test_flip_rates_match_T_within_sampling_error(case, exact):
    kind, C, rate, kwargs, _ = case
    T = make_transition_matrix(kind, C, rate, **kwargs)
    n_per_class = 20000 // C
    y = np.repeat(np.arange(C), n_per_class)
    y_noisy = corrupt_labels(y, T, random_state=kwargs["random_state"], exact=exact)
    T_emp = empirical_transition_matrix(y, y_noisy, classes=np.arange(C))
    if exact:
        assert np.all(np.abs(T_emp - T) * n_per_class < 1 + 1e-9)
    else:
        # 5 sigma in counts, with the variance floored and a few counts of
        # slack so that tiny probabilities (Poisson regime) cannot flake.
        expected = T * n_per_class
        slack = 5 * np.sqrt(np.maximum(expected * (1 - T), 1.0)) + 3
        assert np.all(np.abs(T_emp - T) * n_per_class <= slack)
    # Zero-probability flips never happen.
    assert np.all(T_emp[T == 0] == 0)


@FAST
@given(
    st.lists(st.integers(0, 60), min_size=2, max_size=7),
    st.integers(0, 2**31 - 1),
)
def test_exact_mode_counts(sizes, seed):
    C = len(sizes)
    rng = np.random.RandomState(seed)
    T = rng.dirichlet(np.ones(C) * 0.5, size=C)
    y = rng.permutation(np.repeat(np.arange(C), sizes))
    y_noisy = corrupt_labels(y, T, classes=np.arange(C), exact=True, random_state=seed)
    counts = np.zeros((C, C), int)
    np.add.at(counts, (y, y_noisy), 1)
    np.testing.assert_array_equal(counts.sum(axis=1), sizes)
    target = np.asarray(sizes)[:, None] * T
    assert np.all(np.abs(counts - target) < 1 + 1e-9)
    # Largest remainder: every count is the floor or the ceiling.
    assert np.all((counts == np.floor(target + 1e-9)) | (counts == np.ceil(target - 1e-9)))


def test_exact_mode_integral_counts_are_exact():
    T = np.array([[0.5, 0.25, 0.25], [0.0, 0.75, 0.25], [0.125, 0.125, 0.75]])
    y = np.repeat([0, 1, 2], [40, 80, 160])
    y_noisy = corrupt_labels(y, T, exact=True, random_state=1)
    counts = np.zeros((3, 3), int)
    np.add.at(counts, (y, y_noisy), 1)
    np.testing.assert_array_equal(counts, [[20, 10, 10], [0, 60, 20], [20, 20, 120]])


def test_exact_mode_positions_are_random():
    T = make_transition_matrix("symmetric", 2, 0.5)
    y = np.zeros(100, int)
    a = corrupt_labels(y, T, classes=[0, 1], exact=True, random_state=0)
    b = corrupt_labels(y, T, classes=[0, 1], exact=True, random_state=1)
    assert a.sum() == b.sum() == 50
    assert not np.array_equal(a, b)


def test_string_labels_round_trip():
    y = np.array(["ant", "bee", "cat", "bee", "ant", "cat"] * 50)
    T = make_transition_matrix("symmetric", 3, 0.3)
    for exact in (False, True):
        y_noisy = corrupt_labels(y, T, random_state=0, exact=exact)
        assert y_noisy.dtype == y.dtype
        assert set(y_noisy) <= {"ant", "bee", "cat"}
        assert 0 < (y_noisy != y).sum() < y.size
    np.testing.assert_array_equal(corrupt_labels(y, np.eye(3), random_state=0), y)
    # A list in gives an array out.
    assert isinstance(corrupt_labels(list(y), T, random_state=0), np.ndarray)


def test_noncontiguous_int_and_object_labels():
    y = np.array([3, 10, 42, 10, 3] * 40, dtype=np.int32)
    T = make_transition_matrix("pair", 3, 1.0)
    y_noisy = corrupt_labels(y, T, random_state=0)
    assert y_noisy.dtype == np.int32
    np.testing.assert_array_equal(y_noisy, np.select([y == 3, y == 10, y == 42], [10, 42, 3]))

    y_obj = np.array(["x", 7, "x", 7] * 10, dtype=object)
    T2 = make_transition_matrix("pair", 2, 1.0)
    out = corrupt_labels(y_obj, T2, classes=np.array(["x", 7], dtype=object), random_state=0)
    assert out.dtype == object
    assert list(out[:2]) == [7, "x"]


def test_classes_order_extra_classes_and_dtype_widening():
    y = np.array(["a"] * 100)
    # T indexed in the given (unsorted) order: 'a' is row 1 here.
    T = np.array([[1.0, 0.0], [1.0, 0.0]])
    out = corrupt_labels(y, T, classes=["zebra", "a"], random_state=0)
    assert set(out) == {"zebra"}
    assert out.dtype.kind == "U" and out.dtype.itemsize >= np.dtype("<U5").itemsize
    out = corrupt_labels(np.zeros(5, int), [[0, 1], [0, 1]], classes=[0, 2.5], random_state=0)
    np.testing.assert_array_equal(out, 2.5)


def test_pandas_series_round_trip():
    pd = pytest.importorskip("pandas")
    y = pd.Series(["u", "v", "w"] * 20, index=np.arange(60) * 2, name="label")
    out = corrupt_labels(y, make_transition_matrix("symmetric", 3, 0.5), random_state=0)
    assert isinstance(out, pd.Series)
    assert out.name == "label" and out.index.equals(y.index) and out.dtype == y.dtype


def test_empty_labels():
    out = corrupt_labels(np.array([], dtype=int), np.eye(2))
    assert out.shape == (0,) and out.dtype == int


@pytest.mark.parametrize(
    "y, T, kwargs, match",
    [
        ([0, 1, 2], np.eye(2), {}, r"T has shape \(2, 2\) but y has 3 distinct labels \(0, 1, 2\)"),
        ([0, 1], [[0.5, 0.6], [0, 1]], {}, "not row-stochastic"),
        ([0, 1], [[1.5, -0.5], [0, 1]], {}, "negative entries"),
        ([0, 1, 5], np.eye(2), {"classes": [0, 1]}, r"labels that are not in classes: \[5\]"),
        (["a", "b"], np.eye(2), {"classes": [0, 1]}, "labels that are not in classes"),
        ([0.0, np.nan], np.eye(2), {}, "NaN or None"),
        (np.array(["a", None], dtype=object), np.eye(2), {}, "NaN or None"),
        (np.array(["a", np.nan], dtype=object), np.eye(2), {}, "NaN or None"),
        ([[0, 1], [1, 0]], np.eye(2), {}, "1-D array of labels"),
        ([0, 1], np.eye(2), {"classes": [0, 0]}, "duplicate"),
        (np.array(["a", 1], dtype=object), np.eye(2), {}, "cannot be sorted"),
    ],
)
def test_corrupt_labels_errors(y, T, kwargs, match):
    with pytest.raises(ValueError, match=match):
        corrupt_labels(y, T, **kwargs)


# --------------------------------------------------------------------------
# reproducibility and the global RNG
# --------------------------------------------------------------------------
def _global_state():
    state = np.random.get_state()
    return state[1].copy(), state[2]


def _calls(seed):
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20) % 3
    T = make_transition_matrix("symmetric", 3, 0.4)
    return [
        make_transition_matrix("flip_to_one", 7, 0.3, random_state=seed),
        make_transition_matrix("structured", 7, 0.3, order="random", random_state=seed),
        corrupt_labels(y, T, random_state=seed),
        corrupt_labels(y, T, random_state=seed, exact=True),
        *add_noisy_copies(X, y, 2.5, random_state=seed),
        *add_noisy_copies(X, y, 1, source="white_noise", random_state=seed),
        *add_noisy_copies(X, y, 1, transition_matrix=T, random_state=seed),
        *make_noisy_classification(100, 5, 3, random_state=seed),
    ]


def test_reproducible_and_global_rng_untouched():
    before = _global_state()
    first, second, other = _calls(5), _calls(5), _calls(6)
    after = _global_state()
    np.testing.assert_array_equal(before[0], after[0])
    assert before[1] == after[1]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_random_state_instance_is_used():
    rs = np.random.RandomState(0)
    y = np.arange(1000) % 2
    a = corrupt_labels(y, [[0.5, 0.5], [0.5, 0.5]], random_state=rs)
    b = corrupt_labels(y, [[0.5, 0.5], [0.5, 0.5]], random_state=rs)
    assert not np.array_equal(a, b)


# --------------------------------------------------------------------------
# empirical_transition_matrix (T's error and the cleanlab converters: test_transition.py)
# --------------------------------------------------------------------------
def test_empirical_transition_matrix():
    T = empirical_transition_matrix(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    np.testing.assert_allclose(T, [[0.5, 0.5], [0.0, 1.0]])
    with pytest.warns(UserWarning, match=r"\['c'\] do not occur in y_clean"):
        T = empirical_transition_matrix(["a", "b"], ["b", "a"], classes=["a", "b", "c"])
    np.testing.assert_allclose(T, [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    with pytest.warns(UserWarning, match="identity"):
        T = empirical_transition_matrix([0, 0], [0, 1])
    np.testing.assert_allclose(T, [[0.5, 0.5], [0, 1]])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([0, 1], [0]), {}, "same length, got 2 and 1"),
        (([0, 1], [0, 2]), {"classes": [0, 1]}, r"y_noisy contains labels that are not in classes: \[2\]"),
        (([0, np.nan], [0, 1]), {}, "y_clean contains NaN"),
        (([], []), {}, "empty"),
    ],
)
def test_empirical_transition_matrix_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        empirical_transition_matrix(*args, **kwargs)


def test_agrees_with_cleanlab_generate_noisy_labels():
    ng = pytest.importorskip("cleanlab.benchmarking.noise_generation")
    # Dyadic entries times class sizes are exact integers, where cleanlab's
    # floor and our largest-remainder rounding coincide.
    T = np.array([[0.75, 0.125, 0.125], [0.25, 0.625, 0.125], [0.0, 0.5, 0.5]])
    y = np.random.RandomState(0).permutation(np.repeat([0, 1, 2], [80, 160, 240]))
    state = np.random.get_state()
    try:
        np.random.seed(0)  # cleanlab draws from the global RNG; restored below
        theirs = ng.generate_noisy_labels(y, to_cleanlab_noise_matrix(T))
    finally:
        np.random.set_state(state)
    ours = corrupt_labels(y, T, exact=True, random_state=0)
    np.testing.assert_allclose(empirical_transition_matrix(y, theirs), T)
    np.testing.assert_allclose(empirical_transition_matrix(y, ours), T)


def test_check_transition_matrix_is_reexported():
    assert noise.check_transition_matrix is _validation.check_transition_matrix
    assert "check_transition_matrix" in noise.__all__
    for name in noise.__all__:
        assert hasattr(noise, name)


# --------------------------------------------------------------------------
# add_noisy_copies
# --------------------------------------------------------------------------
def _dataset(n=60, d=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)), np.array(["p", "q", "r"])[np.arange(n) % 3]


def test_add_noisy_copies_same_source():
    X, y = _dataset()
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 3, random_state=0)
    assert X_aug.shape == (240, 3) and y_aug.shape == (240,) and is_clean.dtype == bool
    assert is_clean.sum() == 60
    assert y_aug.dtype == y.dtype
    # The clean rows are the originals, with their labels, in shuffled order.
    clean_pairs = sorted(zip(map(tuple, X_aug[is_clean]), y_aug[is_clean]))
    assert clean_pairs == sorted(zip(map(tuple, X), y))
    # Every noisy row is a copy of an original row; integer alpha copies each exactly alpha times.
    rows = {tuple(x): k for k, x in enumerate(X)}
    copied = np.array([rows[tuple(x)] for x in X_aug[~is_clean]])
    np.testing.assert_array_equal(np.bincount(copied, minlength=60), 3)
    # Shuffled: clean rows are not all at the front.
    assert not is_clean[:60].all()


def test_add_noisy_copies_labels_are_uniform():
    X = np.zeros((1000, 1))
    y = np.arange(1000) % 4
    _, y_aug, is_clean = add_noisy_copies(X, y, 5, random_state=0)
    freq = np.bincount(y_aug[~is_clean], minlength=4) / 5000
    assert np.all(np.abs(freq - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 5000))


def test_add_noisy_copies_fractional_and_zero_alpha():
    X, y = _dataset(n=50)
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 0.5, random_state=0)
    assert X_aug.shape[0] == 75 and (~is_clean).sum() == 25
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 2.3, random_state=0)
    assert (~is_clean).sum() == 115
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 0, random_state=0)
    assert is_clean.all() and X_aug.shape == X.shape


def test_add_noisy_copies_with_transition_matrix():
    X, y = _dataset()
    rows = {tuple(x): lab for x, lab in zip(X, y)}
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 2, transition_matrix=np.eye(3), random_state=0)
    assert all(rows[tuple(x)] == lab for x, lab in zip(X_aug, y_aug))
    shift = make_transition_matrix("pair", 3, 1.0)
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 2, transition_matrix=shift, random_state=0)
    nxt = {"p": "q", "q": "r", "r": "p"}
    assert all(nxt[rows[tuple(x)]] == lab for x, lab in zip(X_aug[~is_clean], y_aug[~is_clean]))


def test_add_noisy_copies_white_noise_and_array_source():
    rng = np.random.RandomState(0)
    X = rng.normal(loc=[0.0, 10.0], scale=[1.0, 3.0], size=(500, 2))
    y = np.arange(500) % 2
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 4, source="white_noise", random_state=0)
    noisy = X_aug[~is_clean]
    np.testing.assert_allclose(noisy.mean(axis=0), X.mean(axis=0), atol=0.2)
    np.testing.assert_allclose(noisy.std(axis=0), X.std(axis=0), rtol=0.05)
    other = np.full((7, 2), -99.0)
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 1, source=other, classes=[0, 1, 2], random_state=0)
    assert np.all(X_aug[~is_clean] == -99.0)
    assert set(np.unique(y_aug[~is_clean])) == {0, 1, 2}


def test_add_noisy_copies_sparse():
    X = sp.random(30, 4, density=0.5, format="csr", random_state=0)
    y = np.arange(30) % 2
    X_aug, y_aug, is_clean = add_noisy_copies(X, y, 1, random_state=0)
    assert sp.issparse(X_aug) and X_aug.shape == (60, 4)
    with pytest.raises(ValueError, match="needs a dense X"):
        add_noisy_copies(X, y, 1, source="white_noise")


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"alpha": -1}, ValueError, "alpha must be a finite number >= 0"),
        ({"alpha": float("inf")}, ValueError, "alpha must be a finite number >= 0"),
        ({"alpha": "2"}, TypeError, "alpha must be a non-negative number"),
        ({"alpha": True}, TypeError, "alpha must be a non-negative number"),
        ({"alpha": 1, "source": "imagenet"}, ValueError, "Unknown source 'imagenet'"),
        ({"alpha": 1, "source": np.zeros((3, 5))}, ValueError, "source has 5 features but X has 2"),
        (
            {"alpha": 1, "source": "white_noise", "transition_matrix": np.eye(2)},
            ValueError,
            "only works with source='same'",
        ),
        ({"alpha": 1, "transition_matrix": np.eye(3)}, ValueError, r"shape \(3, 3\) but there are 2 classes"),
        ({"alpha": 1, "y": np.zeros(4)}, ValueError, "X has 10 samples but y has 4 labels"),
    ],
)
def test_add_noisy_copies_errors(kwargs, exc, match):
    params = {"X": np.zeros((10, 2)), "y": np.arange(10) % 2, **kwargs}
    with pytest.raises(exc, match=match):
        add_noisy_copies(params.pop("X"), params.pop("y"), params.pop("alpha"), **params)


# --------------------------------------------------------------------------
# make_noisy_classification
# --------------------------------------------------------------------------
def test_make_noisy_classification():
    X, y_noisy, y_clean, T = make_noisy_classification(600, 8, 3, rate=0.3, exact=True, random_state=0)
    assert X.shape == (600, 8) and y_noisy.shape == y_clean.shape == (600,)
    np.testing.assert_allclose(T, make_transition_matrix("symmetric", 3, 0.3))
    np.testing.assert_allclose(empirical_transition_matrix(y_clean, y_noisy), T, atol=1 / 100)
    # flip_y defaults to 0, so y_clean is what make_classification draws without noise.
    X2, y_noisy2, y_clean2, _ = make_noisy_classification(600, 8, 3, rate=0.0, random_state=0)
    np.testing.assert_array_equal(y_noisy2, y_clean2)


@pytest.mark.parametrize("n_features, n_classes", [(2, 2), (3, 4), (20, 10), (6, 12)])
def test_make_noisy_classification_feature_defaults(n_features, n_classes):
    X, y_noisy, y_clean, T = make_noisy_classification(200, n_features, n_classes, random_state=0)
    assert X.shape == (200, n_features) and T.shape == (n_classes, n_classes)


def test_make_noisy_classification_noise_options():
    T = make_transition_matrix("pair", 4, 1.0)
    X, y_noisy, y_clean, T_out = make_noisy_classification(100, 6, 4, noise=T, random_state=0)
    np.testing.assert_array_equal(y_noisy, (y_clean + 1) % 4)
    np.testing.assert_allclose(T_out, T)
    _, _, _, T_s = make_noisy_classification(100, 6, 4, noise="structured", rate=1.0, random_state=0)
    np.testing.assert_allclose(T_s, make_transition_matrix("structured", 4, 1.0))
    X, *_ = make_noisy_classification(50, 6, 2, n_informative=4, n_redundant=0, class_sep=2.0, random_state=0)
    assert X.shape == (50, 6)


def test_make_noisy_classification_errors():
    with pytest.raises(ValueError, match="return_X_y=False"):
        make_noisy_classification(return_X_y=False)
    with pytest.raises(ValueError, match="Unknown noise kind 'nope'"):
        make_noisy_classification(noise="nope")
    with pytest.raises(ValueError, match=r"noise has shape \(2, 2\) but there are 3 classes"):
        make_noisy_classification(noise=np.eye(2))
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        make_noisy_classification(n_classes=1)


def test_corrupt_labels_size_mismatch_names_the_labels_of_y():
    message = r"T has shape \(3, 3\) but y has 4 distinct labels \(0, 1, 2, 3\).*Pass classes="
    with pytest.raises(ValueError, match=message):
        corrupt_labels([0, 1, 2, 3], np.eye(3))
    # non-integer floats: say the target looks continuous
    y = np.random.RandomState(0).randn(50)
    with pytest.raises(ValueError, match=r"but y has 50 distinct labels.*look like a continuous target"):
        corrupt_labels(y, np.eye(3))
    # with classes given, the size check is against them (unchanged)
    with pytest.raises(ValueError, match=r"expected shape \(2, 2\)"):
        corrupt_labels([0, 1], np.eye(3), classes=[0, 1])


@pytest.mark.parametrize("n_features, n_classes, needed", [(1, 3, 3), (2, 10, 5)])
def test_make_noisy_classification_too_few_features(n_features, n_classes, needed):
    message = rf"n_features={n_features} is too few for n_classes={n_classes}.*at least {needed} informative"
    with pytest.raises(ValueError, match=message):
        make_noisy_classification(100, n_features=n_features, n_classes=n_classes)
    with pytest.raises(ValueError, match=r"n_features=5 is too few.*n_clusters_per_class=4"):
        make_noisy_classification(100, n_features=5, n_classes=10, n_clusters_per_class=4)


# --------------------------------------------------------------------------
# noise that depends on the input
# --------------------------------------------------------------------------
def _blobs(n=1500, d=6, C=4, seed=0):
    X, y = make_noisy_classification(n, d, C, rate=0.0, class_sep=1.0, random_state=seed)[::2]
    return X, y


def _tolerance(rate, n):
    # Every row flips with probability `rate` (over the draw of its own rate),
    # independently: the realised rate is binomial; 4 standard errors.
    return 4 * np.sqrt(rate * (1 - rate) / n) + 1e-12


def test_input_dependent_kinds_are_kept_apart_from_the_matrix_kinds():
    assert noise.INSTANCE_NOISE_KINDS == ("instance", "annotator")
    assert not set(noise.INSTANCE_NOISE_KINDS) & set(NOISE_KINDS)
    with pytest.raises(ValueError, match=r"'instance' depends on the features.*instance_dependent_noise\(X, y, rate\)"):
        make_transition_matrix("instance", 3, 0.2)
    with pytest.raises(ValueError, match=r"annotator_noise\(X, y, rate\)"):
        make_transition_matrix("Annotator", 3, 0.2)


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.4, 0.8])
def test_instance_noise_reaches_the_rate(rate):
    rng = np.random.RandomState(1)
    n, C = 6000, 5
    X, y = rng.normal(size=(n, 8)), rng.randint(0, C, size=n)
    y_noisy, info = noise.instance_dependent_noise(X, y, rate, random_state=0, return_noise=True)
    assert abs(np.mean(y_noisy != y) - rate) <= _tolerance(rate, n)
    # The truncated normal is centred so that its mean, not its centre, is the
    # rate: at 0.05 Xia et al.'s centring would give a mean of 0.085.
    assert abs(info.flip_probability.mean() - rate) <= 4 * 0.1 / np.sqrt(n)
    assert np.all((info.flip_probability >= 0) & (info.flip_probability <= 1))
    np.testing.assert_array_equal(info.flipped, y_noisy != y)
    np.testing.assert_allclose(info.label_distribution.sum(axis=1), 1.0)
    np.testing.assert_allclose(info.flip_probability, 1 - info.label_distribution[np.arange(n), y])
    assert set(np.unique(y_noisy)) <= set(range(C))


def test_instance_noise_depends_on_x():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(6, 10))
    X[3] = X[0]  # the same input twice, in the same class
    y = np.array([0, 0, 0, 0, 1, 2])
    _, info = noise.instance_dependent_noise(
        X, y, 0.4, classes=[0, 1, 2, 3], normalize=None, random_state=0, return_noise=True
    )
    targets = info.label_distribution.copy()
    targets[np.arange(6), y] = 0
    targets /= targets.sum(axis=1, keepdims=True)  # where a flipped label goes
    np.testing.assert_allclose(targets[3], targets[0])
    for i in (1, 2):  # other inputs of class 0 are flipped elsewhere
        assert np.abs(targets[i] - targets[0]).sum() > 0.05
    # ... and each row has its own flip rate
    assert np.unique(info.flip_probability).size == 6


def test_instance_noise_normalisation():
    rng = np.random.RandomState(0)
    X, y = rng.uniform(1, 2, size=(300, 5)), np.arange(300) % 3

    def distribution(Z, how):
        return noise.instance_dependent_noise(Z, y, 0.3, normalize=how, random_state=4, return_noise=True)[1]

    def peak(info):  # the share of a row's flip mass on its likeliest wrong class
        wrong = np.where(np.eye(3, dtype=bool)[y], 0.0, info.label_distribution)
        return np.mean(wrong.max(axis=1) / info.flip_probability)

    scale = np.array([1.0, 10.0, 0.1, 5.0, 2.0])
    # 'minmax' reads each feature by its range, 'l2' each row by its norm
    np.testing.assert_allclose(
        distribution(X * scale + 7, "minmax").label_distribution, distribution(X, "minmax").label_distribution
    )
    np.testing.assert_allclose(distribution(X * 3, "l2").label_distribution, distribution(X, "l2").label_distribution)
    # None takes X as it is: larger inputs give more peaked flip targets
    assert peak(distribution(X * 10, None)) > peak(distribution(X, None)) + 0.1


def test_instance_noise_labels_and_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = np.array(["ant", "bee"])[np.arange(400) % 2]
    y_noisy = noise.instance_dependent_noise(X, y, 0.5, classes=["ant", "bee", "cow"], random_state=0)
    assert set(y_noisy) == {"ant", "bee", "cow"}  # a class absent from y is a flip target too
    assert y_noisy.dtype.kind == "U"
    np.testing.assert_array_equal(noise.instance_dependent_noise(X, y, 0.0, random_state=0), y)


@pytest.mark.parametrize("function", ["instance_dependent_noise", "annotator_noise"])
def test_input_dependent_noise_is_reproducible_and_leaves_the_global_rng(function):
    X, y = _blobs(400)
    generate = getattr(noise, function)
    kwargs = {"randomness": 0.5} if function == "annotator_noise" else {}
    before = _global_state()
    first = generate(X, y, 0.3, random_state=3, **kwargs)
    second = generate(X, y, 0.3, random_state=np.random.RandomState(3), **kwargs)
    other = generate(X, y, 0.3, random_state=4, **kwargs)
    after = _global_state()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_input_dependent_noise_keeps_a_pandas_series():
    pd = pytest.importorskip("pandas")
    X, y = _blobs(200)
    y = pd.Series(y, index=np.arange(200) * 3, name="label")
    for generate in (noise.instance_dependent_noise, noise.annotator_noise):
        out = generate(X, y, 0.2, random_state=0)
        assert isinstance(out, pd.Series) and out.index.equals(y.index) and out.name == "label"


@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_annotator_noise_deterministic_flips_the_hardest_rows_to_the_plausible_class(rate):
    X, y = _blobs()
    y_noisy, info = noise.annotator_noise(X, y, rate, random_state=0, return_noise=True)
    assert np.sum(y_noisy != y) == round(rate * y.size)  # exact at randomness=0
    np.testing.assert_array_equal(info.flipped, y_noisy != y)
    np.testing.assert_array_equal(info.flip_probability, info.flipped.astype(float))
    assert info.margin[info.flipped].max() <= info.margin[~info.flipped].min()
    others = np.where(np.eye(4, dtype=bool)[y], -1, info.weak_proba)
    np.testing.assert_array_equal(y_noisy[info.flipped], others.argmax(axis=1)[info.flipped])
    np.testing.assert_allclose(info.margin, info.weak_proba[np.arange(y.size), y] - others.max(axis=1))


@pytest.mark.parametrize("randomness", [0.5, 1.0])
def test_annotator_noise_random_reaches_the_rate_and_prefers_ambiguous_rows(randomness):
    X, y = _blobs()
    y_noisy, info = noise.annotator_noise(X, y, 0.3, randomness=randomness, random_state=0, return_noise=True)
    assert abs(np.mean(y_noisy != y) - 0.3) <= _tolerance(0.3, y.size)
    assert info.flip_probability.mean() == pytest.approx(0.3)
    assert np.all((info.flip_probability >= 0) & (info.flip_probability <= 1 + 1e-12))
    np.testing.assert_allclose(info.label_distribution.sum(axis=1), 1.0)
    # flipped rows are the ambiguous ones, and go to classes the weak model finds plausible
    assert info.margin[info.flipped].mean() < info.margin[~info.flipped].mean() - 0.2
    plausible = info.weak_proba[info.flipped, y_noisy[info.flipped]]
    assert plausible.mean() > info.weak_proba[~np.eye(4, dtype=bool)[y]].mean() + 0.1
    # more randomness spreads the flips over more rows
    assert np.sum(info.flip_probability > 0) > round(0.3 * y.size)


def test_annotator_noise_with_another_weak_model_and_classes():
    from sklearn.naive_bayes import GaussianNB

    X, y = _blobs(600)
    labels = np.array(["a", "b", "c", "d"])[y]
    y_noisy, info = noise.annotator_noise(
        X, labels, 0.2, estimator=GaussianNB(), classes=["a", "b", "c", "d", "e"], cv=3, random_state=0,
        return_noise=True,
    )
    assert np.sum(y_noisy != labels) == 120
    assert set(y_noisy) <= {"a", "b", "c", "d"}  # 'e' is absent from y: never a target
    assert info.weak_proba.shape == (600, 5) and np.all(info.weak_proba[:, 4] == 0)


def test_annotator_noise_prefit_reads_a_fitted_weak_model_row_by_row():
    from sklearn.linear_model import LogisticRegression

    X, y = _blobs(600)
    weak = LogisticRegression(max_iter=1000).fit(X[:200], y[:200])  # fitted on other rows than those corrupted
    y_noisy, info = noise.annotator_noise(X[200:], y[200:], 0.3, estimator=weak, cv="prefit", random_state=0,
                                          return_noise=True)
    np.testing.assert_allclose(info.weak_proba, weak.predict_proba(X[200:]))
    assert np.sum(y_noisy != y[200:]) == round(0.3 * 400)
    assert info.margin[info.flipped].max() <= info.margin[~info.flipped].min()
    # not refitted, and a row's reading does not depend on the other rows given (unlike out-of-fold)
    coef = weak.coef_.copy()
    _, part = noise.annotator_noise(X[200:300], y[200:300], 0.3, estimator=weak, cv="prefit", random_state=0,
                                    return_noise=True)
    np.testing.assert_array_equal(weak.coef_, coef)
    np.testing.assert_allclose(part.margin, info.margin[:100])
    # a class the weak model knows but y lacks is a column and may be a target
    labels = np.array(["a", "b", "c", "d"])[y]
    weak = LogisticRegression(max_iter=1000).fit(X[:200], labels[:200])
    keep = labels[200:] != "d"
    y_noisy, info = noise.annotator_noise(X[200:][keep], labels[200:][keep], 0.3, estimator=weak, cv="prefit",
                                          classes=["a", "b", "c", "d"], random_state=0, return_noise=True)
    assert info.weak_proba.shape == (int(keep.sum()), 4) and info.weak_proba[:, 3].max() > 0
    assert set(y_noisy) <= {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cv": "prefit"}, r"cv='prefit' needs the fitted weak model as estimator=; got estimator=None"),
        ({"cv": "pre-fit"}, r"cv must be an integer >= 2 or 'prefit', got 'pre-fit'"),
        ({"cv": "prefit", "estimator": "unfitted"}, r"cv='prefit' needs estimator= fitted already .*LogisticRegression is not fitted"),
        ({"cv": "prefit", "estimator": "other labels"}, r"classes_ \['x', 'y'\] must be labels of classes \[0, 1, 2\]; 'x' is not"),
    ],
)
def test_annotator_noise_prefit_errors(kwargs, match):
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.RandomState(0).normal(size=(30, 2)), np.arange(30) % 3
    if kwargs.get("estimator") == "unfitted":
        kwargs["estimator"] = LogisticRegression()
    elif kwargs.get("estimator") == "other labels":
        kwargs["estimator"] = LogisticRegression().fit(X, np.where(y == 0, "x", "y"))
    with pytest.raises((TypeError, ValueError), match=match):
        noise.annotator_noise(X, y, 0.2, **kwargs)


def _bad(kind, **overrides):
    X, y = np.random.RandomState(0).normal(size=(30, 2)), np.arange(30) % 3
    params = {"X": X, "y": y, "rate": 0.2, **overrides}
    generate = noise.instance_dependent_noise if kind == "instance" else noise.annotator_noise
    return lambda: generate(params.pop("X"), params.pop("y"), params.pop("rate"), **params)


_NAN_X = np.where(np.arange(60).reshape(30, 2) == 9, np.nan, 1.0)


@pytest.mark.parametrize(
    "kind, overrides, exc, match",
    [
        (kind, overrides, exc, match)
        for kind in ("instance", "annotator")
        for overrides, exc, match in [
            ({"rate": 1.0}, ValueError, r"rate must be in \[0, 1\), got 1.0"),
            ({"rate": -0.1}, ValueError, r"rate must be in \[0, 1\), got -0.1"),
            ({"rate": float("nan")}, ValueError, r"rate must be in \[0, 1\)"),
            ({"rate": "0.2"}, TypeError, "rate must be a real number"),
            ({"X": np.zeros((29, 2))}, ValueError, "X has 29 rows but y has 30 labels"),
            ({"X": _NAN_X}, ValueError, r"X contains NaN or infinite values \(first in row 4\)"),
            ({"y": np.zeros(30)}, ValueError, r"needs at least 2 classes, got a single one \(0.0\)"),
            ({"y": np.arange(30) % 3 * 1.0 + np.where(np.arange(30) == 5, np.nan, 0)}, ValueError, "NaN or None"),
            ({"classes": [0, 1]}, ValueError, r"labels that are not in classes: \[2\]"),
        ]
    ]
    + [
        ("instance", {"normalize": "zscore"}, ValueError, "Unknown normalize 'zscore'"),
        ("instance", {"std": 0}, ValueError, "std must be a finite number > 0"),
        ("instance", {"std": "0.1"}, TypeError, "std must be a positive number"),
        ("annotator", {"randomness": 1.5}, ValueError, r"randomness must be in \[0, 1\]"),
        ("annotator", {"cv": 1}, ValueError, "cv must be >= 2"),
        ("annotator", {"cv": 2.5}, TypeError, "cv must be an integer"),
        ("annotator", {"cv": 11}, ValueError, r"class 0 has 10 rows but .* cv=11 stratified folds"),
        ("annotator", {"y": np.r_[np.zeros(29), 1]}, ValueError, r"class 1.0 has 1 rows"),
        ("annotator", {"y": np.zeros(30), "classes": [0.0, 1.0]}, ValueError, "at least 2 classes in y"),
        ("annotator", {"estimator": object()}, TypeError, "classifier with predict_proba"),
    ],
)
def test_input_dependent_noise_errors(kind, overrides, exc, match):
    with pytest.raises(exc, match=match):
        _bad(kind, **overrides)()
