"""Input checks shared by the A-Hop modules."""
from __future__ import annotations

import torch

from .._validate import ArrayLike, as_tensor


def as_memories(xi: ArrayLike, min_rows: int = 1) -> torch.Tensor:
    """Stored patterns as a tensor of shape ``(N, d)`` with ``N >= min_rows``."""
    xi = as_tensor(xi, "xi", min_dim=2)
    if xi.dim() != 2 or xi.shape[0] < min_rows:
        raise ValueError(f"xi must have shape (N, d) with N >= {min_rows}, got shape {tuple(xi.shape)}")
    return xi
