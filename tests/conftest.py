import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    # subprocesses (CLI tests, notebook kernels) inherit this: one OpenMP thread per process
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# under pytest-xdist every worker is a process of its own: one torch thread each, or the workers'
# OpenMP pools oversubscribe the 2 cores and small tensor ops slow down tenfold
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_net_params(seed: int, n_h: int = 6, n_v: int = 3, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n_h, n_v, generator=g, dtype=torch.float64)
