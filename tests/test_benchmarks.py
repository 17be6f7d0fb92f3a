"""Keep the benchmark scripts working: each runs with ``--quick`` into a temporary folder.

The accuracy and speed goals live in the committed results of the full runs
(benchmarks/results), not here; these tests only check that every script
still runs end to end and writes its markdown table and figure with the
machine facts and the exact command.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))
# Optional packages a script may need; it is skipped (not failed) where they are missing.
OPTIONAL = ("cleanlab", "mlxtend", "mnist1d", "matplotlib")


def test_benchmark_scripts_found():
    assert SCRIPTS, f"no benchmark scripts in {BENCHMARKS}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_quick_run(script, tmp_path):
    source = script.read_text(encoding="utf-8")
    for package in OPTIONAL:
        if f"import {package}" in source or f"from {package}" in source:
            pytest.importorskip(package)
    assert "--quick" in source and "--out" in source, f"{script.name} needs --quick and --out options"
    assert source.lstrip().startswith('"""'), f"{script.name} needs a module docstring with its command"

    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(tmp_path)],
        cwd=BENCHMARKS.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script.name} --quick failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    md = sorted(tmp_path.glob("*.md"))
    png = sorted(tmp_path.glob("*.png"))
    assert md, f"{script.name} wrote no markdown table into --out"
    assert png, f"{script.name} wrote no PNG figure into --out"
    assert all(p.stat().st_size > 1000 for p in png), "a figure is suspiciously small"
    text = "\n".join(p.read_text(encoding="utf-8") for p in md)
    assert "|" in text, "the markdown has no table"
    assert "--quick" in text, "the markdown does not show the exact command"
    assert "torch" in text.lower(), "the markdown does not show the torch version"


def test_own_data_images_quick_run(tmp_path):
    """own_data.py's second mode, on .npz images, runs end to end too."""
    pytest.importorskip("matplotlib")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "own_data.py"), "--data", "images", "--quick", "--out", str(tmp_path)],
        cwd=BENCHMARKS.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "own_data_images.md").read_text(encoding="utf-8")
    assert "on noisy images (.npz)" in text and "5% checked rows" in text
    assert (tmp_path / "own_data_images.png").stat().st_size > 1000
