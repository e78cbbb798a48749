"""Task changes by training: sequential fine-tuning of a weighted MHN on a new task, and the two
forgetting metrics of old samples (energy increase and retrieval/reconstruction error).

The model is ``MHN(X, memory=WeightedLogSumExp(β, m))`` with learnable memories ``X`` (and, for a
weighted MHN, learnable log-masses / log-priors ``log m``): :class:`TrainableMemory`. Its training
objectives come from the network's own equations:

- ``"nll"``: maximum likelihood of the network's Boltzmann density ``p(x) ∝ exp(−β E(x))``. With
  Quadratic ``L_V`` and a (weighted) log-sum-exp memory this density is the Gaussian mixture
  ``Σ_μ π_μ N(x; ξ_μ, β⁻¹ I)`` with ``π_μ ∝ m_μ exp(β‖ξ_μ‖²/2)`` (the MHN ↔ diffusion link of
  seed 002), so ``−log p(x) = β E(x) + log Z`` with
  ``log Z = β L_H(½‖ξ‖²) + (d/2) log(2π/β)`` — the network's energy plus its memory Lagrangian
  evaluated at ``h_μ = ½‖ξ_μ‖²`` (:func:`negative_log_likelihood`).
- ``"denoise"``: one retrieval step as a denoiser, ``½‖step(x + σz) − x‖²`` (``step`` is the
  network's discrete map, eq 12: ``x̃ − ∇E(x̃)`` for Quadratic ``L_V``), the denoising objective of
  a one-step diffusion model whose score is ``−∇E`` (:func:`denoising_loss`).

Replay during training: ``k`` old samples kept in a buffer enter the loss with total weight
``mass`` relative to the new task, ``loss = mean_new ℓ + mass · mean_buffer ℓ`` (see
:func:`fit_task`); the buffer is chosen by :func:`hopdyn.continual.replay.choose_replay`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import torch

from .._optim import Adam
from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..core.discrete import iterate
from ..core.lagrangians import LogSumExp, Quadratic, WeightedLogSumExp
from ..core.network import MHN

OBJECTIVES = ("nll", "denoise")
CORRUPTIONS = ("noise", "mask")
Objective = Literal["nll", "denoise"]


@dataclasses.dataclass(frozen=True)
class TrainableMemory:
    """The parameters of a weighted MHN: memories ``X`` ``(N, d)``, log-masses ``log_mass``
    ``(N,)`` (log-priors; all zeros is the vanilla MHN) and the inverse temperature β (fixed)."""

    X: torch.Tensor
    log_mass: torch.Tensor
    beta: float

    @classmethod
    def from_memories(cls, X: ArrayLike, beta: float, log_mass: ArrayLike | None = None) -> TrainableMemory:
        X = as_tensor(X, "memories", min_dim=2)
        if X.dim() != 2:
            raise ValueError(f"memories must have shape (N, d), got shape {tuple(X.shape)}")
        lm = torch.zeros(X.shape[0], dtype=X.dtype) if log_mass is None else as_tensor(log_mass, "log_mass", like=X)
        if lm.shape != (X.shape[0],):
            raise ValueError(f"log_mass must have one entry per memory ({X.shape[0]}), got shape {tuple(lm.shape)}")
        return cls(X.detach().clone(), lm.detach().clone().to(X.dtype), positive(beta, "beta"))

    def network(self) -> MHN:
        """``MHN(X, memory=WeightedLogSumExp(β, exp(log_mass)))`` (differentiable in both)."""
        return MHN(self.X, memory=WeightedLogSumExp(self.beta, self.log_mass.exp()))


def _check_density_network(net: MHN) -> float:
    if not isinstance(net.feature, Quadratic) or not isinstance(net.memory, (LogSumExp, WeightedLogSumExp)):
        raise ValueError("the likelihood needs Quadratic L_V and a (weighted) log-sum-exp memory, got "
                         f"{net.feature!r} and {net.memory!r}")
    return net.memory.beta


def negative_log_likelihood(net: MHN, x: ArrayLike) -> torch.Tensor:
    """``−log p(x)`` of the network's normalised Boltzmann density ``p(x) = exp(−βE(x)) / Z``,
    shape ``(...)``; ``log Z = β L_H(½‖ξ‖²) + (d/2) log(2π/β)`` (module docstring)."""
    beta = _check_density_network(net)
    x = net.check_v(x, "x")
    xi = net.xi_like(x)
    log_z = beta * net.memory(0.5 * (xi * xi).sum(-1)) + 0.5 * net.n_features * math.log(2 * math.pi / beta)
    return beta * net.energy(x) + log_z


def denoising_loss(net: MHN, x: ArrayLike, noise: ArrayLike) -> torch.Tensor:
    """``½‖step(x + noise) − x‖²`` per sample, shape ``(...)``: the network's discrete map (eq 12)
    as a one-step denoiser."""
    x = net.check_v(x, "x")
    noise = as_tensor(noise, "noise", like=x, last_dim=x.shape[-1])
    return 0.5 * ((net.step(x + noise) - x) ** 2).sum(-1)


def task_loss(net: MHN, x: torch.Tensor, objective: Objective, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Per-sample training loss of ``objective`` (``"nll"`` or ``"denoise"``, which needs ``noise``)."""
    if objective == "nll":
        return negative_log_likelihood(net, x)
    if objective == "denoise":
        if noise is None:
            raise ValueError("the denoise objective needs noise")
        return denoising_loss(net, x, noise)
    raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def corrupt(x: ArrayLike, kind: str, level: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of ``x`` for the retrieval test: ``"noise"`` adds ``level · z``,
    ``z ~ N(0, I)``; ``"mask"`` sets a random fraction ``level`` of the entries to zero."""
    x = as_tensor(x, "x")
    level = positive(level, "level")
    if kind == "noise":
        return x + level * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if kind == "mask":
        if level >= 1:
            raise ValueError(f"a mask level is the fraction of entries set to zero, in (0, 1), got {level!r}")
        keep = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device) >= level
        return x * keep
    raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {kind!r}")


def reconstruction_error(net: MHN, x: ArrayLike, corrupted: ArrayLike, *, steps: int = 50,
                         tol: float = 1e-8) -> torch.Tensor:
    """Retrieval forgetting metric: ``‖q − x‖²`` per sample, where ``q`` is the state
    :func:`hopdyn.iterate` reaches from the corrupted sample in ``steps`` steps of the network's
    discrete map (up to ``tol``), shape ``(K,)``."""
    x = net.check_v(x, "x")
    corrupted = net.check_v(corrupted, "corrupted")
    if corrupted.shape != x.shape:
        raise ValueError(f"corrupted must have the shape of x {tuple(x.shape)}, got {tuple(corrupted.shape)}")
    with torch.no_grad():
        q = iterate(net, corrupted, positive_int(steps, "steps"), tol=tol, keep="last").final
    return ((q - x) ** 2).sum(-1)


def fit_task(
    memory: TrainableMemory,
    data: ArrayLike,
    *,
    steps: int,
    lr: float = 0.02,
    objective: Objective = "nll",
    learn_mass: bool = False,
    replay: ArrayLike | None = None,
    replay_mass: float = 1.0,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
    record_every: int | None = None,
    record: Callable[[int, MHN], None] | None = None,
) -> TrainableMemory:
    """Fine-tune ``memory`` on one task: ``steps`` full-batch Adam steps
    (:class:`hopdyn._optim.Adam`) on ``mean_data ℓ + replay_mass · mean_replay ℓ`` (the replay
    term only when ``replay`` samples are given), ``ℓ`` from :func:`task_loss`. The memories are
    always trained; the log-masses too when ``learn_mass``. ``record(step, net)`` is called on a
    detached network before the first step and every ``record_every`` steps (and after the last).
    Returns the trained parameters (``memory`` is not modified)."""
    X = memory.X.detach().clone().requires_grad_(True)
    lm = memory.log_mass.detach().clone().requires_grad_(learn_mass)
    data = as_tensor(data, "data", like=X, last_dim=X.shape[1], min_dim=2)
    steps = positive_int(steps, "steps", minimum=0)
    if replay is not None:
        replay = as_tensor(replay, "replay", like=X, last_dim=X.shape[1], min_dim=2)
        replay_mass = positive(replay_mass, "replay_mass")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    every = positive_int(record_every, "record_every") if record_every is not None else max(steps, 1)
    opt = Adam([X, lm] if learn_mass else [X], lr=positive(lr, "lr"))

    def snapshot(step: int) -> None:
        if record is not None:
            record(step, TrainableMemory(X.detach(), lm.detach(), memory.beta).network())

    snapshot(0)
    # one batch: the new task's samples weigh 1/n each, the replayed ones replay_mass/k each
    x = data if replay is None else torch.cat([data, replay])
    w = torch.full((data.shape[0],), 1.0 / data.shape[0], dtype=X.dtype)
    if replay is not None:
        w = torch.cat([w, torch.full((replay.shape[0],), replay_mass / replay.shape[0], dtype=X.dtype)])
    for step in range(1, steps + 1):
        net = TrainableMemory(X, lm, memory.beta).network()
        z = None
        if objective == "denoise":
            z = noise * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        loss = (w * task_loss(net, x, objective, z)).sum()
        opt.step(torch.autograd.grad(loss, opt.params))
        if step % every == 0 or step == steps:
            snapshot(step)
    return TrainableMemory(X.detach(), lm.detach(), memory.beta)
