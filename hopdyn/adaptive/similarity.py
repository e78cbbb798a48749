"""Similarities ``s(Ξ, x)`` for adaptive Hopfield retrieval (A-Hop, seed 003, "Key Designs" 2–3).

Every similarity is a ``torch.nn.Module`` mapping memories ``xi`` and queries ``x`` to scores:
one bank ``xi (N, d)`` with queries ``x (..., d)`` gives ``(..., N)``; a bank per sample
``xi (B, N, d)`` (multiple-instance learning) with ``x (B, d)`` gives ``(B, N)`` and with
``x (B, M, d)`` gives ``(B, M, N)``. Everything is differentiable in ``xi``, ``x`` and the parameters.

- :class:`DotSimilarity`: ``β ξ·x`` (the vanilla MHN of Ramsauer et al.; with learned β: M-Hop).
- :class:`DistanceSimilarity`: ``−β ‖ξ − x‖²``.
- :class:`FootprintSimilarity`: the adaptive similarity
  ``s = Σ_b β_b w_bᵀ ftpt_b(ξ, x)`` over the bases ``b ∈ {dis, dot}``, where the similarity
  footprint ``ftpt_b = U sort↓(q_b)`` takes the per-dimension similarities
  ``q_dis,i = −(ξ_i − x_i)²`` and ``q_dot,i = ξ_i x_i``, sorts them in descending order and
  takes cumulative sums (``U`` is the lower-triangular matrix of ones), so entry ``k`` is the
  similarity over the ``k`` most consistent dimensions. ``sort`` and ``cumsum`` switch the two
  operations off (the paper's ablation).

**Fast form.** ``wᵀ U q̃ = (Uᵀw)ᵀ q̃``: a weighted sum of cumulative sums of sorted values is a
dot product of the sorted values with the reversed cumulative sum of the weights. So the score is
one sort of the ``(…, N, n_bases, d)`` per-dimension tensor and one contraction
(:func:`sorted_contraction`); its gradient puts the weight of rank ``k`` back at the position
that was sorted there (a scatter), so no sort is differentiated by autograd. On the CPU the sort
is numpy's vectorised value sort with the index packed into the low mantissa bits (exact, see
:func:`_sort_with_indices`), several times faster than ``torch.sort`` on short rows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .._validate import positive, positive_int

#: Per-dimension base similarities of the footprint.
BASES = ("dis", "dot")


def align(xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``xi`` reshaped to broadcast against ``x.unsqueeze(-2)``: a bank per sample ``(B, N, d)``
    meets queries ``(B, M, d)`` as ``(B, 1, N, d)``; other shapes broadcast as they are."""
    if xi.dim() == 3 and x.dim() == 3:
        return xi.unsqueeze(1)
    if xi.dim() > 3 or (xi.dim() == 3 and x.dim() != 2):
        raise ValueError(f"memories (B, N, d) take queries (B, d) or (B, M, d); got memories {tuple(xi.shape)} "
                         f"and queries {tuple(x.shape)}")
    return xi


def dot_scores(xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``ξ_μ · x`` for every memory, shape ``(..., N)`` (one bank or a bank per sample)."""
    if xi.dim() == 2:
        return x @ xi.mT
    if x.dim() == 2:
        return torch.einsum("bnd,bd->bn", xi, x)
    return x @ xi.mT


def per_dimension(xi: torch.Tensor, x: torch.Tensor, base: str) -> torch.Tensor:
    """Per-dimension similarities ``q_i(ξ, x)``, shape ``(..., N, d)``: ``−(ξ_i − x_i)²`` for
    ``"dis"`` (summing gives the negative squared distance), ``ξ_i x_i`` for ``"dot"``."""
    xi = align(xi, x)
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


def _sort_with_indices(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``q`` sorted ascending over the last dimension, and the indices, ``(values, indices)``.

    On the CPU, torch's sort (and numpy's argsort) are 5–20× slower on short rows than numpy's
    vectorised value sort (x86-simd-sort), and a last-dimension ``gather`` is slower than a flat
    one. So for float32 the index is written into the low mantissa bits of each value, the keys
    are sorted as values, and the indices read back: values that differ in their remaining bits
    keep their order, so only values within a relative 2^-(23-b) of each other (b index bits)
    can come out swapped. The exact values are taken by a flat gather, and the rare rows that are
    out of order are sorted again exactly: the result is an exact ascending sort."""
    if q.device.type != "cpu":
        return q.sort(dim=-1)
    a = np.ascontiguousarray(q.detach().numpy())
    d = a.shape[-1]
    rows = a.reshape(-1, d)
    bits = max(1, (d - 1).bit_length())
    # ±inf would become NaN keys, whose bits the sort need not keep
    if a.dtype == np.float32 and bits <= 10 and np.isfinite(rows).all():
        mask = (1 << bits) - 1
        keys = (rows.view(np.int32) & np.int32(~mask)) | np.arange(d, dtype=np.int32)
        keys.view(np.float32).sort(axis=-1)
        idx = (keys & mask).astype(np.int64)
    else:
        idx = np.argsort(rows, axis=-1)
    flat = (idx + (np.arange(rows.shape[0], dtype=np.int64) * d)[:, None]).ravel()
    vals = rows.ravel()[flat].reshape(rows.shape)
    bad = np.nonzero((vals[:, 1:] < vals[:, :-1]).any(-1))[0]
    if bad.size:
        idx[bad] = np.argsort(rows[bad], axis=-1)
        vals[bad] = np.take_along_axis(rows[bad], idx[bad], -1)
    return torch.from_numpy(vals.reshape(a.shape)), torch.from_numpy(idx.reshape(a.shape))


def _sort_values(q: torch.Tensor) -> torch.Tensor:
    """``q`` sorted ascending over the last dimension, without indices (no gradient)."""
    if q.device.type == "cpu":
        return torch.from_numpy(np.sort(q.detach().numpy(), axis=-1))
    return q.sort(dim=-1).values


class _SortedContraction(torch.autograd.Function):
    """``Σ_{b,k} v_{b,k} sort↓(q_b)_k``; the backward scatters ``v`` to the sorted positions."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        qs, idx = _sort_with_indices(q)
        vf = v.flip(-1)  # ascending sort: rank k from the top sits at position d−1−k
        ctx.save_for_backward(idx, qs, vf)
        return torch.einsum("...bd,bd->...", qs, vf)

    @staticmethod
    @once_differentiable
    def backward(ctx, g: torch.Tensor):
        idx, qs, vf = ctx.saved_tensors
        grad_q = grad_v = None
        if ctx.needs_input_grad[0]:
            grad_q = torch.empty_like(qs).scatter_(-1, idx, (g[..., None, None] * vf).expand_as(qs))
        if ctx.needs_input_grad[1]:
            grad_v = torch.einsum("...,...bd->bd", g, qs).flip(-1)
        return grad_q, grad_v


def sorted_contraction(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``Σ_b v_bᵀ sort↓(q_b)`` for ``q (..., n_bases, d)`` and weights ``v (n_bases, d)``, shape ``(...)``.

    With ``v_b = Uᵀ(β_b w_b)`` this is the A-Hop score ``Σ_b β_b w_bᵀ U q̃_b`` (the fast form of
    the module docstring). Differentiable once in ``q`` and ``v``."""
    if torch.is_grad_enabled() and (q.requires_grad or v.requires_grad):
        return _SortedContraction.apply(q, v)
    return torch.einsum("...bd,bd->...", _sort_values(q), v.flip(-1))


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
        return self.log_beta.exp() * dot_scores(xi, x)


class DistanceSimilarity(_Beta):
    """``s(ξ, x) = −β ‖ξ − x‖²`` (the Bayes-optimal similarity for isotropic Gaussian noise)."""

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        sq = (align(xi, x) * align(xi, x)).sum(-1)
        d2 = (x * x).sum(-1, keepdim=True) - 2 * dot_scores(xi, x) + sq
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
        """All footprints ``ftpt_b``, shape ``(..., N, n_bases, d)``: the paper's definition,
        computed literally with ``torch.sort`` and ``cumsum`` (for inspection and as the
        reference of the fast path)."""
        return torch.stack(
            [footprint(per_dimension(xi, x, b), sort=self.sort, cumsum=self.cumsum) for b in self.bases], dim=-2
        )

    def per_dimension(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-dimension similarities of every base, shape ``(..., N, n_bases, d)``."""
        return torch.stack([per_dimension(xi, x, b) for b in self.bases], -2)

    def features(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The parameter-free part of the score: per-dimension similarities, sorted (descending)
        if ``sort``, shape ``(..., N, n_bases, d)``, without gradient. They do not depend on ``w``
        or ``β``, so :func:`~hopdyn.adaptive.training.fit` computes them once per training set
        when the memories are fixed."""
        q = self.per_dimension(xi, x).detach()
        return _sort_values(q).flip(-1) if self.sort else q

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
            return sorted_contraction(self.per_dimension(xi, x), self.weights())
        # Without the sort the score is a per-dimension weighting of q, so a few matmuls do it
        # and the (..., N, d) tensor is never built.
        s = 0.0
        xa = align(xi, x)
        for b, v in zip(self.bases, self.weights()):
            if b == "dot":
                s = s + dot_scores(xi * v, x)
            else:  # −Σ v_i (ξ_i − x_i)² = −(x²)·v + 2 x·(ξ v) − (ξ²)·v
                s = s - ((x * x) @ v).unsqueeze(-1) + 2 * dot_scores(xi * v, x) - (xa * xa) @ v
        return s
