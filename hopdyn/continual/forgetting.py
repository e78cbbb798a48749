"""Intrinsic forgetting: the energy an old sample loses when the memory changes,
``ΔE(x) = E(q | X_new) − E(q | X_old)`` at ``q = `` the old fixed point reached from ``x`` or at
``q = x`` ("raw")."""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch

from .._validate import ArrayLike, as_tensor
from ..core.lagrangians import WeightedLogSumExp
from ..core.network import MHN
from .memories import _energy, _masses, _memories, _network_only, retrieve

At = Literal["fixed_point", "raw"]


@dataclasses.dataclass(frozen=True)
class Forgetting:
    """Energies of old samples before and after a task change.

    Attributes:
        points: the states ``q`` where the energies are measured, ``(K, d)``: the fixed points
            under the old memory (``at="fixed_point"``) or the raw samples (``at="raw"``).
        energy_old: ``E(q | X_old)``, shape ``(K,)``.
        energy_new: ``E(q | X_new)``, shape ``(R, K)`` (one row per new memory set).
        at: "fixed_point" or "raw".
    """

    points: torch.Tensor
    energy_old: torch.Tensor
    energy_new: torch.Tensor
    at: str

    @property
    def delta(self) -> torch.Tensor:
        """Intrinsic forgetting ``ΔE = E(q | X_new) − E(q | X_old)``, shape ``(R, K)``."""
        return self.energy_new - self.energy_old


def intrinsic_forgetting(
    x: ArrayLike,
    X_old: ArrayLike | MHN,
    X_new: ArrayLike,
    beta: float | None = None,
    *,
    mass_old: ArrayLike | None = None,
    mass_new: ArrayLike | None = None,
    at: At = "fixed_point",
) -> Forgetting:
    """Intrinsic forgetting of old samples ``x`` ``(K, d)`` when ``X_old`` ``(N, d)`` becomes
    ``X_new`` (``(N', d)`` or a batch ``(R, N', d)`` from a task-change operator).

    ``X_old`` may be the user's :class:`MHN` (then leave out ``beta`` and ``mass_old``): the fixed
    points and energies are that network's, and each new memory set is
    ``net.replace(xi=X_new[r])`` — its feature Lagrangian and memory Lagrangian are kept; a
    :class:`WeightedLogSumExp` memory gets ``mass_new`` (default all ones, as in the array form).
    """
    if at not in ("fixed_point", "raw"):
        raise ValueError(f"at must be 'fixed_point' or 'raw', got {at!r}")
    if isinstance(X_old, MHN):
        return _forgetting_of_network(x, _network_only(X_old, beta, mass_old), X_new, mass_new, at)
    if beta is None:
        raise ValueError("beta is required when the memory is given as an array (or pass an MHN)")
    x = as_tensor(x, "x", min_dim=2)
    X_old = _memories(X_old, "X_old", like=x, d=x.shape[-1])
    X_new = _memories(X_new, "X_new", like=x, d=x.shape[-1])
    X_new = X_new.reshape(-1, *X_new.shape[-2:])
    old = WeightedLogSumExp(beta, _masses(mass_old, X_old.shape[0], X_old, "mass_old"))
    new = WeightedLogSumExp(beta, _masses(mass_new, X_new.shape[-2], X_new, "mass_new"))
    q = retrieve(x, X_old, beta, old.mass) if at == "fixed_point" else x
    return Forgetting(points=q, energy_old=_energy(q, X_old, old), energy_new=_energy(q, X_new, new), at=at)


def _forgetting_of_network(x: ArrayLike, old: MHN, X_new: ArrayLike, mass_new: ArrayLike | None, at: str) -> Forgetting:
    x = old.check_v(x, "x")
    X_new = _memories(X_new, "X_new", like=x, d=x.shape[-1])
    X_new = X_new.reshape(-1, *X_new.shape[-2:])
    memory = old.memory
    if isinstance(memory, WeightedLogSumExp):
        memory = dataclasses.replace(memory, mass=_masses(mass_new, X_new.shape[-2], X_new, "mass_new"))
    elif mass_new is not None:
        if not hasattr(memory, "beta"):
            raise ValueError(f"mass_new needs a memory Lagrangian with a beta, got {memory!r}")
        memory = WeightedLogSumExp(memory.beta, _masses(mass_new, X_new.shape[-2], X_new, "mass_new"))
    q = retrieve(x, old) if at == "fixed_point" else x
    energy_new = torch.stack([old.replace(xi=X, memory=memory).energy(q) for X in X_new])
    return Forgetting(points=q, energy_old=old.energy(q), energy_new=energy_new, at=at)
