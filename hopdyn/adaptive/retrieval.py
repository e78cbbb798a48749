"""Retrieval with a learned similarity: ``T(x) = Ξᵀ sep(s(Ξ, x))`` and its energy
``E(x) = −lse(s(Ξ, x))`` (A-Hop, seed 003, "Key Designs" 3–4), as a differentiable layer.

:class:`AdaptiveHopfield` holds a similarity and, optionally, a memory bank (fixed, or learned as
an ``nn.Parameter``); a bank can also be passed per call, one ``(N, d)`` for all queries or one
per sample ``(B, N, d)`` (multiple-instance learning). ``step`` is one retrieval step, ``iterate``
repeats it, ``readout`` maps the retrieval weights to values (a classifier head); all of them
carry gradients to the queries, the memories and the similarity's parameters when autograd is on
(wrap evaluation in ``torch.no_grad()``). :func:`energy_descent` measures whether the energy
decreases along the iteration (the paper proves it for isotropic noisy and biased variants only).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive_int
from ._checks import as_memories
from .separations import SEPARATIONS, check_separation
from .similarity import Similarity


class AdaptiveHopfield(nn.Module):
    """A Hopfield layer ``(Ξ, s, sep)`` with retrieval ``T(x) = Ξᵀ sep(s(Ξ, x))``.

    Args:
        xi: memories ``(N, d)``, one per row, or ``None`` when every call passes its own bank
            (``memories=``; then ``n_features`` is required).
        similarity: a :class:`~hopdyn.adaptive.similarity.Similarity` module.
        learn_memories: store ``xi`` as an ``nn.Parameter`` (trained with the rest) instead of a
            fixed buffer.
        separation: ``"softmax"`` (default), ``"sparsemax"`` or ``"entmax15"``
            (see :mod:`~hopdyn.adaptive.separations`).
        n_features: ``d`` when ``xi`` is ``None``.

    Queries have shape ``(..., d)`` for a stored or ``(N, d)`` bank, ``(B, d)`` or ``(B, M, d)``
    for a bank ``(B, N, d)``. A stored bank fixes the dtype (float64 memories give a float64
    model, anything else float32; call ``.double()`` for verification). With ``DotSimilarity(β)``
    this is the vanilla MHN: ``step(x) == hd.MHN(xi, memory=hd.LogSumExp(β)).step(x)``.
    """

    def __init__(
        self,
        xi: ArrayLike | None,
        similarity: Similarity,
        *,
        learn_memories: bool = False,
        separation: str = "softmax",
        n_features: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(similarity, Similarity):
            raise ValueError(f"similarity must be a hopdyn.adaptive Similarity, got {type(similarity).__name__}")
        self.separation = check_separation(separation)
        if xi is None:
            self._d = positive_int(n_features, "n_features")
            dtype = torch.get_default_dtype()
            self.register_buffer("xi", None)
        else:
            xi = as_memories(xi)
            self._d = xi.shape[1]
            if n_features is not None and n_features != self._d:
                raise ValueError(f"n_features={n_features} differs from the memories' {self._d} features")
            # float64 memories give a float64 model (verification); anything else computes in float32
            dtype = torch.float64 if xi.dtype == torch.float64 else torch.get_default_dtype()
            xi = xi.detach().to(dtype)
            if learn_memories:
                self.xi = nn.Parameter(xi.clone())
            else:
                self.register_buffer("xi", xi)
        self.similarity = similarity.to(dtype)

    @property
    def n_memories(self) -> int:
        if self.xi is None:
            raise ValueError("this layer stores no memories: pass memories= to each call")
        return self.xi.shape[0]

    @property
    def n_features(self) -> int:
        return self._d

    def _ref(self) -> torch.Tensor:
        """A tensor with the model's dtype and device."""
        return self.xi if self.xi is not None else next(iter(self.similarity.state_dict().values()), torch.empty(0))

    def check_x(self, x: ArrayLike, name: str = "x") -> torch.Tensor:
        """Validate queries ``(..., d)`` and cast them to the model's dtype and device."""
        ref = self._ref()
        x = as_tensor(x, name, like=ref if ref.numel() else None, last_dim=self.n_features)
        return x.to(dtype=ref.dtype, device=ref.device) if ref.numel() else x

    def memory_bank(self, memories: ArrayLike | None = None) -> torch.Tensor:
        """The bank a call uses: ``memories`` (checked: ``(N, d)`` or ``(B, N, d)``) or the stored one."""
        if memories is None:
            if self.xi is None:
                raise ValueError("this layer stores no memories: pass memories= (N, d) or (B, N, d)")
            return self.xi
        m = as_tensor(memories, "memories", min_dim=2, last_dim=self.n_features)
        if m.dim() > 3 or m.shape[-2] < 1:
            raise ValueError(f"memories must have shape (N, d) or (B, N, d), got shape {tuple(m.shape)}")
        ref = self._ref()
        return m.to(dtype=ref.dtype, device=ref.device) if ref.numel() else m

    def _pair(self, x: ArrayLike, memories: ArrayLike | None) -> tuple[torch.Tensor, torch.Tensor]:
        xi = self.memory_bank(memories)
        x = self.check_x(x)
        if xi.dim() == 3 and (x.dim() not in (2, 3) or x.shape[0] != xi.shape[0]):
            raise ValueError(f"memories of shape {tuple(xi.shape)} (a bank per sample) take queries "
                             f"({xi.shape[0]}, d) or ({xi.shape[0]}, M, d), got {tuple(x.shape)}")
        return x, xi

    def forward(self, x: torch.Tensor, memories: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``s(Ξ, x)``, shape ``(..., N)`` (unchecked, differentiable: the training path)."""
        return self.similarity(self.xi if memories is None else memories, x)

    def scores(self, x: ArrayLike, chunk_size: int | None = None, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """``s(Ξ, x)``, shape ``(..., N)``. With one bank ``(N, d)`` the queries go in chunks, so the
        ``(rows, N, d)`` footprint stays bounded; the chunks keep their gradients."""
        x, xi = self._pair(x, memories)
        if xi.dim() == 3:
            return self.similarity(xi, x)
        flat = x.reshape(-1, self.n_features)
        rows = chunk_rows(xi.shape[0] * self.n_features, chunk_size)
        parts = [self.similarity(xi, flat[sl]) for sl in chunks(flat.shape[0], rows, False, "scores")]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        return out.reshape(*x.shape[:-1], xi.shape[0])

    def features(self, x: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """The similarity's parameter-free features for queries ``(n, d)`` against the stored bank
        (see :meth:`FootprintSimilarity.features`), in chunks, without gradients."""
        xi = self.memory_bank()
        rows = chunk_rows(xi.shape[0] * self.n_features, chunk_size)
        with torch.no_grad():
            return torch.cat([self.similarity.features(xi, x[sl]) for sl in chunks(x.shape[0], rows, False, "features")])

    def probabilities(self, x: ArrayLike, chunk_size: int | None = None, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """``sep(s(Ξ, x))``: the model's posterior over the source memory, shape ``(..., N)``."""
        return SEPARATIONS[self.separation](self.scores(x, chunk_size, memories=memories))

    def predict(self, x: ArrayLike, chunk_size: int | None = None, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """The most probable source memory (index), shape ``(...)``."""
        return self.scores(x, chunk_size, memories=memories).argmax(-1)

    def energy(self, x: ArrayLike, chunk_size: int | None = None, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """``E(x) = −lse(s(Ξ, x))``, shape ``(...)`` (the energy of the softmax separation)."""
        return -torch.logsumexp(self.scores(x, chunk_size, memories=memories), dim=-1)

    @staticmethod
    def _mix(p: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``Σ_μ p_μ values_μ`` for weights ``(..., N)`` and values ``(N, k)`` or ``(B, N, k)``."""
        if values.dim() == 2 or p.dim() == 3:
            return p @ values
        return torch.einsum("bn,bnk->bk", p, values)

    def step(self, x: ArrayLike, chunk_size: int | None = None, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """One retrieval step ``T(x) = Ξᵀ sep(s(Ξ, x))``, shape of ``x``."""
        xi = self.memory_bank(memories)
        return self._mix(self.probabilities(x, chunk_size, memories=xi), xi)

    def readout(self, x: ArrayLike, values: torch.Tensor, *, memories: ArrayLike | None = None) -> torch.Tensor:
        """``valuesᵀ sep(s(Ξ, x))``: the retrieval weights applied to ``values`` ``(N, k)`` (or
        ``(B, N, k)`` with a bank per sample), e.g. one-hot labels of the memories for a classifier."""
        p = self.probabilities(x, memories=memories)
        if values.shape[-2] != p.shape[-1]:
            raise ValueError(f"values must have one row per memory ({p.shape[-1]}), got shape {tuple(values.shape)}")
        return self._mix(p, values.to(p))

    def iterate(self, x: ArrayLike, steps: int = 10, chunk_size: int | None = None, *,
                memories: ArrayLike | None = None) -> "RetrievalPath":
        """Iterated retrieval ``x_{k+1} = T(x_k)`` for ``steps`` steps, with the energy at each state."""
        steps = positive_int(steps, "steps", minimum=0)
        xi = self.memory_bank(memories)
        states = [self.check_x(x)]
        scores = [self.scores(states[0], chunk_size, memories=xi)]
        sep = SEPARATIONS[self.separation]
        for _ in range(steps):
            states.append(self._mix(sep(scores[-1]), xi))
            scores.append(self.scores(states[-1], chunk_size, memories=xi))
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
    with torch.no_grad():
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
