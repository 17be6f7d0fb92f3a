"""Packaging for sknoisy.

torch is given an honest lower bound only; on machines where an unpinned
install would pull CUDA wheels, pin it first with ``-c constraints.txt``.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version = {}
for line in (HERE / "sknoisy" / "_version.py").read_text().splitlines():
    if line.startswith("__version__"):
        exec(line, version)

EXTRAS = {
    # the test extra also installs what the benchmark scripts and the AccelerateMixin test import,
    # so CI runs every benchmark in --quick mode instead of skipping it
    "test": [
        "pytest>=7",
        "hypothesis>=6",
        "pandas>=1.5",
        "matplotlib>=3.5",
        "tqdm>=4.60",
        "cleanlab>=2.5",
        "mlxtend>=0.22",
        "mnist1d>=0.0.2",
        "accelerate>=0.25",
    ],
    "plot": ["matplotlib>=3.5"],
    "benchmarks": ["cleanlab>=2.5", "matplotlib>=3.5", "pandas>=1.5", "mlxtend>=0.22", "mnist1d>=0.0.2"],
    "dask": ["dask[distributed]>=2023.1"],
    # builds docs/ (README: "Building the documentation"); the gallery runs examples/, which plot with
    # matplotlib and print tables with pandas
    "docs": [
        "sphinx>=7",
        "numpydoc>=1.6",
        "pydata-sphinx-theme>=0.15",
        "sphinx-gallery>=0.17",
        "myst-parser>=2",
        "matplotlib>=3.5",
        "pandas>=1.5",
    ],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="sknoisy",
    version=version["__version__"],
    description="Neural-network classifiers robust to noisy labels, the scikit-learn way (skorch + PyTorch).",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    packages=find_packages(include=["sknoisy", "sknoisy.*"]),
    python_requires=">=3.9",
    install_requires=[
        "numpy>=1.22",
        "scipy>=1.8",
        "scikit-learn>=1.6",
        "skorch>=1.4",
        "torch>=2.1",
        "tqdm>=4.60",
    ],
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["sknoisy=sknoisy.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Intended Audience :: Science/Research",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: BSD License",
    ],
)
