"""Built-in data: example networks and memory sets used by the commands, the figures, the
notebooks and the experiments, and the one loader of scikit-learn's bundled 8×8 digits (offline).
Everything random takes a seed."""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ._validate import positive_int


def planar_memories(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Five memories in the plane at irregular angles and radii (shape ``(5, 2)``).

    With ``β = 4`` every memory is a stable attractor of the vanilla network (with ``β = 2``
    memories 1 and 3 are not), and for RecLag with ``γ = 1000`` the origin becomes a sixth
    attractor while all memories survive.
    """
    angles = torch.tensor([10.0, 85.0, 150.0, 215.0, 300.0], dtype=dtype) * math.pi / 180
    radii = torch.tensor([2.0, 1.6, 2.3, 1.8, 2.1], dtype=dtype)
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=-1)


#: β and γ of the default planar example.
PLANAR_BETA = 4.0
PLANAR_GAMMA = 1000.0


def gaussian_memories(n: int = 64, d: int = 64, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` patterns in ``d`` dimensions with i.i.d. standard normal entries, shape ``(n, d)``."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(positive_int(n, "n"), positive_int(d, "d"), generator=g, dtype=dtype)


def cluster_and_outlier(n: int = 12, d: int = 50, c: float = 0.35, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` cluster patterns ``ξ_i = √c e_0 + √(1−c) e_i`` (i = 1..n) and one outlier ``e_{n+1}``
    (orthogonal to all of them), shape ``(n + 1, d)``; the outlier is the last row. All have unit
    norm; cluster patterns overlap pairwise by ``c``: a tractable setting for the continual-learning
    experiments (:mod:`hopdyn.experiments.continual`) whose numbers are hopdyn's choices, since the
    seed paper states none."""
    n, d = positive_int(n, "n"), positive_int(d, "d")
    if d < n + 2:
        raise ValueError(f"d must be at least n + 2 = {n + 2} to hold the cluster and the outlier, got {d}")
    if not 0 <= c < 1:
        raise ValueError(f"c must be in [0, 1), got {c!r}")
    X = torch.zeros(n + 1, d, dtype=dtype)
    X[:n, 0] = math.sqrt(c)
    X[torch.arange(n), torch.arange(1, n + 1)] = math.sqrt(1 - c)
    X[n, n + 1] = 1.0
    return X


# -- digits --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def digits(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8×8 digits (1797 images, no download): ``(pixels, labels)`` with
    pixels of shape ``(1797, 64)`` (each row an image, row-major: ``reshape(-1, 8, 8)`` gives the
    images) scaled from 0..16 to [0, 1], and labels ``(1797,)`` (int64, 0..9), in the file's order.
    Every call returns fresh tensors (the file is parsed once per process)."""
    x, y = _digits_arrays()
    return torch.tensor(x / 16.0, dtype=dtype), torch.tensor(y, dtype=torch.int64)


def digits_memories(n: int = 64, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` distinct digit images of :func:`digits` drawn at random (seeded), shape ``(n, 64)``,
    pixels in [0, 1]."""
    images, _ = digits(dtype)
    n = positive_int(n, "n")
    if n > images.shape[0]:
        raise ValueError(f"n must be at most {images.shape[0]} (the digits set), got {n}")
    g = torch.Generator().manual_seed(int(seed))
    return images[torch.randperm(images.shape[0], generator=g)[:n]]
