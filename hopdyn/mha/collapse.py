"""Rank collapse and token uniformity of token matrices ``X ∈ R^{T×d}`` (one row per token).

Dong, Cordonnier & Loukas (2021), "Attention is not all you need: pure attention loses rank
doubly exponentially with depth", measure collapse by the residual ``res(X) = X − 1xᵀ``,
``x = argmin_x ‖X − 1xᵀ‖``, in the composite norm ``‖R‖_{1,∞} = sqrt(‖R‖_1 ‖R‖_∞)``
(``‖·‖_1``: largest column sum of ``|R|``; ``‖·‖_∞``: largest row sum).

**Which x.** The exact minimiser of the composite norm has no closed form (the geometric mean of
two convex functions is not convex). :func:`residual` centres on the token mean
``x̄ = 1ᵀX/T`` instead, which is within a factor of two of the minimum: ``X − 1x̄ᵀ =
(I − 11ᵀ/T)(X − 1x*ᵀ)`` and ``‖I − 11ᵀ/T‖_1 = ‖I − 11ᵀ/T‖_∞ = 2(1 − 1/T)``, so
``res* ≤ ‖X − 1x̄ᵀ‖_{1,∞} ≤ 2(1 − 1/T)·res*``. Both vanish together (rank collapse to ``1xᵀ``)
and decay at the same rate with depth, which is what the metric is for.

Every token function takes ``(..., T, d)`` and returns ``(...)``; :func:`attention_entropy` and
:func:`effective_rank` diagnose attention maps ``(..., L, S)``.
"""
from __future__ import annotations

import torch

from .._validate import ArrayLike, as_tensor


def _tokens(x: ArrayLike, name: str = "x") -> torch.Tensor:
    return as_tensor(x, name, min_dim=2)


def norm_1inf(x: ArrayLike) -> torch.Tensor:
    """Composite norm ``‖X‖_{1,∞} = sqrt(‖X‖_1 ‖X‖_∞)`` of Dong et al. (2021), shape ``(...)``."""
    a = _tokens(x).abs()
    return torch.sqrt(a.sum(-2).amax(-1) * a.sum(-1).amax(-1))


def residual(x: ArrayLike) -> torch.Tensor:
    """``res(X) = X − 1x̄ᵀ`` with ``x̄`` the token mean (see the module docstring), shape ``(..., T, d)``."""
    x = _tokens(x)
    return x - x.mean(-2, keepdim=True)


def residual_norm(x: ArrayLike) -> torch.Tensor:
    """``‖res(X)‖_{1,∞}``: 0 exactly when all tokens are equal (rank collapse), shape ``(...)``."""
    return norm_1inf(residual(x))


def relative_residual(x: ArrayLike) -> torch.Tensor:
    """``‖res(X)‖_{1,∞} / ‖X‖_{1,∞}`` in ``[0, 2]``: scale-free collapse, shape ``(...)``
    (0 for ``X = 0``)."""
    x = _tokens(x)
    den = norm_1inf(x)
    return residual_norm(x) / torch.where(den > 0, den, torch.ones_like(den))


def _unit_spread(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """For unit tokens ``u_i = x_i/‖x_i‖`` (zero tokens stay 0): ``(number of zero tokens,
    Σ‖u_i − ū‖², T)``."""
    t = x.shape[-2]
    if t < 2:
        raise ValueError(f"x must hold at least 2 tokens (shape (..., T, d) with T >= 2), got shape {tuple(x.shape)}")
    n = x.norm(dim=-1, keepdim=True)
    u = x / torch.where(n > 0, n, torch.ones_like(n))
    return (n == 0).sum((-2, -1)).to(x.dtype), (u - u.mean(-2, keepdim=True)).pow(2).sum((-2, -1)), t


def mean_cosine_similarity(x: ArrayLike) -> torch.Tensor:
    """Mean cosine similarity over all ordered pairs of distinct tokens (token uniformity),
    shape ``(...)``: 1 when all tokens point the same way. A zero token has similarity 0 with
    every token.

    Computed without the ``T×T`` matrix: ``Σ_{i≠j} u_i·u_j = ‖Σ u_i‖² − Σ‖u_i‖²`` with
    ``Σ‖u_i‖² = T − z`` (``z`` zero tokens) and ``‖Σ u_i‖² = T(T − z − Σ‖u_i − ū‖²)``, so the mean
    is ``(T − z)/T − Σ‖u_i − ū‖²/(T − 1)``.
    """
    zeros, spread, t = _unit_spread(_tokens(x))
    return (t - zeros) / t - spread / (t - 1)


def cosine_gap(x: ArrayLike) -> torch.Tensor:
    """``1 − mean_cosine_similarity(x) = z/T + Σ‖u_i − ū‖²/(T − 1)``, from the spread of the unit
    tokens so that it keeps its digits near collapse (where ``1 − cos`` would lose all of them;
    it is quadratic in the angles, so its rounding floor is about ``eps²``), shape ``(...)``."""
    zeros, spread, t = _unit_spread(_tokens(x))
    return zeros / t + spread / (t - 1)


def collapse_metrics(x: ArrayLike) -> dict[str, torch.Tensor]:
    """All three metrics of :mod:`hopdyn.mha.collapse` for a batch of token matrices ``(..., T, d)``."""
    x = _tokens(x)
    return {
        "residual": residual_norm(x),
        "relative_residual": relative_residual(x),
        "cosine": mean_cosine_similarity(x),
        "cosine_gap": cosine_gap(x),
    }


# -- attention maps --------------------------------------------------------------------------------
def attention_entropy(w: ArrayLike) -> torch.Tensor:
    """Mean Shannon entropy (nats) of the rows of attention maps ``w`` ``(..., L, S)`` (each row a
    distribution over keys), shape ``(...)``; ``0 log 0 = 0``. Uniform attention over ``S`` keys
    gives ``log S``, attention to one key 0."""
    w = as_tensor(w, "w", min_dim=2)
    return -torch.special.xlogy(w, w).sum(-1).mean(-1)


def effective_rank(m: ArrayLike) -> torch.Tensor:
    """Effective rank of matrices ``(..., L, S)`` (Roy & Vetterli 2007): ``exp(H(p))`` with
    ``p = σ/Σσ`` the normalised singular values, shape ``(...)``; 1 for a rank-one matrix (the
    attention map of collapsed tokens), ``min(L, S)`` for equal singular values (the identity)."""
    s = torch.linalg.svdvals(as_tensor(m, "m", min_dim=2))
    p = s / s.sum(-1, keepdim=True).clamp_min(torch.finfo(s.dtype).tiny)
    return torch.exp(-torch.special.xlogy(p, p).sum(-1))
