import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_net_params(seed: int, n_h: int = 6, n_v: int = 3, scale: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n_h, n_v, generator=g, dtype=torch.float64)
