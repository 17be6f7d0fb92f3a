"""pytest configuration shared by the test suite, the doctests and README.rst."""

import matplotlib
import torch

# The suite's networks are tiny: one thread is faster than two fighting over a
# shared 2-core machine (measured 5-10x on busy CI hosts), and results do not
# depend on it.
torch.set_num_threads(1)
# Examples and plotting tests must never try to open a window.
matplotlib.use("Agg")
