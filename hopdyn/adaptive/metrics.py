"""Judging retrieval (seed 003, "Key Designs" 1).

*Correct retrieval*: the stored pattern nearest to the retrieved ``y`` is the memory that
generated the query, ``argmin_μ ‖y − ξ_μ‖ = k`` (for a uniform prior the source is the MAP
answer the paper asks for). *ε-retrieval* (Ramsauer et al.) only asks that ``y`` be within ``ε``
of *some* memory; it is reported for contrast, since it counts a confident wrong answer as a success.
"""
from __future__ import annotations

import torch

from .._validate import ArrayLike, as_tensor, positive
from ._checks import as_memories


def _check(xi: ArrayLike, y: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    xi = as_memories(xi)
    y = as_tensor(y, "y", like=xi, last_dim=xi.shape[1])
    return xi, y.to(xi.dtype)


def memory_distances(xi: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Euclidean distances ``‖y − ξ_μ‖``, shape ``(..., N)``."""
    xi, y = _check(xi, y)
    return torch.cdist(y.reshape(-1, xi.shape[1]), xi).reshape(*y.shape[:-1], xi.shape[0])


def nearest_memory(xi: ArrayLike, y: ArrayLike) -> torch.Tensor:
    """Index of the stored pattern nearest to each retrieved ``y``, shape ``(...)``."""
    return memory_distances(xi, y).argmin(-1)


def correct_retrieval(xi: ArrayLike, y: ArrayLike, source: ArrayLike) -> float:
    """Fraction of queries whose retrieved pattern's nearest memory is its source."""
    near = nearest_memory(xi, y)
    src = torch.as_tensor(source, device=near.device)
    if src.shape != near.shape:
        raise ValueError(f"source must have shape {tuple(near.shape)}, got {tuple(src.shape)}")
    return float((near == src).double().mean())


def eps_retrieval(xi: ArrayLike, y: ArrayLike, eps: float, source: ArrayLike | None = None) -> float:
    """Fraction of ``y`` within ``eps`` of some memory (of its ``source`` when given)."""
    eps = positive(eps, "eps")
    dist = memory_distances(xi, y)
    if source is None:
        close = dist.min(-1).values
    else:
        src = torch.as_tensor(source, device=dist.device)
        if src.shape != dist.shape[:-1]:
            raise ValueError(f"source must have shape {tuple(dist.shape[:-1])}, got {tuple(src.shape)}")
        close = dist.gather(-1, src.unsqueeze(-1)).squeeze(-1)
    return float((close <= eps).double().mean())


def separation(xi: ArrayLike) -> float:
    """Smallest distance between two stored patterns, ``min_{μ≠ν} ‖ξ_μ − ξ_ν‖``."""
    xi = as_memories(xi, min_rows=2)
    d = torch.cdist(xi, xi)
    d.fill_diagonal_(float("inf"))
    return float(d.min())
