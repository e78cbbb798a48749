"""Continual learning in modern Hopfield networks: intrinsic forgetting and energy-based replay.

Seed 002 (Takeda, Oizumi & Karakida, "Continual Learning in Modern Hopfield Networks with an
Application to Diffusion Models"). No code of the paper is public; the definitions below are the
ones this module implements (states ``q ∈ R^d``, memories ``X ∈ R^{N×d}``, masses ``m > 0``):

- weighted energy ``E(q | X, m) = ½‖q‖² − β⁻¹ log Σ_μ m_μ exp(β q·ξ_μ)``, the energy of
  ``MHN(X, memory=WeightedLogSumExp(β, m))``; the update is ``q ← Σ_μ softmax(β q·ξ + log m)_μ ξ_μ``.
- task change ``X_old → X_new``: :func:`replace` (a new memory set), :func:`rotate` with
  :func:`random_rotations` (``X_new = X_old Vᵀ``, ``V = expm(εΩ)``, ``Ω = (W − Wᵀ)/2``,
  ``W_ij ~ N(0, 1)``), :func:`drift` (``X_new = X_old + σZ``). Every operator returns a batch of new
  memory sets, shape ``(R, N_new, d)``; every measurement below broadcasts over that batch.
- intrinsic forgetting of an old sample ``x``: ``ΔE(x) = E(q | X_new) − E(q | X_old)`` with
  ``q = fp(x)``, the fixed point reached from ``x`` under the old memory, or ``q = x`` ("raw").
- replay: old patterns ``ξ_r`` inserted into the new memory with masses ``m_r`` (mass insertion);
  the gain on sample ``k`` is the energy decrease ``E(q_k | X_new) − E(q_k | X_new ∪ {ξ_r})``.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Literal

import numpy as np
import torch

from ._validate import ArrayLike, as_tensor, positive, positive_int
from .core.lagrangians import WeightedLogSumExp
from .core.network import MHN
from .core.discrete import iterate

At = Literal["fixed_point", "raw"]
POLICIES = ("top", "random", "bottom")


# -- the weighted memory -------------------------------------------------------------------------
def _memories(X: ArrayLike, name: str, like: torch.Tensor | None = None, d: int | None = None) -> torch.Tensor:
    """Memories ``(..., N, d)`` as a tensor, in the dtype and on the device of ``like`` if given."""
    X = as_tensor(X, name, like=like, min_dim=2, last_dim=d)
    return X if like is None else X.to(dtype=like.dtype, device=like.device)


def _masses(mass: ArrayLike | None, n: int, like: torch.Tensor, name: str) -> torch.Tensor:
    """Masses as a float64 tensor of length ``n``: all ones when ``mass`` is None, one number
    repeated, or one entry per memory."""
    if mass is None:
        return torch.ones(n, dtype=torch.float64, device=like.device)
    m = as_tensor(mass, name, min_dim=0).to(dtype=torch.float64, device=like.device)
    if m.numel() == 1:
        m = m.reshape(1).expand(n)
    if m.dim() != 1 or m.shape[0] != n:
        raise ValueError(f"{name} must have one entry per memory ({n}), got shape {tuple(m.shape)}")
    if not bool((m > 0).all()):
        raise ValueError(f"{name} must be > 0 for every memory, got min {m.min().item()!r}")
    return m


def _network_only(net: MHN, beta, *masses) -> MHN:
    """``net`` when the memory was given as a network: β and masses are then the network's."""
    if beta is not None or any(m is not None for m in masses):
        raise ValueError("beta and masses come from the network when an MHN is given; leave them out "
                         "(vary them with net.replace(memory=...))")
    return net


def _weighted_network(X: torch.Tensor, beta, mass, name: str = "mass") -> MHN:
    """The convenience form ``(X, β, m)``: ``MHN(X, memory=WeightedLogSumExp(β, m))``."""
    if beta is None:
        raise ValueError("beta is required when the memory is given as an array (or pass an MHN)")
    return MHN(X, memory=WeightedLogSumExp(beta, _masses(mass, X.shape[0], X, name)))


def weighted_energy(q: ArrayLike, X: ArrayLike | MHN, beta: float | None = None,
                    mass: ArrayLike | None = None) -> torch.Tensor:
    """``E(q | X, m) = ½‖q‖² − β⁻¹ log Σ_μ m_μ exp(β q·ξ_μ)``, computed with one log-sum-exp.

    Args:
        q: states, shape ``(K, d)`` (or ``(..., K, d)`` matching the batch of ``X``).
        X: memories, shape ``(N, d)`` or a batch of memory sets ``(..., N, d)``; or an
            :class:`MHN`, whose own energy is returned (``net.energy(q)``; then no β, mass).
        beta: inverse temperature.
        mass: masses ``(N,)``, default all ones (the vanilla MHN energy, eq 8).

    Returns:
        Energies of shape ``(..., K)``: the energy of every state under every memory set.
    """
    if isinstance(X, MHN):
        return _network_only(X, beta, mass).energy(q)
    q = as_tensor(q, "q")
    X = _memories(X, "X", like=q, d=q.shape[-1])
    return _energy(q, X, WeightedLogSumExp(beta, _masses(mass, X.shape[-2], X, "mass")))


def _energy(q: torch.Tensor, X: torch.Tensor, memory: WeightedLogSumExp) -> torch.Tensor:
    # MHN(X, memory=memory).energy(q) with Quadratic L_V, batched over memory sets X (..., N, d)
    # (an MHN holds one set); test_continual checks the two agree
    return 0.5 * (q * q).sum(-1) - memory(q @ X.mT)


def retrieval_weights(q: ArrayLike, X: ArrayLike | MHN, beta: float | None = None,
                      mass: ArrayLike | None = None) -> torch.Tensor:
    """``p_{μ|q} = softmax(β q·ξ + log m)_μ``, shape ``(..., K, N)``: the weight memory μ gets in the
    update of ``q`` (the ``p_{r|k}`` of the replay gain when ``q = q_k`` and ``X = X_old``). For an
    :class:`MHN` ``X``: its memory activation ``f(xi g(q))``."""
    if isinstance(X, MHN):
        net = _network_only(X, beta, mass)
        return net.memory.activation(net.hidden(q))
    q = as_tensor(q, "q")
    X = _memories(X, "X", like=q, d=q.shape[-1])
    return WeightedLogSumExp(beta, _masses(mass, X.shape[-2], X, "mass")).activation(q @ X.mT)


def fixed_points(
    x: ArrayLike, X: ArrayLike | MHN, beta: float | None = None, mass: ArrayLike | None = None, *,
    steps: int = 1000, tol: float | None = None
) -> torch.Tensor:
    """Fixed points of the weighted update reached from ``x`` (shape ``(K, d)``) under one memory
    set ``X`` (``(N, d)``), via :func:`hopdyn.iterate`; ``X`` may be an :class:`MHN`, whose own
    discrete map is iterated (then no β, mass). ``tol`` (on ``‖Δq‖_∞``) defaults to
    ``max(1e-10, 64·eps)`` of the dtype: the energy is stationary at a fixed point, so its error is
    of order ``tol²``. A ``RuntimeWarning`` says how many samples did not converge within ``steps``."""
    if isinstance(X, MHN):
        net = _network_only(X, beta, mass)
        x = net.check_v(x, "x")
    else:
        x = as_tensor(x, "x")
        X = _memories(X, "X", like=x, d=x.shape[-1])
        if X.dim() != 2:
            raise ValueError(f"X must be one memory set of shape (N, d), got shape {tuple(X.shape)}")
        net = _weighted_network(X, beta, mass)
    tol = max(1e-10, 64 * torch.finfo(x.dtype).eps) if tol is None else tol
    traj = iterate(net, x, steps, tol=tol, keep="last")
    n_bad = int((~traj.converged).sum())
    if n_bad:
        warnings.warn(f"{n_bad} of {traj.converged.numel()} samples did not reach a fixed point in {steps} steps "
                      f"(tol {tol:.2g}); their last state is used", RuntimeWarning, stacklevel=2)
    return traj.final


# -- task changes --------------------------------------------------------------------------------
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


# -- intrinsic forgetting ------------------------------------------------------------------------
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
    q = fixed_points(x, X_old, beta, old.mass) if at == "fixed_point" else x
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
    q = fixed_points(x, old) if at == "fixed_point" else x
    energy_new = torch.stack([old.replace(xi=X, memory=memory).energy(q) for X in X_new])
    return Forgetting(points=q, energy_old=old.energy(q), energy_new=energy_new, at=at)


# -- replay --------------------------------------------------------------------------------------
def insert_replay(
    X_new: ArrayLike, replayed: ArrayLike, replay_mass: ArrayLike | float, mass_new: ArrayLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Replay as mass insertion: the memory ``X_new ∪ {ξ_r}`` with masses ``m_new ∪ {m_r}``.

    ``X_new`` may be a batch ``(..., N', d)``; the replayed patterns ``(S, d)`` are appended to every
    set. ``replay_mass`` is one mass per replayed pattern or one number for all. Returns
    ``(X, mass)`` with shapes ``(..., N' + S, d)`` and ``(N' + S,)``.
    """
    X_new = _memories(X_new, "X_new")
    replayed = _memories(replayed, "replayed", like=X_new, d=X_new.shape[-1])
    m_r = _masses(replay_mass, replayed.shape[0], X_new, "replay_mass")
    m_new = _masses(mass_new, X_new.shape[-2], X_new, "mass_new")
    X = torch.cat([X_new, replayed.expand(*X_new.shape[:-2], *replayed.shape)], dim=-2)
    return X, torch.cat([m_new, m_r])


def replay_gain(
    points: ArrayLike,
    X_new: ArrayLike,
    replayed: ArrayLike,
    beta: float,
    replay_mass: ArrayLike | float = 1.0,
    *,
    mass_new: ArrayLike | None = None,
) -> torch.Tensor:
    """Energy restored by replaying ``replayed`` jointly: ``E(q | X_new) − E(q | X_new ∪ replayed)``,
    shape ``(..., K)`` (computed directly from the two weighted energies)."""
    points = as_tensor(points, "points", min_dim=2)
    X_new = _memories(X_new, "X_new", like=points, d=points.shape[-1])
    X_rep, m_rep = insert_replay(X_new, replayed, replay_mass, mass_new)
    before = _energy(points, X_new, WeightedLogSumExp(beta, m_rep[: X_new.shape[-2]]))
    return before - _energy(points, X_rep, WeightedLogSumExp(beta, m_rep))


def pairwise_replay_gain(
    points: ArrayLike,
    X_new: ArrayLike,
    candidates: ArrayLike,
    beta: float,
    replay_mass: float = 1.0,
    *,
    mass_new: ArrayLike | None = None,
) -> torch.Tensor:
    """Gain ``Δ_{r→k}`` of replaying each candidate ``ξ_r`` alone (mass ``m_r``) on each sample
    ``q_k``, shape ``(..., S, K)``, directly:
    ``Δ_{r→k} = β⁻¹ [log(Z_new(q_k) + m_r e^{β q_k·ξ_r}) − log Z_new(q_k)]``,
    ``Z_new(q) = Σ_μ m_μ e^{β q·ξ_μ}`` over the new memory, all in log space."""
    points = as_tensor(points, "points", min_dim=2)
    X_new = _memories(X_new, "X_new", like=points, d=points.shape[-1])
    candidates = _memories(candidates, "candidates", like=points, d=points.shape[-1])
    beta, replay_mass = positive(beta, "beta"), positive(replay_mass, "replay_mass")
    new = WeightedLogSumExp(beta, _masses(mass_new, X_new.shape[-2], X_new, "mass_new"))
    log_z = beta * new(points @ X_new.mT)[..., None, :]  # (..., 1, K)
    log_a = math.log(replay_mass) + beta * (candidates @ points.mT)  # (S, K)
    return (torch.logaddexp(log_z, log_a) - log_z) / beta


def replay_gain_closed_form(
    p: ArrayLike,
    delta_e: ArrayLike,
    beta: float,
    replay_mass: ArrayLike | float = 1.0,
    old_mass: ArrayLike | float = 1.0,
) -> torch.Tensor:
    """``Δ_{r→k} = β⁻¹ log(1 + (m_r / m_r^old) · p_{r|k} · e^{β ΔE_k})``, shape ``(..., S, K)``.

    Derivation. Write ``Z_X(q) = Σ_μ m_μ e^{β q·ξ_μ}``, so ``E(q | X) = ½‖q‖² − β⁻¹ log Z_X(q)``.
    Then ``ΔE_k = E(q_k | X_new) − E(q_k | X_old) = β⁻¹ log(Z_old(q_k) / Z_new(q_k))``, the old
    retrieval weight is ``p_{r|k} = m_r^old e^{β q_k·ξ_r} / Z_old(q_k)``, and inserting ``ξ_r``
    with mass ``m_r`` gives
    ``Δ_{r→k} = E(q_k | X_new) − E(q_k | X_new ∪ {ξ_r}) = β⁻¹ log(1 + m_r e^{β q_k·ξ_r} / Z_new(q_k))``
    ``= β⁻¹ log(1 + (m_r/m_r^old) p_{r|k} Z_old(q_k)/Z_new(q_k))``, which is the formula.

    It is an identity (no approximation, any ε, β, geometry) when: ``ΔE_k``, ``p_{r|k}`` and the
    gain are all evaluated at the same state ``q_k`` (a fixed point or a raw sample, but the same);
    the replayed pattern is ``ξ_r`` exactly as stored in the old memory (not its rotated copy);
    ``p_{r|k}`` is the weighted softmax of the old memory with masses ``m^old``; the gain is the
    energy decrease on inserting ``ξ_r`` into the new memory with everything else unchanged; and
    the same β is used throughout. The issue's form ``β⁻¹ log(1 + m_r p_{r|k} e^{βΔE_k})`` is the
    case ``m_r^old = 1`` (an unweighted old memory). Joint replay of several patterns sums:
    ``β⁻¹ log(1 + e^{βΔE_k} Σ_r (m_r/m_r^old) p_{r|k})``.

    Args:
        p: old retrieval weights of the replayed patterns, ``(..., S, K)`` (``p[s, k] = p_{r_s|k}``).
        delta_e: intrinsic forgetting ``ΔE_k``, ``(..., K)``.
        replay_mass, old_mass: ``m_r`` and ``m_r^old``, one number or one per replayed pattern ``(S,)``.
    """
    p = as_tensor(p, "p", min_dim=2)
    delta_e = as_tensor(delta_e, "delta_e", like=p)
    beta = positive(beta, "beta")
    n_s = p.shape[-2]
    log_ratio = torch.log(_masses(replay_mass, n_s, p, "replay_mass") / _masses(old_mass, n_s, p, "old_mass"))
    s = log_ratio.to(p.dtype)[:, None] + torch.log(p) + beta * delta_e[..., None, :]
    # log(1 + e^s) as logaddexp(0, s): no overflow for large β ΔE, exact 0 for p = 0
    return torch.logaddexp(torch.zeros_like(s), s) / beta


def select_replay(energy: ArrayLike, k: int, policy: str, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices of ``k`` samples to replay: ``"top"`` (the ``k`` highest energies), ``"bottom"``
    (the ``k`` lowest) or ``"random"`` (uniform without replacement).

    Energies equal to 9 decimals are ties, broken by index: samples that share one fixed point
    (a metastable mixture state) have energies that differ only by the iteration tolerance, and
    the choice among them must not depend on it."""
    energy = as_tensor(energy, "energy")
    if energy.dim() != 1:
        raise ValueError(f"energy must be 1-D (one energy per candidate), got shape {tuple(energy.shape)}")
    k = positive_int(k, "k")
    if k > energy.shape[0]:
        raise ValueError(f"k must be at most the number of candidates ({energy.shape[0]}), got {k}")
    if policy == "random":
        return torch.randperm(energy.shape[0], generator=generator)[:k].to(energy.device)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    return torch.argsort(torch.round(energy, decimals=9), descending=policy == "top", stable=True)[:k]


@dataclasses.dataclass(frozen=True)
class PolicyResult:
    """How much old-task energy a replay policy restores (``k`` replayed old patterns, total mass
    ``M`` split equally). With the replay gain ``G_k = E(q_k | X_new) − E(q_k | X_new ∪ replay)``,
    ``restored = Σ_k min(G_k, ΔE_k⁺) / Σ_k ΔE_k⁺`` over a group of old samples and the task-change
    batch (``ΔE⁺ = max(ΔE, 0)``): replay that pushes a sample below its old energy counts only up
    to its old energy. "high"/"low" are the top/bottom quartile of old energy. ``mean_residual``
    is the mean of ``ΔE_k − G_k`` (negative where replay overshoots). For ``random`` the values
    are means over draws and ``*_sd`` their standard deviation (0 for the deterministic policies)."""

    policy: str
    k: int
    total_mass: float
    restored: float
    restored_high: float
    restored_low: float
    restored_sd: float
    restored_high_sd: float
    restored_low_sd: float
    mean_residual: float


def compare_policies(
    forgetting: Forgetting,
    X_old: ArrayLike,
    X_new: ArrayLike,
    beta: float,
    k: int,
    total_mass: float,
    *,
    mass_new: ArrayLike | None = None,
    n_random: int = 20,
    seed: int = 0,
) -> list[PolicyResult]:
    """Replay ``k`` old patterns chosen by each policy (total mass ``total_mass``) and measure the
    restored energy on all old samples. The old samples must be the old memories themselves
    (``forgetting`` measured from ``x = X_old``), so the candidates are ranked by their own
    energy ``forgetting.energy_old``."""
    X_old = _memories(X_old, "X_old", like=forgetting.points, d=forgetting.points.shape[-1])
    if X_old.shape[0] != forgetting.energy_old.shape[0]:
        raise ValueError(f"X_old has {X_old.shape[0]} memories but forgetting has {forgetting.energy_old.shape[0]} "
                         "samples; replay candidates must be the old samples")
    X_new = _memories(X_new, "X_new", like=X_old, d=X_old.shape[-1])
    X_new = X_new.reshape(-1, *X_new.shape[-2:])
    total_mass, n_random = positive(total_mass, "total_mass"), positive_int(n_random, "n_random")
    beta = positive(beta, "beta")
    q, e_old, delta = forgetting.points, forgetting.energy_old, forgetting.delta
    lost = delta.clamp(min=0)
    high = e_old >= torch.quantile(e_old, 0.75)
    low = e_old <= torch.quantile(e_old, 0.25)
    # G = β⁻¹ [log(Z_new(q) + Σ_r m_r e^{β q·ξ_r}) − log Z_new(q)]: Z_new is computed once and each
    # policy only adds its k replayed terms, instead of re-evaluating the whole memory
    new = WeightedLogSumExp(beta, _masses(mass_new, X_new.shape[-2], X_new, "mass_new"))
    log_z_new = beta * new(q @ X_new.mT)  # (R, K)
    logits = beta * (q @ X_old.mT) + math.log(total_mass / k)  # (K, N_old)
    g = torch.Generator().manual_seed(seed)
    out = []
    for policy in POLICIES:
        draws = []
        for _ in range(n_random if policy == "random" else 1):
            idx = select_replay(e_old, k, policy, generator=g)
            gain = (torch.logaddexp(log_z_new, torch.logsumexp(logits[:, idx], -1)) - log_z_new) / beta
            restored = torch.minimum(gain, lost)
            draws.append([float(restored[:, grp].sum() / lost[:, grp].sum()) for grp in (slice(None), high, low)]
                         + [float((delta - gain).mean())])
        arr = np.asarray(draws)
        mean, sd = arr.mean(0).tolist(), arr.std(0).tolist()
        out.append(PolicyResult(policy, k, total_mass, *mean[:3], *sd[:3], mean[3]))
    return out


# -- statistics ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Interval:
    """A mean with a bootstrap confidence interval ``[low, high]``."""

    mean: float
    low: float
    high: float


def paired_bootstrap(
    a: ArrayLike, b: ArrayLike, *, n_boot: int = 2000, level: float = 0.95, generator: torch.Generator | None = None
) -> tuple[Interval, Interval, Interval]:
    """Percentile bootstrap intervals for ``mean(a)``, ``mean(b)`` and ``mean(a − b)`` where
    ``a[i]`` and ``b[i]`` are paired (measured on the same draw ``i``): every resample draws the
    same indices for both, so the interval of the difference keeps their correlation."""
    a = as_tensor(a, "a")
    b = as_tensor(b, "b", like=a)
    if a.dim() != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return tuple(bootstrap_means([a, b, a - b], n_boot=n_boot, level=level, generator=generator))


def bootstrap_means(
    samples: list[torch.Tensor], *, n_boot: int = 2000, level: float = 0.95, generator: torch.Generator | None = None
) -> list[Interval]:
    """Percentile bootstrap intervals for the means of equally long 1-D ``samples``, all resampled
    with the same indices (so they stay paired)."""
    n_boot = positive_int(n_boot, "n_boot")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    x = torch.stack([as_tensor(s, "samples") for s in samples])  # (n_series, n)
    if x.dim() != 2:
        raise ValueError(f"samples must be 1-D series of equal length, got shape {tuple(x.shape)}")
    idx = torch.randint(0, x.shape[1], (n_boot, x.shape[1]), generator=generator).to(x.device)
    qs = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=x.dtype, device=x.device)
    lo, hi = torch.quantile(x[:, idx].mean(-1), qs, dim=1)  # resampled means: (n_series, n_boot)
    return [Interval(float(m), float(a), float(b)) for m, a, b in zip(x.mean(1), lo, hi)]


# -- the tractable setting -----------------------------------------------------------------------
def tractable_memories(n: int = 12, d: int = 50, c: float = 0.35, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``n`` cluster patterns ``ξ_i = √c e_0 + √(1−c) e_i`` (i = 1..n) and one outlier ``e_{n+1}``
    (orthogonal to all of them), shape ``(n + 1, d)``; the outlier is the last row. All have unit
    norm; cluster patterns overlap pairwise by ``c``."""
    n, d = positive_int(n, "n"), positive_int(d, "d")
    if d < n + 2:
        raise ValueError(f"d must be at least n + 2 = {n + 2} to hold the cluster and the outlier, got {d}")
    if not 0 <= c < 1:
        raise ValueError(f"c must be in [0, 1), got {c!r}")
    X = torch.zeros(n + 1, d, dtype=dtype)
    X[:n, 0] = math.sqrt(c)
    X[torch.arange(n), torch.arange(1, n + 1)] = math.sqrt(1 - c)
    X[n, n + 1] = 1.0
    return X


#: The replay-gain table of the tractable experiment: (name, replayed pattern, sample).
GAIN_PAIRS = (
    ("outlier -> outlier", "outlier", "outlier"),
    ("cluster -> itself", "cluster", "self"),
    ("cluster -> other cluster", "cluster", "other"),
    ("outlier -> cluster", "outlier", "cluster"),
    ("cluster -> outlier", "cluster", "outlier"),
)


@dataclasses.dataclass(frozen=True)
class TractableResult:
    """Intrinsic forgetting of the outlier against the cluster over random rotations.

    ``delta_outlier[r]`` and ``delta_cluster[r]`` (the mean over the n cluster samples) are the
    forgetting in rotation r. ``frac_outlier_loses_more`` is the fraction of rotations with
    ``delta_outlier > delta_cluster``; ``excess = delta_outlier / delta_cluster − 1`` is how much
    more (relative) the outlier loses in each rotation; ``frac_outlier_loses_more_single`` compares the outlier
    with each single cluster sample (all n·R pairs). ``gains`` maps the rows of
    :data:`GAIN_PAIRS` to the replay gain (mass ``replay_mass``) averaged per rotation, with a
    bootstrap interval; ``frac_self_gain_outlier_larger`` is the fraction of rotations where
    replaying the outlier restores it more than replaying a cluster sample restores itself
    (cluster mean). ``closed_form_max_error`` is the largest |closed form − direct| gain.
    """

    eps: float
    beta: float
    n: int
    d: int
    c: float
    n_rotations: int
    at: str
    replay_mass: float
    energy_outlier: float
    energy_cluster: float
    delta_outlier: torch.Tensor
    delta_cluster: torch.Tensor
    excess: torch.Tensor
    outlier: Interval
    cluster: Interval
    difference: Interval
    frac_outlier_loses_more: float
    frac_outlier_loses_more_single: float
    gains: dict[str, Interval]
    frac_self_gain_outlier_larger: float
    closed_form_max_error: float


def tractable_experiment(
    eps: float = 0.02,
    *,
    n_rotations: int = 2000,
    n: int = 12,
    d: int = 50,
    c: float = 0.35,
    beta: float = 8.0,
    at: At = "fixed_point",
    replay_mass: float = 1.0,
    n_boot: int = 2000,
    seed: int = 0,
) -> TractableResult:
    """The tractable setting of seed 002: :func:`tractable_memories` under ``n_rotations`` random
    rotations ``X_new = X_old Vᵀ``; the old samples are the stored patterns. Paired bootstrap over
    rotations for outlier vs cluster forgetting; the replay gain table from the direct gains,
    checked against :func:`replay_gain_closed_form` on every rotation."""
    X = tractable_memories(n, d, c)
    g = torch.Generator().manual_seed(seed)
    X_new = rotate(X, random_rotations(n_rotations, d, eps, generator=g))
    f = intrinsic_forgetting(X, X, X_new, beta, at=at)
    delta = f.delta  # (R, n + 1)
    d_out, d_cl = delta[:, n], delta[:, :n].mean(1)
    outlier, cluster, diff = paired_bootstrap(d_out, d_cl, n_boot=n_boot, generator=g)

    gain = pairwise_replay_gain(f.points, X_new, X, beta, replay_mass)  # (R, S = n + 1, K = n + 1)
    p = retrieval_weights(f.points, X, beta).mT  # p[r, k] = p_{r|k}
    closed = replay_gain_closed_form(p, delta, beta, replay_mass)
    eye = torch.eye(n, dtype=torch.bool)
    per_rotation = {
        "outlier -> outlier": gain[:, n, n],
        "cluster -> itself": gain[:, :n, :n][:, eye].mean(1),
        "cluster -> other cluster": gain[:, :n, :n][:, ~eye].mean(1),
        "outlier -> cluster": gain[:, n, :n].mean(1),
        "cluster -> outlier": gain[:, :n, n].mean(1),
    }
    gains = dict(zip(per_rotation, bootstrap_means(list(per_rotation.values()), n_boot=n_boot, generator=g)))
    return TractableResult(
        eps=float(eps), beta=float(beta), n=n, d=d, c=float(c), n_rotations=n_rotations, at=at,
        replay_mass=float(replay_mass),
        energy_outlier=float(f.energy_old[n]), energy_cluster=float(f.energy_old[:n].mean()),
        delta_outlier=d_out, delta_cluster=d_cl, excess=d_out / d_cl - 1, outlier=outlier, cluster=cluster, difference=diff,
        frac_outlier_loses_more=float((d_out > d_cl).double().mean()),
        frac_outlier_loses_more_single=float((delta[:, n:] > delta[:, :n]).double().mean()),
        gains=gains,
        frac_self_gain_outlier_larger=float(
            (per_rotation["outlier -> outlier"] > per_rotation["cluster -> itself"]).double().mean()),
        closed_form_max_error=float((closed - gain).abs().max()),
    )


# -- the digits experiment -----------------------------------------------------------------------
def digits_tasks(
    task_a: tuple[int, ...] = (0, 1, 2, 3, 4),
    task_b: tuple[int, ...] = (5, 6, 7, 8, 9),
    per_class: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8×8 digits split into two tasks by class: pixels centred by the
    mean over all digits and scaled to unit norm; returns ``(X_a, X_b)`` (float64). ``per_class``
    keeps only the first that many digits of each class (for quick runs)."""
    from sklearn.datasets import load_digits

    if set(task_a) & set(task_b) or not task_a or not task_b:
        raise ValueError(f"task_a and task_b must be disjoint, non-empty sets of classes, got {task_a} and {task_b}")
    data = load_digits()
    x = torch.as_tensor(data.data, dtype=torch.float64)
    y = torch.as_tensor(data.target)
    x = x - x.mean(0)
    x = x / x.norm(dim=1, keepdim=True)
    if per_class is not None:
        per_class = positive_int(per_class, "per_class")
        rank = torch.zeros_like(y)
        for c in y.unique():  # 10 classes: the position of each digit within its class
            rank[y == c] = torch.arange(int((y == c).sum()))
        x, y = x[rank < per_class], y[rank < per_class]
    in_a, in_b = torch.isin(y, torch.tensor(task_a)), torch.isin(y, torch.tensor(task_b))
    return x[in_a], x[in_b]


@dataclasses.dataclass(frozen=True)
class DigitsResult:
    """Digits, task A → task B. ``change="replace"``: the memory of task A is replaced by task B's;
    ``"rotate"``: task A's memory is rotated (``n_rotations`` draws of size ``eps``). The old
    samples are task A's patterns; ``n_fixed_points`` counts their distinct fixed points (fewer
    than ``n_old`` when several samples fall into one mixture state); ``spearman_rho`` is the rank
    correlation between their old energy and their forgetting (mean over the task-change batch) —
    positive means high-energy samples lose more."""

    change: str
    beta: float
    eps: float | None
    n_rotations: int
    n_old: int
    n_new: int
    n_fixed_points: int
    energy_old: torch.Tensor
    delta: torch.Tensor
    spearman_rho: float
    spearman_p: float
    policies: list[PolicyResult]


def digits_experiment(
    changes: tuple[str, ...] = ("replace", "rotate"),
    *,
    beta: float = 40.0,
    k: int = 50,
    total_mass: float = 50.0,
    eps: float = 0.02,
    n_rotations: int = 10,
    n_random: int = 20,
    per_class: int | None = None,
    seed: int = 0,
) -> list[DigitsResult]:
    """For each task change in ``changes`` ("replace", "rotate"): energies of task A's digits at
    their fixed points before and after, and the replay policies of :func:`compare_policies`
    (``k`` old patterns, total mass ``total_mass``)."""
    from scipy.stats import spearmanr

    bad = set(changes) - {"replace", "rotate"}
    if bad or not changes:
        raise ValueError(f"changes must be a non-empty subset of ('replace', 'rotate'), got {changes!r}")
    X_a, X_b = digits_tasks(per_class=per_class)
    # the fixed points are shared by every change; measuring "raw" at a fixed point is measuring there
    q = fixed_points(X_a, X_a, beta)
    n_fixed = torch.unique(torch.round(q, decimals=6), dim=0).shape[0]
    out = []
    for change in changes:
        if change == "replace":
            X_new, n_rot, eps_used = replace(X_a, X_b), 1, None
        else:
            g = torch.Generator().manual_seed(seed)
            X_new = rotate(X_a, random_rotations(n_rotations, X_a.shape[1], eps, generator=g))
            n_rot, eps_used = n_rotations, float(eps)
        f = dataclasses.replace(intrinsic_forgetting(q, X_a, X_new, beta, at="raw"), at="fixed_point")
        delta = f.delta.mean(0)
        rho, pval = spearmanr(f.energy_old.numpy(), delta.numpy())
        policies = compare_policies(f, X_a, X_new, beta, k, total_mass, n_random=n_random, seed=seed)
        out.append(DigitsResult(change, float(beta), eps_used, n_rot, X_a.shape[0], X_new.shape[-2], n_fixed,
                                f.energy_old, delta, float(rho), float(pval), policies))
    return out
