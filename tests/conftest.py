import os

# subprocesses (CLI tests, notebook kernels) inherit this: one OpenMP thread per process
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# one torch thread per test process: the tests' tensors are small, and with pytest -n 2 the
# workers' OpenMP pools would oversubscribe the 2 cores (small ops measured 10-300x slower)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state, whatever ran before it on this worker
    (tests that draw without their own generator stay reproducible under pytest-xdist)."""
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_net_params(seed: int, n_h: int = 6, n_v: int = 3, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n_h, n_v, generator=g, dtype=torch.float64)
