"""Tests for sknoisy.plotting (matplotlib on the non-interactive Agg backend)."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sknoisy.plotting import (  # noqa: E402
    plot_accuracy_bars,
    plot_accuracy_vs_noise,
    plot_transition_matrices,
    plot_transition_matrix,
)

T2 = np.array([[0.8, 0.2], [0.1, 0.9]])


def symmetric_T(n_classes, rate):
    T = np.full((n_classes, n_classes), rate / (n_classes - 1))
    np.fill_diagonal(T, 1 - rate)
    return T


def sweep_results():
    rows = []
    for method, slope in [("ce", 0.6), ("forward", 0.3)]:
        for rate in (0.0, 0.2, 0.4):
            for seed in range(3):
                rows.append({"method": method, "rate": rate, "seed": seed,
                             "accuracy": 0.95 - slope * rate + 0.01 * seed})
    return rows


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------
# transition matrices
# --------------------------------------------------------------------------
def test_transition_matrix_basics(tmp_path):
    ax = plot_transition_matrix(T2, classes=["cat", "dog"], title="my T")
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "noisy class" and ax.get_ylabel() == "clean class"
    assert ax.get_title() == "my T"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]
    assert [t.get_text() for t in ax.texts] == ["0.80", "0.20", "0.10", "0.90"]
    # rows are clean classes: the image holds T itself, not its transpose
    np.testing.assert_allclose(ax.images[0].get_array(), T2)
    assert ax.images[0].get_clim() == (0, 1)
    path = tmp_path / "T.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_transition_matrix_options():
    fig, ax = plt.subplots()
    out = plot_transition_matrix(T2, ax=ax, annotate=False, cmap="viridis", vmin=0.1, vmax=0.5, colorbar=False)
    assert out is ax
    assert len(ax.texts) == 0
    assert ax.images[0].get_clim() == (0.1, 0.5)
    assert ax.images[0].get_cmap().name == "viridis"
    assert len(fig.axes) == 1  # no colour bar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]


def test_transition_matrix_no_numbers_beyond_20_classes():
    assert len(plot_transition_matrix(symmetric_T(20, 0.3)).texts) == 400
    assert len(plot_transition_matrix(symmetric_T(21, 0.3)).texts) == 0


def test_transition_matrix_text_contrast():
    ax = plot_transition_matrix([[0.95, 0.05], [0.05, 0.95]])
    colours = [t.get_color() for t in ax.texts]
    assert colours == ["white", "black", "black", "white"]


@pytest.mark.parametrize(
    "T, match",
    [
        (np.ones((2, 3)) / 3, r"T must be a square 2-D array, got shape \(2, 3\)"),
        ([[0.5, 0.6], [0.5, 0.5]], "T is not row-stochastic"),
        ([[1.2, -0.2], [0.0, 1.0]], "negative entries"),
        ([[np.nan, 1.0], [0.0, 1.0]], "NaN or infinity"),
    ],
)
def test_transition_matrix_bad_T(T, match):
    with pytest.raises(ValueError, match=match):
        plot_transition_matrix(T)


def test_transition_matrix_bad_classes():
    with pytest.raises(ValueError, match="classes has 3 labels but the transition matrix has 2 classes"):
        plot_transition_matrix(T2, classes=["a", "b", "c"])
    with pytest.raises(TypeError, match="classes must be a sequence of 2 labels"):
        plot_transition_matrix(T2, classes="ab")


def test_transition_matrices_side_by_side(tmp_path):
    T_true = symmetric_T(4, 0.4)
    T_est = symmetric_T(4, 0.3)
    fig = plot_transition_matrices(T_true, T_est, classes=list("abcd"))
    assert isinstance(fig, Figure)
    left, right = fig.axes[:2]
    assert left.get_title() == "true T"
    error = np.abs(T_est - T_true).sum(1).mean()
    assert right.get_title() == f"estimated T\n(mean row L1 error {error:.3f})"
    assert "0.200" in right.get_title()
    assert len(fig.axes) == 3  # two heat maps and one shared colour bar
    for ax in (left, right):
        assert ax.get_xlabel() == "noisy class" and ax.get_ylabel() == "clean class"
    fig.savefig(tmp_path / "pair.png")
    assert (tmp_path / "pair.png").stat().st_size > 1000


def test_transition_matrices_given_axes_and_titles():
    fig, axes = plt.subplots(1, 2)
    out = plot_transition_matrices(T2, T2, axes=axes, titles=("truth", "anchor points"))
    assert out is fig
    assert axes[0].get_title() == "truth"
    assert axes[1].get_title().startswith("anchor points\n(mean row L1 error 0.000)")


def test_transition_matrices_bad_input():
    with pytest.raises(ValueError, match="T_est has shape .* but there are 2 classes"):
        plot_transition_matrices(T2, symmetric_T(3, 0.2))
    with pytest.raises(ValueError, match="T_true must be a square 2-D array"):
        plot_transition_matrices(np.ones(4), T2)
    with pytest.raises(ValueError, match="titles must be a pair of strings"):
        plot_transition_matrices(T2, T2, titles=("only one",))
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="axes must hold exactly two Axes, got 3"):
        plot_transition_matrices(T2, T2, axes=axes)


# --------------------------------------------------------------------------
# accuracy plots
# --------------------------------------------------------------------------
def test_accuracy_vs_noise_means_and_errorbars(tmp_path):
    ax = plot_accuracy_vs_noise(sweep_results())
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "rate" and ax.get_ylabel() == "accuracy"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "method"
    assert [t.get_text() for t in legend.get_texts()] == ["ce", "forward"]
    ce_line = ax.lines[0]
    np.testing.assert_allclose(ce_line.get_xdata(), [0.0, 0.2, 0.4])
    # mean over seeds 0, 1, 2 adds 0.01 on average
    np.testing.assert_allclose(ce_line.get_ydata(), [0.96, 0.96 - 0.12, 0.96 - 0.24])
    assert len(ax.collections) == 2  # one set of error bars per method
    segments = ax.collections[0].get_segments()
    np.testing.assert_allclose(segments[0][1, 1] - segments[0][0, 1], 2 * 0.01)  # +/- sample std
    ax.figure.savefig(tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_accuracy_vs_noise_dataframe_and_options():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(sweep_results()).rename(columns={"rate": "noise", "accuracy": "acc"})
    fig, ax = plt.subplots()
    out = plot_accuracy_vs_noise(df, x="noise", y="acc", ax=ax, errorbars=False)
    assert out is ax
    assert ax.get_xlabel() == "noise" and ax.get_ylabel() == "acc"
    assert len(ax.lines) == 2 and len(ax.collections) == 0


def test_accuracy_vs_noise_without_hue_and_single_runs():
    rows = [{"rate": r, "accuracy": 1 - r} for r in (0.4, 0.0, 0.2)]
    ax = plot_accuracy_vs_noise(rows, hue=None)
    assert ax.get_legend() is None
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.0, 0.2, 0.4])  # sorted by x
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.8, 0.6])


@pytest.mark.parametrize(
    "results, error, match",
    [
        ([], ValueError, "results is empty"),
        ([{"method": "ce", "rate": 0.1}], ValueError, r"no column 'accuracy'; available columns: \['method', 'rate'\]"),
        ([{"method": "ce", "rate": "high", "accuracy": 0.5}], ValueError, "column 'rate' must hold numbers"),
        ({"method": ["ce"]}, TypeError, "must be a pandas DataFrame or a list of dicts, got dict"),
        ([("ce", 0.1, 0.5)], TypeError, "found a tuple"),
    ],
)
def test_accuracy_vs_noise_bad_input(results, error, match):
    with pytest.raises(error, match=match):
        plot_accuracy_vs_noise(results)


def test_accuracy_bars(tmp_path):
    ax = plot_accuracy_bars(sweep_results())
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ce", "forward"]
    assert ax.get_xlabel() == "method" and ax.get_ylabel() == "accuracy"
    heights = [p.get_height() for p in ax.patches]
    rows = sweep_results()
    expected = [np.mean([r["accuracy"] for r in rows if r["method"] == m]) for m in ("ce", "forward")]
    np.testing.assert_allclose(heights, expected)
    assert [t.get_text() for t in ax.texts] == [f"{v:.3f}" for v in expected]
    ax.figure.savefig(tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 1000


def test_accuracy_bars_dataframe_custom_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"loss": ["gce", "sce", "gce"], "f1": [0.5, 0.7, 0.7]})
    _, ax = plt.subplots()
    assert plot_accuracy_bars(df, method="loss", y="f1", ax=ax) is ax
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.6, 0.7])
    assert ax.get_ylabel() == "f1"


def test_accuracy_bars_bad_input():
    with pytest.raises(ValueError, match="no column 'method'"):
        plot_accuracy_bars([{"accuracy": 0.5}])
    with pytest.raises(ValueError, match="column 'accuracy' must hold numbers"):
        plot_accuracy_bars([{"method": "ce", "accuracy": None}])


# --------------------------------------------------------------------------
# matplotlib missing
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "func, args",
    [
        (plot_transition_matrix, (T2,)),
        (plot_transition_matrices, (T2, T2)),
        (plot_accuracy_vs_noise, ([{"method": "a", "rate": 0.0, "accuracy": 1.0}],)),
        (plot_accuracy_bars, ([{"method": "a", "accuracy": 1.0}],)),
    ],
)
def test_missing_matplotlib_message(monkeypatch, func, args):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=rf"{func.__name__} needs the optional package matplotlib: pip install 'sknoisy\[plot\]'"):
        func(*args)


def test_import_needs_no_matplotlib():
    # A fresh interpreter where matplotlib cannot be imported: the module still
    # imports, and only calling a function asks for the optional package.
    import subprocess

    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import sknoisy.plotting as p\n"
        "try:\n"
        "    p.plot_transition_matrix([[1.0, 0.0], [0.0, 1.0]])\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "plot_transition_matrix needs the optional package matplotlib" in done.stdout
