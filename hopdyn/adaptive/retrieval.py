"""Retrieval with a learned similarity: ``T(x) = Ξ softmax(s(Ξ, x))`` and its energy
``E(x) = −lse(s(Ξ, x))`` (A-Hop, seed 003, "Key Designs" 3–4).

:class:`AdaptiveHopfield` holds the memories and a similarity; ``step`` is one retrieval step,
``iterate`` repeats it, and :func:`energy_descent` measures whether the energy decreases along
the iteration (the paper proves it for isotropic noisy and biased variants only).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive_int
from ._checks import as_memories
from .similarity import Similarity


class AdaptiveHopfield(nn.Module):
    """A Hopfield network ``(Ξ, s)`` with retrieval ``T(x) = Ξᵀ softmax(s(Ξ, x))``.

    Args:
        xi: memories, shape ``(N, d)``, one per row (stored as a buffer, not trained).
        similarity: a :class:`~hopdyn.adaptive.similarity.Similarity` module.

    Queries have shape ``(..., d)`` and are computed in the model's dtype (call ``.double()``
    for float64). With ``DotSimilarity(β)`` this is the vanilla MHN:
    ``step(x) == hd.MHN(xi, memory=hd.LogSumExp(β)).step(x)``.
    """

    def __init__(self, xi: ArrayLike, similarity: Similarity) -> None:
        super().__init__()
        xi = as_memories(xi)
        if not isinstance(similarity, Similarity):
            raise ValueError(f"similarity must be a hopdyn.adaptive Similarity, got {type(similarity).__name__}")
        # float64 memories give a float64 model (verification); anything else computes in float32
        dtype = torch.float64 if xi.dtype == torch.float64 else torch.get_default_dtype()
        self.register_buffer("xi", xi.to(dtype))
        self.similarity = similarity.to(dtype)

    @property
    def n_memories(self) -> int:
        return self.xi.shape[0]

    @property
    def n_features(self) -> int:
        return self.xi.shape[1]

    def check_x(self, x: ArrayLike, name: str = "x") -> torch.Tensor:
        """Validate queries ``(..., d)`` and cast them to the model's dtype and device."""
        x = as_tensor(x, name, like=self.xi, last_dim=self.n_features)
        return x.to(dtype=self.xi.dtype, device=self.xi.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``s(Ξ, x)``, shape ``(..., N)`` (unchecked, differentiable: the training path)."""
        return self.similarity(self.xi, x)

    def scores(self, x: ArrayLike, chunk_size: int | None = None) -> torch.Tensor:
        """``s(Ξ, x)`` without gradients, in chunks of queries so memory stays bounded."""
        x = self.check_x(x)
        return self._chunked(x, self, chunk_size)

    def features(self, x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """The similarity's parameter-free features for queries ``(n, d)`` (see
        :meth:`FootprintSimilarity.features`), computed in chunks without gradients."""
        return self._chunked(x, lambda q: self.similarity.features(self.xi, q), chunk_size)

    def _chunked(self, x: torch.Tensor, fn, chunk_size: int | None) -> torch.Tensor:
        flat = x.reshape(-1, self.n_features)
        # a footprint holds (rows, N, d) numbers per base
        rows = chunk_rows(self.n_memories * self.n_features, chunk_size)
        with torch.no_grad():
            out = torch.cat([fn(flat[sl]) for sl in chunks(flat.shape[0], rows, False, "scores")])
        return out.reshape(*x.shape[:-1], *out.shape[1:])

    def probabilities(self, x: ArrayLike, chunk_size: int | None = None) -> torch.Tensor:
        """``softmax(s(Ξ, x))``: the model's posterior over the source memory."""
        return torch.softmax(self.scores(x, chunk_size), dim=-1)

    def predict(self, x: ArrayLike, chunk_size: int | None = None) -> torch.Tensor:
        """The most probable source memory (index), shape ``(...)``."""
        return self.scores(x, chunk_size).argmax(-1)

    def energy(self, x: ArrayLike, chunk_size: int | None = None) -> torch.Tensor:
        """``E(x) = −lse(s(Ξ, x))``, shape ``(...)``."""
        return -torch.logsumexp(self.scores(x, chunk_size), dim=-1)

    def step(self, x: ArrayLike, chunk_size: int | None = None) -> torch.Tensor:
        """One retrieval step ``T(x) = Ξᵀ softmax(s(Ξ, x))``, shape ``(..., d)``."""
        return self.probabilities(x, chunk_size) @ self.xi

    def iterate(self, x: ArrayLike, steps: int = 10, chunk_size: int | None = None) -> "RetrievalPath":
        """Iterated retrieval ``x_{k+1} = T(x_k)`` for ``steps`` steps, with the energy at each state."""
        steps = positive_int(steps, "steps", minimum=0)
        states = [self.check_x(x)]
        scores = [self.scores(states[0], chunk_size)]
        for _ in range(steps):
            states.append(torch.softmax(scores[-1], dim=-1) @ self.xi)
            scores.append(self.scores(states[-1], chunk_size))
        s = torch.stack(scores)
        return RetrievalPath(states=torch.stack(states), energy=-torch.logsumexp(s, dim=-1), source=s.argmax(-1))


@dataclass(frozen=True)
class RetrievalPath:
    """Iterated retrieval: ``states (K+1, ..., d)``, ``energy (K+1, ...)`` and the most probable
    memory ``source (K+1, ...)`` at each step (index 0 is the query)."""

    states: torch.Tensor
    energy: torch.Tensor
    source: torch.Tensor

    @property
    def final(self) -> torch.Tensor:
        return self.states[-1]


@dataclass(frozen=True)
class EnergyDescent:
    """Whether ``E(x) = −lse(s(Ξ, x))`` decreased along iterated retrieval.

    ``monotone``: fraction of queries whose energy never rose by more than ``tol·(1 + |E|)``; ``max_increase``: the largest single-step rise over all queries (≤ 0 means none);
    ``mean_drop``: mean ``E(x_0) − E(x_K)``; ``source_changed``: fraction of queries whose most
    probable memory changed between the query and the last state.
    """

    monotone: float
    max_increase: float
    mean_drop: float
    source_changed: float
    steps: int
    n_queries: int


def energy_descent(model: AdaptiveHopfield, x: ArrayLike, steps: int = 10, tol: float = 1e-9) -> EnergyDescent:
    """Measure the energy along ``model.iterate(x, steps)`` (a check of the paper's energy claim).
    It runs on a float64 copy of the model, so float32 round-off is not reported as a rise; a rise
    counts when it exceeds ``tol·(1 + |E|)``."""
    if model.xi.dtype != torch.float64:
        model = copy.deepcopy(model).double()
    path = model.iterate(as_tensor(x, "x").double(), steps)
    e = path.energy.reshape(path.energy.shape[0], -1).double()
    rise = e[1:] - e[:-1]
    ok = (rise <= tol * (1 + e[:-1].abs())).all(0)
    src = path.source.reshape(path.source.shape[0], -1)
    return EnergyDescent(
        monotone=float(ok.double().mean()),
        max_increase=float(rise.max()) if rise.numel() else 0.0,
        mean_drop=float((e[0] - e[-1]).mean()),
        source_changed=float((src[0] != src[-1]).double().mean()),
        steps=int(steps),
        n_queries=int(e.shape[1]),
    )
