"""Built-in data of hopdyn.datasets: the digits loader every experiment uses, and the memory sets."""
import numpy as np
import pytest
import torch

import hopdyn as hd
from hopdyn import datasets


def test_digits_are_the_bundled_images_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    raw = load_digits()
    x, y = datasets.digits()
    assert x.shape == (1797, 64) and x.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_array_equal(x.reshape(-1, 8, 8).numpy(), (raw.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(y.numpy(), raw.target)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    x64, _ = datasets.digits(torch.float64)
    assert x64.dtype == torch.float64 and torch.equal(x64.float(), x)


def test_digits_are_fresh_tensors():
    x, y = datasets.digits()
    x[:] = -1.0
    y[:] = -1
    x2, y2 = datasets.digits()
    assert float(x2.min()) == 0.0 and int(y2.min()) == 0


def test_digits_memories_are_distinct_scaled_images_and_seeded():
    xi = datasets.digits_memories(10, seed=0)
    assert xi.shape == (10, 64) and float(xi.min()) >= 0 and float(xi.max()) <= 1
    assert torch.equal(xi, datasets.digits_memories(10, seed=0))
    assert not torch.equal(xi, datasets.digits_memories(10, seed=1))
    with pytest.raises(ValueError, match="at most 1797"):
        datasets.digits_memories(1798)


def test_gaussian_memories_are_seeded():
    a = datasets.gaussian_memories(5, 3, seed=2)
    assert a.shape == (5, 3) and a.dtype == torch.float32
    assert torch.equal(a, torch.randn(5, 3, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="n must be"):
        datasets.gaussian_memories(0)


def test_cluster_and_outlier_geometry():
    X = datasets.cluster_and_outlier(12, 50, 0.35)
    G = X @ X.T
    torch.testing.assert_close(G.diagonal(), torch.ones(13, dtype=torch.float64))
    off = G[:12, :12][~torch.eye(12, dtype=torch.bool)]
    torch.testing.assert_close(off, torch.full_like(off, 0.35))
    assert torch.all(G[12, :12] == 0)
    with pytest.raises(ValueError, match="d must be at least"):
        datasets.cluster_and_outlier(12, 13)
    with pytest.raises(ValueError, match="c must be"):
        datasets.cluster_and_outlier(3, 8, 1.0)


def test_planar_memories_and_the_lazy_name():
    assert hd.datasets is datasets
    xi = datasets.planar_memories()
    assert xi.shape == (5, 2) and xi.dtype == torch.float64
