"""Run every gallery example in examples/ so that none of them rots.

Each example honours ``SKNOISY_EXAMPLE_QUICK=1`` (tiny data and epochs); the
full-size runs are marked slow. Examples run in this process with runpy
(importing torch once is most of an example's quick run), with matplotlib on
the Agg backend, ``plt.show`` made a no-op, scikit-learn's configuration
restored afterwards, and one torch thread: the quick networks are so small
that a second thread only adds synchronisation, which is very slow on a
loaded machine.
"""

import ast
import runpy
from pathlib import Path

import pytest
import sklearn
import torch

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("pandas")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
EXPECTED = {
    "plot_grid_search_tabular.py",
    "plot_image_mlc.py",
    "plot_estimate_transition_matrix.py",
    "plot_robust_losses.py",
    "plot_massive_noise.py",
}


def test_all_examples_are_found():
    assert EXPECTED <= {path.name for path in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_gallery_style(path):
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring, f"{path.name} needs a module docstring with a title"
    lines = [line.strip() for line in docstring.splitlines() if line.strip()]
    title = next(i for i, line in enumerate(lines) if set(line) != {"="})
    assert set(lines[title + 1]) == {"="}, f"{path.name}: the title must be underlined with ="
    assert len(lines[title + 1]) >= len(lines[title]), f"{path.name}: the underline is shorter than the title"
    assert source.count("# %%") >= 2, f"{path.name} needs '# %%' cells"
    assert "SKNOISY_EXAMPLE_QUICK" in source


def _run_example(path, monkeypatch, quick):
    if quick:
        monkeypatch.setenv("SKNOISY_EXAMPLE_QUICK", "1")
    else:
        monkeypatch.delenv("SKNOISY_EXAMPLE_QUICK", raising=False)
    shown = []
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: shown.append(len(plt.get_fignums())))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with sklearn.config_context():
            runpy.run_path(str(path), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
        plt.close("all")
    assert shown and all(n >= 1 for n in shown), f"{path.name} showed no figure"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_quickly(path, monkeypatch, capsys):
    _run_example(path, monkeypatch, quick=True)
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_at_full_size(path, monkeypatch):
    _run_example(path, monkeypatch, quick=False)
