"""The version of sknoisy: one place that setup.py, the package and saved models read."""

__version__ = "0.1.0.dev0"
