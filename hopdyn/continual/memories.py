"""The weighted memory ``MHN(X, memory=WeightedLogSumExp(β, m))`` in the form the continual-learning
analyses use: its energy, its retrieval weights and iterated retrieval, for a memory given as an
array ``X`` with β and masses ``m`` (batched over memory sets ``(..., N, d)``) or as an :class:`MHN`.
"""
from __future__ import annotations

import warnings

import torch

from .._validate import ArrayLike, as_tensor
from ..core.discrete import iterate
from ..core.lagrangians import WeightedLogSumExp
from ..core.network import MHN


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


def retrieve(
    x: ArrayLike, X: ArrayLike | MHN, beta: float | None = None, mass: ArrayLike | None = None, *,
    steps: int = 1000, tol: float | None = None
) -> torch.Tensor:
    """Iterated retrieval: the fixed point of the weighted update reached from each ``x`` (shape
    ``(K, d)``) under one memory set ``X`` (``(N, d)``), via :func:`hopdyn.iterate` — one state per
    sample (unlike ``fixed_points`` of :mod:`hopdyn.analysis`, which searches a network for all its
    fixed points). ``X`` may be an :class:`MHN`, whose own discrete map is iterated (then no β,
    mass). ``tol`` (on ``‖Δq‖_∞``) defaults to ``max(1e-10, 64·eps)`` of the dtype: the energy is
    stationary at a fixed point, so its error is of order ``tol²``. A ``RuntimeWarning`` says how many samples did not converge within ``steps``."""
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
