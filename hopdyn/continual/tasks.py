"""Task changes ``X_old → X_new``: every operator returns a batch of new memory sets, shape
``(R, N_new, d)``, over which the measurements of :mod:`hopdyn.continual` broadcast."""
from __future__ import annotations

import torch

from .._validate import ArrayLike, as_tensor, positive, positive_int
from .memories import _memories


def random_rotations(
    n: int, d: int, eps: float, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``n`` rotations ``V = expm(εΩ)``, ``Ω = (W − Wᵀ)/2``, ``W_ij ~ N(0, 1)``, shape ``(n, d, d)``
    (one batched ``torch.linalg.matrix_exp``). ``Ω`` is skew-symmetric, so ``V`` is orthogonal with
    ``det V = 1`` and ``V = I + εΩ + O(ε²)``."""
    n, d = positive_int(n, "n"), positive_int(d, "d")
    eps = positive(eps, "eps")
    W = torch.randn(n, d, d, generator=generator, dtype=dtype)
    return torch.linalg.matrix_exp((0.5 * eps) * (W - W.mT))


def rotate(X: ArrayLike, V: ArrayLike) -> torch.Tensor:
    """``X_new = X_old Vᵀ`` (each memory ``ξ_μ ↦ V ξ_μ``) for a batch of rotations ``V``
    ``(R, d, d)``; returns ``(R, N, d)``."""
    X = _memories(X, "X")
    V = as_tensor(V, "V", like=X, min_dim=2, last_dim=X.shape[-1])
    if V.shape[-2] != X.shape[-1]:
        raise ValueError(f"V must have shape (..., {X.shape[-1]}, {X.shape[-1]}), got {tuple(V.shape)}")
    return X.to(V.dtype) @ V.mT


def drift(X: ArrayLike, sigma: float, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Generic drift ``X_new = X_old + σZ``, ``Z_μi ~ N(0, 1)``, ``n`` draws: shape ``(n, N, d)``."""
    X = _memories(X, "X")
    sigma, n = positive(sigma, "sigma"), positive_int(n, "n")
    Z = torch.randn(n, *X.shape, generator=generator, dtype=X.dtype)
    return X + sigma * Z.to(X.device)


def replace(X_old: ArrayLike, X_new: ArrayLike) -> torch.Tensor:
    """Task change by replacement: the new memory set ``X_new`` (same feature dimension as
    ``X_old``) as a batch of one, shape ``(1, N_new, d)``."""
    X_old = _memories(X_old, "X_old")
    X_new = _memories(X_new, "X_new", like=X_old, d=X_old.shape[-1])
    return X_new.reshape(-1, *X_new.shape[-2:])
