"""Separation functions ``p = sep(s)`` that turn scores over memories into retrieval weights, and
their training losses (A-Hop, seed 003, "Background": softmax, sparsemax, …).

- ``softmax``: the modern Hopfield network (Ramsauer et al.); trained by cross-entropy.
- ``sparsemax``: the Euclidean projection of ``s`` onto the simplex (Martins & Astudillo 2016;
  the sparse Hopfield network of Hu et al. 2023): ``p = (s − τ)_+`` with ``Σ p = 1``.
- ``entmax15``: α-entmax with α = 1.5 (Peters et al. 2019): ``p = ((s/2 − τ)_+)²``, ``Σ p = 1``.

Both sparse maps are computed exactly by sorting (the support is a top-k set). A sparse ``p`` has
zeros, so ``log p`` is no loss: they are trained by their Fenchel–Young loss
``L(s, k) = ⟨s, p − e_k⟩ + H_α(p)`` (Tsallis entropy ``H_α``), whose gradient is ``p − e_k``.
For softmax that loss is the cross-entropy.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F


def _ranks(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    zs = z.sort(dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    return zs, k


def sparsemax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The Euclidean projection of ``z`` onto the probability simplex along ``dim``:
    ``τ = (Σ_{j≤k*} z_(j) − 1)/k*`` with ``k* = max{k : 1 + k z_(k) > Σ_{j≤k} z_(j)}``."""
    z = z.movedim(dim, -1)
    zs, k = _ranks(z)
    cs = zs.cumsum(-1)
    support = (1 + k * zs > cs).sum(-1, keepdim=True)  # the condition holds exactly for k ≤ k*
    tau = (cs.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return (z - tau).clamp_min(0).movedim(-1, dim)


def entmax15(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """1.5-entmax along ``dim``, ``p = ((z/2 − τ)_+)²`` with ``Σ p = 1``, exactly by sorting: for
    a support of the top ``k`` entries of ``u = z/2``, ``τ_k = mean_k − √((1 − k·var_k)/k)``
    (the root of ``Σ_{j≤k} (u_(j) − τ)² = 1``); ``k*`` is the largest ``k`` with ``τ_k ≤ u_(k)``."""
    z = z.movedim(dim, -1) / 2
    z = z - z.amax(-1, keepdim=True)  # τ shifts with z; keeps the squares small
    zs, k = _ranks(z)
    mean = zs.cumsum(-1) / k
    var = (zs * zs).cumsum(-1) / k - mean * mean
    tau = mean - ((1 - k * var).clamp_min(0) / k).sqrt()
    support = (tau <= zs).sum(-1, keepdim=True)
    t = tau.gather(-1, support - 1)
    return (z - t).clamp_min(0).square().movedim(-1, dim)


#: Separation name → function over the last dimension.
SEPARATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda s: torch.softmax(s, dim=-1),
    "sparsemax": sparsemax,
    "entmax15": entmax15,
}
_ALPHA = {"sparsemax": 2.0, "entmax15": 1.5}


def check_separation(name: str) -> str:
    if name not in SEPARATIONS:
        raise ValueError(f"separation must be one of {tuple(SEPARATIONS)}, got {name!r}")
    return name


def separation_loss(scores: torch.Tensor, target: torch.Tensor, separation: str = "softmax") -> torch.Tensor:
    """Mean training loss of scores ``(n, N)`` against source indices ``(n,)``: cross-entropy for
    softmax, the Fenchel–Young loss ``⟨s, p − e_k⟩ + (1 − Σ p^α)/(α(α−1))`` for the sparse maps
    (``p`` enters without gradient: the loss's gradient is ``p − e_k`` by the envelope theorem)."""
    if check_separation(separation) == "softmax":
        return F.cross_entropy(scores, target)
    a = _ALPHA[separation]
    p = SEPARATIONS[separation](scores.detach())
    onehot = F.one_hot(target, scores.shape[-1]).to(scores.dtype)
    tsallis = (1 - p.pow(a).sum(-1)) / (a * (a - 1))
    return ((scores * (p - onehot)).sum(-1) + tsallis).mean()
