"""Similarities ``s(Ξ, x)`` for adaptive Hopfield retrieval (A-Hop, seed 003, "Key Designs" 2–3).

Every similarity is a ``torch.nn.Module`` mapping memories ``xi`` ``(N, d)`` and queries ``x``
``(..., d)`` to scores ``(..., N)``; batching runs over queries and memories at once.

- :class:`DotSimilarity`: ``β ξ·x`` (the vanilla MHN of Ramsauer et al.; with learned β: M-Hop).
- :class:`DistanceSimilarity`: ``−β ‖ξ − x‖²``.
- :class:`FootprintSimilarity`: the adaptive similarity
  ``s = Σ_b β_b w_bᵀ ftpt_b(ξ, x)`` over the bases ``b ∈ {dis, dot}``, where the similarity
  footprint ``ftpt_b = U sort↓(q_b)`` takes the per-dimension similarities
  ``q_dis,i = −(ξ_i − x_i)²`` and ``q_dot,i = ξ_i x_i``, sorts them in descending order and
  takes cumulative sums (``U`` is the lower-triangular matrix of ones), so entry ``k`` is the
  similarity over the ``k`` most consistent dimensions. ``sort`` and ``cumsum`` switch the two
  operations off (the paper's ablation).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._validate import positive, positive_int

#: Per-dimension base similarities of the footprint.
BASES = ("dis", "dot")


def per_dimension(xi: torch.Tensor, x: torch.Tensor, base: str) -> torch.Tensor:
    """Per-dimension similarities ``q_i(ξ, x)``, shape ``(..., N, d)``: ``−(ξ_i − x_i)²`` for
    ``"dis"`` (summing gives the negative squared distance), ``ξ_i x_i`` for ``"dot"``."""
    x = x.unsqueeze(-2)
    if base == "dis":
        return -(xi - x).square()
    if base == "dot":
        return xi * x
    raise ValueError(f"base must be one of {BASES}, got {base!r}")


def footprint(q: torch.Tensor, *, sort: bool = True, cumsum: bool = True) -> torch.Tensor:
    """The similarity footprint ``ftpt = U q̃`` over the last dimension: ``q̃`` is ``q`` sorted in
    descending order (if ``sort``), ``U`` the cumulative sum (if ``cumsum``)."""
    if sort:
        q = q.sort(dim=-1, descending=True).values
    if cumsum:
        q = q.cumsum(dim=-1)
    return q


class Similarity(nn.Module):
    """Base class: ``forward(xi, x)`` returns scores ``(..., N)`` for ``xi (N, d)``, ``x (..., d)``."""

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class _Beta(Similarity):
    """A similarity with one inverse temperature ``β > 0``, learned through ``log β`` when
    ``learn_beta`` (so it stays positive under Adam)."""

    def __init__(self, beta: float = 1.0, learn_beta: bool = True) -> None:
        super().__init__()
        # float64 so that exp(log β) is β to the last digit in float64 models
        log_beta = torch.tensor(math.log(positive(beta, "beta")), dtype=torch.float64)
        if learn_beta:
            self.log_beta = nn.Parameter(log_beta)
        else:
            self.register_buffer("log_beta", log_beta)

    @property
    def beta(self) -> float:
        return float(self.log_beta.detach().exp())


class DotSimilarity(_Beta):
    """``s(ξ, x) = β ξ·x``: the vanilla modern Hopfield network (``T(x) = Ξᵀ softmax(β Ξ x)``)."""

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.log_beta.exp() * (x @ xi.T)


class DistanceSimilarity(_Beta):
    """``s(ξ, x) = −β ‖ξ − x‖²`` (the Bayes-optimal similarity for isotropic Gaussian noise)."""

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        d2 = (x * x).sum(-1, keepdim=True) - 2 * (x @ xi.T) + (xi * xi).sum(-1)
        return -self.log_beta.exp() * d2


class FootprintSimilarity(Similarity):
    """The adaptive similarity ``s = Σ_b β_b w_bᵀ ftpt_b(ξ, x)`` (A-Hop).

    Args:
        n_features: ``d``, the pattern dimension (length of each ``w_b``).
        bases: which per-dimension similarities to combine (default both, as the paper's main model).
        sort, cumsum: the two parts of the footprint; switching them off gives the ablation.
        beta: initial ``β_b`` per base (signed, learnable combination weights); default 1 for
            ``dis`` and 0.1 for ``dot``, so training starts near the negative squared distance.

    ``w_b`` starts so that ``w_bᵀ ftpt_b`` is the plain base similarity (the last footprint entry
    with ``cumsum``, all ones without): A-Hop starts as ``Σ_b β_b`` × base similarity and learns
    from there. This initialisation is our choice; the paper does not state one.
    """

    def __init__(
        self,
        n_features: int,
        bases: Sequence[str] = BASES,
        *,
        sort: bool = True,
        cumsum: bool = True,
        beta: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        d = positive_int(n_features, "n_features")
        bases = tuple(bases)
        if not bases or len(set(bases)) != len(bases) or any(b not in BASES for b in bases):
            raise ValueError(f"bases must be distinct names from {BASES}, got {bases!r}")
        beta = [1.0 if b == "dis" else 0.1 for b in bases] if beta is None else [float(b) for b in beta]
        if len(beta) != len(bases):
            raise ValueError(f"beta must give one value per base ({len(bases)}), got {len(beta)}")
        self.bases, self.sort, self.cumsum, self.n_features = bases, bool(sort), bool(cumsum), d
        w = torch.zeros(len(bases), d)
        if cumsum:
            w[:, -1] = 1.0
        else:
            w[:] = 1.0
        self.w = nn.Parameter(w)
        self.beta = nn.Parameter(torch.tensor(beta))

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, bases={self.bases}, sort={self.sort}, cumsum={self.cumsum}"

    def footprints(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """All footprints ``ftpt_b``, shape ``(..., N, n_bases, d)`` (for inspection)."""
        return torch.stack(
            [footprint(per_dimension(xi, x, b), sort=self.sort, cumsum=self.cumsum) for b in self.bases], dim=-2
        )

    def features(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The parameter-free part of the score: per-dimension similarities, sorted if ``sort``,
        shape ``(..., N, n_bases, d)``. They do not depend on ``w`` or ``β``, so
        :func:`~hopdyn.adaptive.training.fit` computes them once per training set."""
        return torch.stack([footprint(per_dimension(xi, x, b), sort=self.sort, cumsum=False) for b in self.bases], -2)

    def weights(self) -> torch.Tensor:
        """Per-sorted-dimension weights ``v_b = Uᵀ(β_b w_b)``, shape ``(n_bases, d)``:
        ``s = Σ_b β_b w_bᵀ U q̃_b = Σ_b v_bᵀ q̃_b`` (the cumulative sum moved onto the weights)."""
        coef = self.beta.unsqueeze(-1) * self.w
        return coef.flip(-1).cumsum(-1).flip(-1) if self.cumsum else coef

    def score_features(self, f: torch.Tensor) -> torch.Tensor:
        """Scores ``(..., N)`` from :meth:`features`."""
        return torch.einsum("...bd,bd->...", f, self.weights())

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if xi.shape[-1] != self.n_features or x.shape[-1] != self.n_features:
            raise ValueError(
                f"xi and x must have last dimension n_features={self.n_features}, "
                f"got {tuple(xi.shape)} and {tuple(x.shape)}"
            )
        if self.sort:
            return self.score_features(self.features(xi, x))
        # Without the sort the score is a per-dimension weighting of q, so a few matmuls do it
        # and the (..., N, d) tensor is never built.
        s = 0.0
        for b, v in zip(self.bases, self.weights()):
            if b == "dot":
                s = s + x @ (xi * v).T
            else:  # −Σ v_i (ξ_i − x_i)² = −(x²)·v + 2 x·(ξ v) − (ξ²)·v
                s = s - ((x * x) @ v).unsqueeze(-1) + 2 * (x @ (xi * v).T) - (xi * xi) @ v
        return s
