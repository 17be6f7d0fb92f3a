"""Seeds for torch that never disturb the caller's global random state."""

import contextlib
import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["seed_from", "torch_seeded"]


def seed_from(random_state):
    """An integer seed from an int, a RandomState or None (None -> None).

    A ``RandomState`` instance gives one draw from it, so two calls on the
    same instance give two different seeds, as scikit-learn's estimators do.

    Examples
    --------
    >>> import numpy as np
    >>> from sknoisy.utils._random import seed_from
    >>> seed_from(3), seed_from(None)
    (3, None)
    >>> seed_from(np.random.RandomState(0)) == seed_from(np.random.RandomState(0))
    True
    """
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seeded(seed, device=None):
    """Seed torch's RNG (and the CUDA one of ``device``) inside the block only.

    The global torch RNG is restored when the block ends, so fitting a model
    with a ``random_state`` leaves the user's random stream as it was. With
    ``seed=None`` nothing is seeded nor restored: the global RNG is used.

    Examples
    --------
    >>> import torch
    >>> from sknoisy.utils._random import torch_seeded
    >>> before = torch.random.get_rng_state()
    >>> with torch_seeded(0):
    ...     a = torch.rand(1)
    >>> with torch_seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b), torch.equal(before, torch.random.get_rng_state())
    (True, True)
    """
    if seed is None:
        yield None
        return
    import torch

    devices = []
    if str(device).startswith("cuda") and torch.cuda.is_available():
        devices = [torch.device(device).index or torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        for index in devices:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield seed
