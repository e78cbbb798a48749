"""Energy-based replay: old patterns inserted into the new memory with masses (mass insertion),
the energy each replay restores (direct and closed form) and replay policies ranked by energy."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..core.lagrangians import WeightedLogSumExp
from .forgetting import Forgetting
from .memories import _energy, _masses, _memories

POLICIES = ("top", "random", "bottom")


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


#: Policies of :func:`choose_replay` (the replay buffer of training-based continual learning).
BUFFER_POLICIES = ("energy_top", "random", "energy_bottom", "herding", "loss")


def herding(samples: ArrayLike, k: int) -> torch.Tensor:
    """Indices of ``k`` samples chosen by herding (Welling 2009; the exemplar selection of iCaRL,
    Rebuffi et al. 2017): greedily, the sample that brings the mean of the chosen set closest
    to the mean of all samples. Ties go to the lowest index."""
    x = as_tensor(samples, "samples", min_dim=2)
    k = positive_int(k, "k")
    if k > x.shape[0]:
        raise ValueError(f"k must be at most the number of candidates ({x.shape[0]}), got {k}")
    mu, total = x.mean(0), torch.zeros_like(x[0])
    free = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    chosen = []
    for t in range(1, k + 1):  # k greedy rounds, each one batched over all candidates
        dist = ((mu - (total + x) / t) ** 2).sum(-1).masked_fill(~free, math.inf)
        i = int(torch.argmin(dist))
        chosen.append(i)
        free[i] = False
        total = total + x[i]
    return torch.tensor(chosen, dtype=torch.int64, device=x.device)


def choose_replay(
    policy: str, k: int, samples: ArrayLike, *, energy: ArrayLike | None = None, loss: ArrayLike | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Indices of ``k`` old samples to keep for replay: ``"energy_top"`` / ``"energy_bottom"``
    (the ``k`` highest / lowest ``energy``, as :func:`select_replay`), ``"random"``,
    ``"herding"`` (:func:`herding` on ``samples``) or ``"loss"`` (the ``k`` highest ``loss``,
    e.g. the reconstruction error of each sample under the old model)."""
    samples = as_tensor(samples, "samples", min_dim=2)
    n = samples.shape[0]

    def scores(values, name):
        if values is None:
            raise ValueError(f"policy {policy!r} needs {name}")
        values = as_tensor(values, name)
        if values.shape != (n,):
            raise ValueError(f"{name} must have one value per sample ({n}), got shape {tuple(values.shape)}")
        return values

    if policy == "energy_top":
        return select_replay(scores(energy, "energy"), k, "top")
    if policy == "energy_bottom":
        return select_replay(scores(energy, "energy"), k, "bottom")
    if policy == "loss":
        return select_replay(scores(loss, "loss"), k, "top")
    if policy == "random":
        return select_replay(torch.zeros(n, dtype=samples.dtype), k, "random", generator=generator)
    if policy == "herding":
        return herding(samples, k)
    raise ValueError(f"policy must be one of {BUFFER_POLICIES}, got {policy!r}")
