"""``import sknoisy`` stays light: optional parts load on first use, every public name still resolves."""

import os
import subprocess
import sys

import pytest

import sknoisy

#: Imported by ``import sknoisy`` only when used.
OPTIONAL = ("sknoisy.datasets", "sknoisy.plotting", "sknoisy.cli", "matplotlib", "cleanlab")


def test_import_leaves_optional_parts_unloaded():
    script = (
        "import sys, sknoisy\n"
        f"print(','.join(m for m in {OPTIONAL!r} if m in sys.modules))\n"
        "from sknoisy import load_digits_images\n"
        "print('sknoisy.datasets' in sys.modules, load_digits_images.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr
    loaded, after = done.stdout.splitlines()
    assert loaded == ""
    assert after == "True sknoisy.datasets"


def test_every_public_name_resolves():
    namespace = {}
    exec("from sknoisy import *", namespace)
    assert set(sknoisy.__all__) <= set(namespace)
    assert set(sknoisy.__all__) <= set(dir(sknoisy))
    assert len(sknoisy.__all__) == len(set(sknoisy.__all__))
    assert "importlib" not in sknoisy.__all__ and "base" not in sknoisy.__all__  # modules are not API names
    assert sknoisy.datasets.load_digits_images is sknoisy.load_digits_images
    assert sknoisy.plotting.__name__ == "sknoisy.plotting"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'sknoisy' has no attribute 'no_such_name'"):
        sknoisy.no_such_name
