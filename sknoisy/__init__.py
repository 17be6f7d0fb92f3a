"""sknoisy: neural-network classifiers robust to noisy labels, the scikit-learn way."""

__version__ = "0.1.0.dev0"
