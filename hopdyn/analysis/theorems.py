"""Theorems 1–3 of the RecLag paper, checked numerically on a given network.

Each check takes the user's network, ``check_theorem1(net)`` with ``net`` an :class:`~hopdyn.MHN`
whose memory is :class:`~hopdyn.RecLag` (β and log γ are read from ``net.memory``; γ beyond the
float range works through ``RecLag(beta, log_gamma=...)``), or, as a convenience that builds that
network, ``check_theorem1(xi, beta, gamma)``. Each returns a frozen report dataclass with the
numbers it measured and a verdict ``holds``; nothing is raised when a claim fails (a failure is a
result, e.g. the counter-example to Theorem 1 at γ ≤ N_H). Everything here runs in float64,
whatever the input dtype; G is always the network's own ``net.memory.G``.

- :func:`check_theorem1` — the origin is a point attractor for γ > N_H (Theorem 1, eq 39),
  with three radii: the paper's ε, the Cauchy–Schwarz radius ε_CS and the exact radius r*.
  Its generic parts (0 fixed, r* by ray bisection on G, the balls) also run on any other
  hard-gated :class:`~hopdyn.GatedLagrangian` with Quadratic L_V; ε and ε_CS are RecLag's (NaN).
- :func:`check_theorem2` — RecLag reduces to the vanilla MHN for γ below γ* (Theorem 2).
- :func:`check_theorem3` — B0 = {G < 0} is the low-density set {p_H < δ} (Theorem 3, eqs 17–19,
  63–65), with log Z in closed form (:func:`log_ball_exp_integral`).

Theorems 2 and 3 are statements about RecLag's formulas; other Lagrangians get a ValueError
that says why.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import IntegrationWarning, quad
from scipy.special import gammaln, ive, logsumexp

from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..stats import generator, sample_ball, wilson_interval
from .attractors import MemoryFates, memory_fates
from ..core.lagrangians import LogSumExp, Quadratic, RecLag, SmoothRecLag
from ..core.network import MHN
from ..core.discrete import iterate

__all__ = [
    "BallCheck",
    "Theorem1Report",
    "Theorem2Report",
    "Theorem3Report",
    "check_theorem1",
    "check_theorem2",
    "check_theorem3",
    "exact_radius",
    "log_ball_exp_integral",
]


def _xi64(xi: ArrayLike) -> torch.Tensor:
    xi = as_tensor(xi, "xi", min_dim=2)
    if xi.dim() != 2:
        raise ValueError(f"xi must have shape (N_H, N_V), got shape {tuple(xi.shape)}")
    return xi.to(torch.float64)


def _reclag_net(net: MHN | ArrayLike, beta: float | None, gamma: float | None, who: str) -> MHN:
    """The float64 RecLag network a check runs on: the user's ``MHN`` (its memory must be the
    hard-gated :class:`RecLag`, its feature Lagrangian Quadratic), or one built from
    ``(xi, beta, gamma)``. β and log γ are then read from ``net.memory`` everywhere."""
    if isinstance(net, MHN):
        if beta is not None or gamma is not None:
            raise ValueError(f"{who}: give beta and gamma with xi, not with a network (net.memory holds them)")
        mem = net.memory
        if not isinstance(mem, RecLag) or isinstance(mem, SmoothRecLag):
            raise ValueError(
                f"net: {who} needs a network with the hard-gated RecLag memory, got memory={mem!r}: "
                + _RECLAG_ONLY.get(who, "this check is a statement about RecLag's formulas")
            )
        if not isinstance(net.feature, Quadratic):
            raise ValueError(f"net: {who} needs the Quadratic feature Lagrangian (h = xi v), got feature={net.feature!r}")
        return net.replace(xi=net.xi.to(torch.float64))
    xi = _xi64(net)
    if beta is None or gamma is None:
        raise ValueError(f"{who}: beta and gamma are required with xi (or pass an MHN with a RecLag memory)")
    beta, gamma = positive(beta, "beta"), positive(gamma, "gamma")
    return MHN(xi, memory=RecLag(beta, gamma))


#: Why a check holds for RecLag only (the statements of Theorems 2 and 3 are about its formulas).
_RECLAG_ONLY = {
    "check_theorem3": "Theorem 3 identifies B0 = {G < 0} with {p_H < δ} for RecLag's G = lse(β xi v) − log γ, "
    "whose exp(G) is the density p_H of eqs 17–18 up to γ/Z; another Lagrangian's G is no such log-density",
    "check_theorem2": "Theorem 2 compares RecLag with the vanilla MHN of the same β (LogSumExp), γ* being read "
    "off the vanilla trajectory's lse; it has no meaning for another Lagrangian",
}


def _is_reclag(mem) -> bool:
    """The hard-gated RecLag of the paper (its radii ε, ε_CS and γ exist only for it)."""
    return isinstance(mem, RecLag) and not isinstance(mem, SmoothRecLag)


def _gated_net(net: MHN | ArrayLike, beta: float | None, gamma: float | None, who: str) -> MHN:
    """The float64 network Theorem 1's generic checks run on: the user's ``MHN`` with any
    hard-gated :class:`~hopdyn.GatedLagrangian` memory (``has_jump``: RecLag, or a user's own)
    and the Quadratic feature Lagrangian, or a RecLag network built from ``(xi, beta, gamma)``."""
    if not isinstance(net, MHN):
        return _reclag_net(net, beta, gamma, who)
    if beta is not None or gamma is not None:
        raise ValueError(f"{who}: give beta and gamma with xi, not with a network (net.memory holds them)")
    mem = net.memory
    if not (net.has_gate and mem.has_jump):
        raise ValueError(
            f"net: {who} needs a hard-gated memory Lagrangian (a GatedLagrangian with has_jump, e.g. RecLag): "
            f"the claim is that a ball around 0 is sent to exactly 0, which needs the gate χ(G) to shut; "
            f"got memory={mem!r}"
        )
    if not isinstance(net.feature, Quadratic):
        raise ValueError(f"net: {who} needs the Quadratic feature Lagrangian (h = xi v), got feature={net.feature!r}")
    return net.replace(xi=net.xi.to(torch.float64))


def _gate_shut_at_origin(net: MHN) -> bool:
    """Theorem 1's hypothesis: the gate is shut at 0. For RecLag γ > N_H (compared as numbers,
    more reliable than G(0) < 0 as γ → N_H); for another gated Lagrangian G(0) < 0."""
    if _is_reclag(net.memory):
        return _above_n_h(net.memory, net.n_memories)
    return bool(net.gate_value(torch.zeros(net.n_features, dtype=torch.float64)) < 0)


def _grad_h_G(mem, h: torch.Tensor) -> torch.Tensor:  # noqa: N802
    """A vector along ``∇_h G(h)`` (rows of ``h``): ``softmax(βh)`` for RecLag (∇G = β·softmax),
    autograd of the Lagrangian's ``G`` otherwise."""
    if _is_reclag(mem):
        return torch.softmax(mem.beta * h, -1)
    with torch.enable_grad():
        x = h.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(mem.G(x).sum(), x)
    return grad


def _above_n_h(mem: RecLag, n_h: int) -> bool:
    """Theorem 1's hypothesis γ > N_H (compared as numbers; γ = inf when log γ > 709)."""
    return mem.gamma > n_h


def _log_ratio(mem: RecLag, n_h: int) -> float:
    """``log(γ/N_H)``: from γ itself where it is a float (more accurate as γ → N_H), else in log space."""
    return math.log(mem.gamma / n_h) if math.isfinite(mem.gamma) else mem.log_gamma - math.log(n_h)


# -- Theorem 1 ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BallCheck:
    """Evidence that every point of the open ball ``‖v‖ < radius`` is sent to exactly 0 in one step.

    ``n_random`` points uniform in the ball and ``n_adversarial`` points found by projected
    gradient ascent of G on the sphere of that radius (G is convex, so its maximum over the ball
    lies on the sphere); ``n_not_zero`` of them had a step that is not exactly 0, and ``max_G``
    is the largest ``G(xi v)`` seen (< 0 means the gate stayed shut everywhere tried).
    """

    name: str
    radius: float
    n_random: int
    n_adversarial: int
    n_not_zero: int
    max_G: float  # noqa: N815 - the paper's G
    holds: bool


@dataclass(frozen=True)
class Theorem1Report:
    """Theorem 1: for γ > N_H the origin is a point attractor, and the ball ``‖v‖ < ε`` is
    sent to 0 in one step.

    Radii: ``eps_paper`` is eq 39, ``log(γ/N_H)/(N_V β max|xi|)``; ``eps_cs`` the
    Cauchy–Schwarz radius ``log(γ/N_H)/(β max_mu ‖xi[mu]‖)``, certified; ``r_star`` the smallest
    ``‖v‖`` with ``G(xi v) ≥ 0`` found by search (bisection along ``n_directions`` rays, then
    supporting-hyperplane refinement), so ``eps_cs ≤ true radius ≤ r_star``; ``r_star_point``
    is a point at that distance with the gate open. ``kkt_gap`` (≥ 0, ~0 at a local optimum) is
    ``r_star`` minus the distance to the supporting hyperplane of B0 there; it is ≥ 0 exactly
    (the plane passes through the point), so a negative difference within its rounding error is
    reported as 0. ``ratio_paper`` and ``ratio_cs`` say how loose the radii are (``r_star/eps``).
    ``gamma`` is ``inf`` when ``log_gamma`` exceeds the float range.

    For γ ≤ N_H the radii are 0 and the report holds the counter-example: ``step_at_origin``
    equals ``mean_memory`` (``counterexample=True``) and ``holds`` is False.

    Another hard-gated memory Lagrangian (a :class:`~hopdyn.GatedLagrangian` with ``has_jump``)
    gets the generic parts: 0 a fixed point, the hypothesis ``G(0) < 0`` (else
    ``counterexample=True``: the gate is open at 0, no ball is sent to exactly 0), ``r_star``,
    and the ball checks at ``r_star`` and ``radius``. ``eps_paper``, ``eps_cs`` (RecLag's
    formulas, eq 39 and Cauchy–Schwarz), ``beta``, ``gamma`` and ``log_gamma`` are NaN then,
    and ``note`` says so. ``memory`` is the Lagrangian's repr.
    """

    n_memories: int
    n_features: int
    beta: float
    gamma: float
    log_gamma: float
    eps_paper: float
    eps_cs: float
    r_star: float
    r_star_point: torch.Tensor
    kkt_gap: float
    ratio_paper: float
    ratio_cs: float
    n_directions: int
    origin_fixed: bool
    step_at_origin: torch.Tensor
    mean_memory: torch.Tensor
    counterexample: bool
    balls: list[BallCheck]
    holds: bool
    summary: str
    memory: str = ""
    note: str = ""


def _bisect_open(G: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], r: torch.Tensor) -> torch.Tensor:
    """Per entry of ``r`` (an estimate of where ``G`` turns ≥ 0, G increasing through its one
    crossing), the smallest float ``hi`` found with ``G(hi) ≥ 0`` whose neighbour below has
    ``G < 0``, as ``G`` evaluates in floating point.

    A bracket ``[lo, hi]`` is widened geometrically around the estimate (``lo`` down to 0), then
    bisected down to adjacent floats: about 60 evaluations whatever the scale, where nudging by
    ulps needs ~1/(G's relative rounding) of them near γ = N_H. Entries whose ``G(0) ≥ 0`` in
    floating point (γ within rounding of N_H) return 0. ``G(t, idx)`` evaluates G at radii ``t``
    for the entries ``idx`` of ``r`` (``None``: all of them)."""
    r = r.clone()
    hi, lo = r.clone(), r.clone()
    f = 1e-13
    need_hi = G(hi, None) < 0
    need_lo = G(lo, None) >= 0
    for _ in range(200):
        if not bool(need_hi.any() or need_lo.any()):
            break
        f *= 4
        if bool(need_hi.any()):
            hi = torch.where(need_hi, r * (1 + f), hi)
            need_hi = need_hi & (G(hi, None) < 0)
        if bool(need_lo.any()):
            lo = torch.where(need_lo, r * max(1 - f, 0.0), lo)
            g_lo = G(lo, None)
            at_zero = need_lo & (lo == 0) & (g_lo >= 0)
            hi = torch.where(at_zero, lo, hi)  # the gate is open at 0 itself
            need_hi = need_hi & ~at_zero
            need_lo = need_lo & (g_lo >= 0) & ~at_zero
    else:  # pragma: no cover - G ≥ 0 beyond log γ/(β max s), so the bracket is found in ~30 rounds
        raise ArithmeticError("no bracket of the gate's crossing found")
    for _ in range(2200):  # 64 halvings per binade at most; 2200 covers [0, max float]
        mid = lo + (hi - lo) / 2
        active = (mid > lo) & (mid < hi)
        if not bool(active.any()):
            break
        idx = active.nonzero().squeeze(-1)
        opened = G(mid[idx], idx) >= 0
        hi[idx] = torch.where(opened, mid[idx], hi[idx])
        lo[idx] = torch.where(opened, lo[idx], mid[idx])
    return hi


def _ray_crossings(S: torch.Tensor, mem, iters: int = 50) -> torch.Tensor:
    """Radius where ``G(r s)`` turns ≥ 0 along each ray ``h = r s`` (rows of ``S``, (M, N_H)),
    ``inf`` where it stays < 0; ``G(0) < 0`` is assumed. RecLag: :func:`_ray_crossings_reclag`
    (Newton from above, then bisection). Any other gated Lagrangian: the radius is bracketed by
    doubling from 1 (G is assumed to cross once along a ray, as for a convex G) and bisected
    to adjacent floats with :func:`_bisect_open`, asking the Lagrangian's ``G`` only."""
    if _is_reclag(mem):
        return _ray_crossings_reclag(S, mem, iters)
    r = torch.ones(S.shape[0], dtype=S.dtype)
    up = mem.G(r[:, None] * S) < 0
    down = ~up
    for _ in range(1100):  # 2^±1100 covers the float range
        if not bool(up.any() or down.any()):
            break
        if bool(up.any()):
            r = torch.where(up, 2 * r, r)
            up = up & (mem.G(r[:, None] * S) < 0) & torch.isfinite(r)
        if bool(down.any()):
            half = torch.where(down, r / 2, r)
            down = down & (mem.G(half[:, None] * S) >= 0) & (half > 0)
            r = torch.where(down, half, r)
    ok = torch.isfinite(r) & (mem.G(r[:, None] * S) >= 0)
    out = torch.full_like(r, math.inf)
    if bool(ok.any()):
        S_ok = S[ok]

        def G(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:  # noqa: N802
            return mem.G(t[:, None] * (S_ok if idx is None else S_ok[idx]))

        out[ok] = _bisect_open(G, r[ok])
    return out


def _ray_crossings_reclag(S: torch.Tensor, mem: RecLag, iters: int = 50) -> torch.Tensor:
    """Radius where ``G(r s)`` (the memory Lagrangian's gate value, eq 13) turns ≥ 0 along each
    ray, for rows ``s = xi u`` of ``S`` (M, N_H); ``inf`` when ``max s ≤ 0`` (G stays negative
    along the whole ray).

    G is convex in r with G(0) = log(N_H/γ) < 0, so there is one crossing. Newton's method
    started above it, at ``log γ/(β max s)`` (where ``lse ≥ β r max s`` makes G ≥ 0), descends
    onto it (dG/dr = β·softmax(β r s)·s, the open activation); bisection (:func:`_bisect_open`)
    then pins it to adjacent floats, so each returned radius is a point with the gate open and
    the float below has it shut."""
    beta, log_gamma = mem.beta, mem.log_gamma
    m = S.amax(-1)
    ok = m > 0
    S = S[ok]
    r = log_gamma / (beta * m[ok])
    active = torch.arange(r.numel())
    for _ in range(iters):
        if active.numel() == 0:
            break
        ra, Sa = r[active], S[active]
        h = ra[:, None] * Sa
        G = mem.G(h)
        slope = beta * (mem.open_activation(h) * Sa).sum(-1)
        new = ra - G / slope
        # keep Newton in (0, r]; stop a ray once its step is small (bisection finishes it) or G
        # is at rounding level (near γ = N_H, where more steps only chase the noise)
        moved = torch.isfinite(new) & (new > 0) & (new < ra)
        r[active] = torch.where(moved, new, ra)
        more = moved & ((ra - new) > 1e-12 * ra) & (G.abs() > 64 * _EPS * (G.abs() + 2 * abs(log_gamma)))
        active = active[more]

    def G(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:  # noqa: N802
        return mem.G(t[:, None] * (S if idx is None else S[idx]))

    out = torch.full_like(m, math.inf)
    out[ok] = _bisect_open(G, r)
    return out


def exact_radius(
    xi: MHN | ArrayLike, beta: float | None = None, gamma: float | None = None, n_directions: int = 1024,
    refine: int = 32, seed: int = 0,
) -> tuple[float, torch.Tensor, float]:
    """Search for ``r* = min{‖v‖ : G(xi v) ≥ 0}`` (Theorem 1's exact radius), γ > N_H.

    ``xi`` is an :class:`~hopdyn.MHN` with a hard-gated memory Lagrangian, RecLag or any
    :class:`~hopdyn.GatedLagrangian` with ``has_jump`` whose G is convex along rays from 0
    (then no ``beta``/``gamma``), or an interaction matrix with RecLag's ``beta`` and ``gamma``. Bisection along ``n_directions`` rays at once (random
    directions, the memories, the mean memory, and the directions the step points to from
    random states), then the ``refine`` best rays are improved by the supporting-hyperplane
    iteration ``u ← xiᵀ ∇_h G(xi ρ(u) u)/‖·‖`` (``xiᵀ softmax(β xi ρ(u) u)`` for RecLag), which never increases ``ρ(u)``: the tangent
    plane of the convex set B0 at ``ρ(u)u`` lies at distance ≤ ρ(u) along its normal, and the
    ray along the normal leaves B0 before it. Returns ``(r_star, point, kkt_gap)``; r_star is an
    upper bound (the point, at that distance, has the gate open as the network computes G; the
    point scaled to the float below has it shut). Finishes in about a second even as γ → N_H⁺.
    """
    net = _gated_net(xi, beta, gamma, "exact_radius")
    n_directions, refine = positive_int(n_directions, "n_directions"), positive_int(refine, "refine")
    return _exact_radius(net, n_directions, refine, seed)


def _exact_radius(net: MHN, n_directions: int, refine: int, seed: int) -> tuple[float, torch.Tensor, float]:
    xi, mem = net.xi, net.memory
    reclag = _is_reclag(mem)
    n_h = xi.shape[0]
    if not _gate_shut_at_origin(net):
        if reclag:
            raise ValueError(f"gamma must be > N_H = {n_h} for a radius to exist (at γ ≤ N_H the gate is open at 0)")
        raise ValueError(f"G(0) ≥ 0 for {mem!r}: the gate is open at 0, so no radius exists")
    g = generator(seed, "exact_radius")
    rand = torch.randn(n_directions, xi.shape[1], generator=g, dtype=torch.float64)
    towards = _grad_h_G(mem, torch.randn(n_directions, n_h, generator=g, dtype=torch.float64)) @ xi
    U = torch.cat([rand, towards, xi, xi.mean(0, keepdim=True)])
    U = U / U.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    rho = _ray_crossings(U @ xi.T, mem)
    best = torch.topk(-rho, min(refine, rho.numel())).indices
    U, rho = U[best], rho[best]
    for _ in range(100):
        n = _grad_h_G(mem, rho[:, None] * (U @ xi.T)) @ xi
        U_new = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        rho_new = _ray_crossings(U_new @ xi.T, mem)
        better = rho_new < rho
        done = not bool(better.any()) or float(((rho - rho_new)[better] / rho[better]).max()) < 1e-13
        U, rho = torch.where(better[:, None], U_new, U), torch.minimum(rho, rho_new)
        if done:
            break
    k = int(rho.argmin())
    r, u = float(rho[k]), U[k]
    if not math.isfinite(r):
        return r, torch.full_like(u, math.inf), math.nan

    # xi·(r u) rounds differently from r·(xi u): bisect the scale of the point itself with the
    # network's own G, so the point has the gate open exactly as the step computes it
    def G_point(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:  # noqa: N802
        return net.gate_value(t[:, None] * u)

    t = float(_bisect_open(G_point, torch.tensor([r], dtype=torch.float64))[0])
    point = t * u
    r = float(point.norm())
    if r == 0:
        return 0.0, point, 0.0
    h = net.hidden(point)
    if not reclag:
        # B0 = {G < 0} lies on the near side of the tangent plane G(p) + ∇G·(v − p) = 0 (G convex
        # along rays and B0 convex assumed), at distance (∇G·p − G(p))/‖∇G‖ from 0
        grad_v = _grad_h_G(mem, h) @ xi
        g_p = float(mem.G(h))
        dot = float(grad_v @ point)
        norm = float(grad_v.norm())
        plane = (dot - g_p) / norm
        gap = r - plane
        noise = 16 * _EPS * (abs(dot) + abs(g_p)) / norm + 16 * _EPS * r
        if -noise <= gap < 0:
            gap = 0.0
        return r, point, gap
    beta, log_gamma = mem.beta, mem.log_gamma
    p = mem.open_activation(h)
    entropy = float(-(p * torch.log(p.clamp_min(1e-300))).sum())
    n_norm = beta * float((p @ xi).norm())
    # G ≥ its linearisation at the point, G0 + β pᵀxi (v − point), so B0 lies on the near side
    # of the plane where the linearisation is 0, at distance (β p·h − G0)/‖∇G‖ = (log γ − H(p))/‖∇G‖
    # from 0 (β p·h = lse(βh) − H(p) = log γ + G0 − H(p)); the point is beyond it, so r ≥ plane
    plane = (log_gamma - entropy) / n_norm
    gap = r - plane
    # so the gap is ≥ 0 exactly; what is below 0 is the rounding of log γ − H(p) (cancellation
    # as γ → N_H) and of r: report that as 0, keep anything larger (it would be a bug)
    noise = 16 * _EPS * (abs(log_gamma) + entropy) / n_norm + 16 * _EPS * r
    if -noise <= gap < 0:
        gap = 0.0
    return r, point, gap


_EPS = float(torch.finfo(torch.float64).eps)


def _adversarial(net: MHN, radius: float, starts: torch.Tensor, iters: int = 50) -> torch.Tensor:
    """Points on the sphere ``‖v‖ = radius`` where G(xi v) is (locally) largest.

    ``v ← radius·∇G/‖∇G‖`` is monotone ascent for a convex G: the new point maximises the
    linearisation of G over the ball, and G lies above its linearisations (∇G ∝ xiᵀ softmax)."""
    v = radius * starts / starts.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    for _ in range(iters):
        n = _grad_h_G(net.memory, net.hidden(v)) @ net.xi
        new = radius * n / n.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        done = float((new - v).abs().max()) <= 1e-12 * radius
        v = new
        if done:
            break
    return v


def _check_ball(net: MHN, name: str, radius: float, starts: torch.Tensor, n_random: int, g: torch.Generator) -> BallCheck:
    # the claim is for the open ball. One ulp inside is not enough: where ε_CS is exact (one
    # memory in 1-D, found by hypothesis) rounding puts G(xi v) at exactly 0 on such points, and
    # χ(0) = 1; a relative margin of 1e-10 is far above G's rounding error (~1e-16 relative)
    inside = radius * (1 - 1e-10)
    rand = sample_ball(n_random, net.n_features, inside, generator=g, dtype=torch.float64)
    adv = _adversarial(net, inside, starts)
    pts = torch.cat([rand, adv])
    with torch.no_grad():
        n_not_zero = int((net.step(pts) != 0).any(-1).sum())
        max_g = float(net.gate_value(pts).max())
    return BallCheck(name, radius, n_random, adv.shape[0], n_not_zero, max_g, n_not_zero == 0)


def check_theorem1(
    xi: MHN | ArrayLike,
    beta: float | None = None,
    gamma: float | None = None,
    *,
    radius: float | None = None,
    n_directions: int = 1024,
    n_random: int = 2048,
    n_adversarial: int = 64,
    seed: int = 0,
) -> Theorem1Report:
    """Check Theorem 1 (trivial point attractor, eq 39) on a hard-gated network.

    Call as ``check_theorem1(net)`` with an :class:`~hopdyn.MHN` whose memory is
    :class:`~hopdyn.RecLag` (β, γ or ``log_gamma`` are read from it) or any other hard-gated
    :class:`~hopdyn.GatedLagrangian` (its own ``G``; the RecLag radii are then NaN), with the
    Quadratic feature Lagrangian, or as ``check_theorem1(xi, beta, gamma)``, which builds the
    RecLag network. Verdict: 0 is a fixed point, and every tested point of the balls of radius
    ``eps_paper``, ``eps_cs`` (RecLag), ``r_star`` (probed at ``r_star·(1 − 1e-10)``: is the
    search's radius the true one?) and ``radius`` (when given: a claim of your own to test) is
    sent to exactly 0 in one step. See :class:`Theorem1Report` for what is measured; with the
    gate open at 0 (γ ≤ N_H) it is the counter-example.
    """
    net = _gated_net(xi, beta, gamma, "check_theorem1")
    n_directions = positive_int(n_directions, "n_directions")
    n_random = positive_int(n_random, "n_random")
    n_adversarial = positive_int(n_adversarial, "n_adversarial")
    if radius is not None:
        radius = positive(radius, "radius")
    return _theorem1(net, radius, n_directions, n_random, n_adversarial, seed)


def _theorem1(net: MHN, radius: float | None, n_directions: int, n_random: int, n_adversarial: int,
              seed: int) -> Theorem1Report:
    xi, mem = net.xi, net.memory
    reclag = _is_reclag(mem)
    if reclag:
        beta, gamma, log_gamma = mem.beta, mem.gamma, mem.log_gamma
        note = ""
    else:
        beta = gamma = log_gamma = math.nan
        note = (f"{type(mem).__name__} is not RecLag: eps_paper (eq 39) and eps_cs are RecLag's formulas and are NaN; "
                "r_star and the balls come from its own G")
    n_h, n_v = xi.shape
    zero = torch.zeros(n_v, dtype=torch.float64)
    with torch.no_grad():
        step0 = net.step(zero[None])[0]
    mean_memory = xi.mean(0)
    origin_fixed = bool((step0 == 0).all())
    scale = float(xi.abs().max())
    common = dict(n_memories=n_h, n_features=n_v, beta=beta, gamma=gamma, log_gamma=log_gamma,
                  origin_fixed=origin_fixed, step_at_origin=step0, mean_memory=mean_memory, memory=repr(mem))
    if not _gate_shut_at_origin(net):
        G0 = float(net.gate_value(zero))
        if reclag:
            counter = bool((step0 - mean_memory).abs().max() <= 1e-12 * max(scale, 1e-300))
            summary = (f"γ = {gamma:g} ≤ N_H = {n_h}: G(0) = log(N_H/γ) = {G0:.3g} ≥ 0, the gate is open at 0 "
                       f"and step(0) {'equals' if counter else 'differs from'} the mean memory: 0 is not a fixed point")
        else:
            counter = True
            summary = (f"G(0) = {G0:.3g} ≥ 0: the gate of {mem!r} is open at 0, so no ball around 0 is sent to "
                       f"exactly 0; 0 is {'a' if origin_fixed else 'NOT a'} fixed point")
        return Theorem1Report(
            **common, eps_paper=0.0 if reclag else math.nan, eps_cs=0.0 if reclag else math.nan, r_star=0.0,
            r_star_point=zero, kkt_gap=math.nan, ratio_paper=math.nan, ratio_cs=math.nan, n_directions=0,
            counterexample=counter, balls=[], holds=False, summary=summary, note=note,
        )
    if reclag:
        log_ratio = _log_ratio(mem, n_h)
        eps_paper = log_ratio / (n_v * beta * scale) if scale > 0 else math.inf
        eps_cs = log_ratio / (beta * float(xi.norm(dim=-1).max())) if scale > 0 else math.inf
    else:
        eps_paper = eps_cs = math.nan
    r_star, point, gap = _exact_radius(net, n_directions, 32, seed)
    g = generator(seed, "theorem1")
    starts = torch.cat([
        torch.randn(n_adversarial, n_v, generator=g, dtype=torch.float64), xi, xi.mean(0, keepdim=True),
        point[None] if math.isfinite(r_star) and r_star > 0 else xi[:1],
    ])
    balls = [
        _check_ball(net, name, r, starts, n_random, g)
        for name, r in (("eps_paper", eps_paper), ("eps_cs", eps_cs), ("r_star", r_star), ("radius", radius))
        if r is not None and math.isfinite(r) and r > 0
    ]
    holds = origin_fixed and all(b.holds for b in balls)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_p, ratio_cs = float(np.divide(r_star, eps_paper)), float(np.divide(r_star, eps_cs))
    radii = (
        f"ε = {eps_paper:.3g}, ε_CS = {eps_cs:.3g}, r* ≤ {r_star:.4g} (an upper bound found by search: "
        f"ε_CS ≤ true radius ≤ r*; r*/ε = {ratio_p:.3g}, r*/ε_CS = {ratio_cs:.3g})"
        if reclag else f"r* ≤ {r_star:.4g} (an upper bound found by search on {type(mem).__name__}'s G; ε and ε_CS "
        "are RecLag's and not defined here)"
    )
    summary = (
        f"0 is {'a' if origin_fixed else 'NOT a'} fixed point; {radii}; "
        + "; ".join(f"ball {b.name} (r = {b.radius:.3g}): {b.n_not_zero} of {b.n_random + b.n_adversarial} "
                    f"points not sent to 0, max G = {b.max_G:.3g}" for b in balls)
    )
    return Theorem1Report(
        **common, eps_paper=eps_paper, eps_cs=eps_cs, r_star=r_star, r_star_point=point, kkt_gap=gap,
        ratio_paper=ratio_p, ratio_cs=ratio_cs, n_directions=n_directions, counterexample=False, balls=balls,
        holds=holds, summary=summary, note=note,
    )


# -- Theorem 2 ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theorem2Report:
    """Theorem 2: for γ ≤ γ* = min_k Σ_mu exp(β xi[mu]·v_A^k) (the minimum along the vanilla
    trajectory from ``v0``) the gate never shuts and the RecLag trajectory equals the vanilla one.

    Everything is in log space: ``log_gamma_star`` and ``log_gammas = log γ* + log(ratios)``;
    ``gamma_star`` and ``gammas`` are their exponentials, ``inf`` beyond the float range.
    ``sup_distance[i]`` is ``max_k ‖v_A^k − v_B^k‖`` for ``log_gammas[i]`` over the ``n_steps``
    steps the vanilla run needed to converge. ``holds``: the distance is exactly 0 for every γ
    below γ* (within 1e-9 relative of γ* counts as neither side); ``separates_above``: it is
    positive for every γ above (the threshold is sharp; it can fail legitimately, e.g. when the
    vanilla trajectory sits at 0). ``kappa`` is the smoothing of the gate (None: the hard
    RecLag gate of the theorem).
    """

    beta: float
    v0: torch.Tensor
    log_gamma_star: float
    gamma_star: float
    argmin_step: int
    n_steps: int
    vanilla_end: torch.Tensor
    log_gammas: torch.Tensor
    gammas: torch.Tensor
    ratios: torch.Tensor
    sup_distance: torch.Tensor
    kappa: float | None
    holds: bool
    separates_above: bool
    summary: str


DEFAULT_RATIOS = (0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 2.0, 10.0, 100.0)


def _exp(x: float) -> float:
    return math.exp(x) if x < 709.78 else math.inf


def check_theorem2(
    xi: MHN | ArrayLike,
    beta: float | None = None,
    v0: ArrayLike | None = None,
    *,
    ratios: ArrayLike = DEFAULT_RATIOS,
    kappa: float | None = None,
    steps: int = 1000,
    tol: float = 1e-12,
) -> Theorem2Report:
    """Check Theorem 2 (reduction to vanilla) from one initial state ``v0`` (shape ``(N_V,)``).

    Call as ``check_theorem2(net, v0=v0)`` with an :class:`~hopdyn.MHN` whose memory is
    :class:`~hopdyn.LogSumExp` or :class:`~hopdyn.RecLag` (β is read from it; its γ plays no
    part; a :class:`~hopdyn.SmoothRecLag` memory supplies ``kappa``), or as
    ``check_theorem2(xi, beta, v0)``. The vanilla MHN is iterated to convergence (``tol``, at
    most ``steps``); γ* is read off its trajectory in log space; RecLag is run for
    ``log γ = log γ* + log(ratios)`` over the same steps, built from ``log_gamma`` so γ* beyond
    the float range (log γ* > 709) works. With ``kappa`` the smoothed RecLag (gate
    ``sigmoid(κG)``) is used instead, which does not reduce exactly — the check then reports failure.
    """
    if isinstance(xi, MHN):
        if beta is not None:
            raise ValueError("check_theorem2: with a network, beta comes from net.memory; pass v0 by keyword "
                             "(check_theorem2(net, v0=...))")
        mem = xi.memory
        if type(mem) not in (LogSumExp, RecLag, SmoothRecLag):
            raise ValueError(
                f"net: check_theorem2 needs a LogSumExp or RecLag memory, got memory={mem!r}: "
                + _RECLAG_ONLY["check_theorem2"]
            )
        if not isinstance(xi.feature, Quadratic):
            raise ValueError(f"net: check_theorem2 needs the Quadratic feature Lagrangian, got feature={xi.feature!r}")
        if isinstance(mem, SmoothRecLag) and kappa is None:
            kappa = mem.kappa
        beta, xi = mem.beta, xi.xi.to(torch.float64)
    else:
        xi = _xi64(xi)
        if beta is None:
            raise ValueError("check_theorem2: beta is required with xi (or pass an MHN)")
    beta = positive(beta, "beta")
    if v0 is None:
        raise ValueError("v0 is required: one initial state of shape (N_V,)")
    v0 = as_tensor(v0, "v0", last_dim=xi.shape[1]).to(torch.float64)
    if v0.dim() != 1:
        raise ValueError(f"v0 must be one state of shape (N_V,) = ({xi.shape[1]},), got shape {tuple(v0.shape)}")
    r = as_tensor(ratios, "ratios").to(torch.float64).reshape(-1)
    if bool((r <= 0).any()) or not bool(torch.isfinite(r).all()):
        raise ValueError("ratios must all be finite and > 0 (they multiply γ*)")
    if kappa is not None:
        kappa = positive(kappa, "kappa")
    vanilla = MHN(xi, memory=LogSumExp(beta))
    path = iterate(vanilla, v0, steps=steps, tol=tol, keep="path", progress=False).v  # (T, N_V)
    lse = torch.logsumexp(beta * vanilla.hidden(path), -1)
    k_min = int(lse.argmin())
    log_star = float(lse[k_min])
    log_gammas = log_star + torch.log(r)
    dist = torch.empty_like(log_gammas)
    for i, lg in enumerate(log_gammas.tolist()):
        lag = RecLag(beta, log_gamma=lg) if kappa is None else SmoothRecLag(beta, kappa=kappa, log_gamma=lg)
        other = iterate(MHN(xi, memory=lag), v0, steps=path.shape[0] - 1, keep="path", progress=False).v
        dist[i] = (other - path).norm(dim=-1).max()
    below, above = r < 1 - 1e-9, r > 1 + 1e-9
    holds = bool((dist[below] == 0).all())
    separates = bool((dist[above] > 0).all())
    gamma_star = _exp(log_star)
    summary = (
        f"log γ* = {log_star:.6g} (γ* = {gamma_star:.4g}; step {k_min} of {path.shape[0] - 1}); sup-distance "
        f"{'exactly 0' if holds else 'NOT 0'} for all γ < γ* (max {float(dist[below].max()) if bool(below.any()) else 0:.3g}), "
        f"{'positive' if separates else 'not always positive'} above (min "
        f"{float(dist[above].min()) if bool(above.any()) else math.nan:.3g})"
    )
    return Theorem2Report(
        beta=beta, v0=v0, log_gamma_star=log_star, gamma_star=gamma_star, argmin_step=k_min,
        n_steps=path.shape[0] - 1, vanilla_end=path[-1], log_gammas=log_gammas, gammas=torch.exp(log_gammas),
        ratios=r, sup_distance=dist, kappa=kappa, holds=holds, separates_above=separates, summary=summary,
    )


# -- Theorem 3 ------------------------------------------------------------------------------------
def log_ball_exp_integral(a_norm: ArrayLike, dim: int, radius: float) -> np.ndarray:
    """``log ∫_{‖x‖≤R} exp(a·x) dx`` for vectors ``a`` of norms ``a_norm`` in ``dim`` dimensions.

    Closed form ``(2πR/‖a‖)^{d/2} I_{d/2}(‖a‖R)`` in log space with the exponentially scaled
    Bessel function ``scipy.special.ive``. Where ive underflows (order large against the
    argument, e.g. d = 512 and small ‖a‖R) the power series
    ``(πR²)^{d/2} Σ_k (‖a‖R/2)^{2k}/(k! Γ(d/2+k+1))`` is summed with log-sum-exp instead;
    ``a = 0`` gives the ball's volume.
    """
    a = np.asarray(a_norm, dtype=np.float64)
    dim = positive_int(dim, "dim")
    radius = positive(radius, "radius")
    nu = dim / 2.0
    x = a * radius
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scaled = ive(nu, x)
        bessel = nu * np.log(2 * np.pi * radius / a) + np.log(scaled) + x
    use_series = ~(np.isfinite(bessel) & (scaled > 1e-250) & (x > 0))
    if np.any(use_series):
        xs = x[use_series]
        n_terms = int(np.ceil(xs.max() / 2 + 10 * np.sqrt(xs.max()) + 40))
        k = np.arange(n_terms)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):  # x = 0: only the k = 0 term is left
            log_terms = 2 * k * np.log(xs / 2) - gammaln(k + 1) - gammaln(nu + k + 1)
        log_terms[0] = -gammaln(nu + 1)  # the k = 0 term, also when x = 0
        m = log_terms.max(0)
        bessel = np.array(bessel, dtype=np.float64, copy=True)
        bessel[use_series] = nu * np.log(np.pi * radius**2) + m + np.log(np.exp(log_terms - m).sum(0))
    return bessel


def _log_ball_exp_integral_quad(a_norm: float, dim: int, radius: float) -> float:
    """The same integral by 1-D quadrature over the coordinate along ``a`` (an independent route):
    ``V_{d−1} ∫_{−R}^{R} exp(‖a‖t) (R² − t²)^{(d−1)/2} dt``, ``V_{d−1}`` the unit (d−1)-ball volume.

    The integrand is log-concave with its peak at ``t0``; at large ``‖a‖R`` it is a spike of
    width ~1/‖a‖ next to ``R``, which quadrature over all of ``[−R, R]`` misses (at β = 1000 by
    ~1 in log Z). So the range is cut where the log-integrand has fallen 750 below the peak
    (found by bisection, the log-integrand being concave) and the two monotone sides are
    integrated separately."""
    a, d, R = float(a_norm), dim, radius
    log_v = (d - 1) / 2 * math.log(math.pi) - math.lgamma((d + 1) / 2)
    if a == 0:
        t0 = 0.0
    else:
        t0 = (-(d - 1) + math.sqrt((d - 1) ** 2 + 4 * a * a * R * R)) / (2 * a)

    def log_f(t: float) -> float:
        return a * t + (d - 1) / 2 * math.log(max(R * R - t * t, 1e-300))

    peak = log_f(t0)

    def cut(end: float) -> float:
        """The point between t0 and ``end`` where log_f − peak = −750 (or ``end``)."""
        if log_f(end) - peak >= -750:
            return end
        inner, outer = t0, end
        for _ in range(200):
            mid = (inner + outer) / 2
            if mid in (inner, outer):
                break
            if log_f(mid) - peak >= -750:
                inner = mid
            else:
                outer = mid
        return outer

    total = 0.0
    for lo, hi in ((cut(-R), t0), (t0, cut(R))):
        if hi > lo:
            with warnings.catch_warnings():  # roundoff at 1e-12 on spikes: judged by quad_agrees
                warnings.simplefilter("ignore", IntegrationWarning)
                val, _ = quad(lambda t: math.exp(log_f(t) - peak), lo, hi, limit=500, epsabs=0, epsrel=1e-12)
            total += val
    return log_v + peak + math.log(total)


@dataclass(frozen=True)
class Theorem3Report:
    """Theorem 3: ``B0 = {G < 0}`` equals ``{p_H < δ}`` with ``δ = γ/Z`` (eqs 17–19, 63–65).

    The verdict is what the theorem claims, checked pointwise on ``n_checked`` points: the
    ``n_samples`` points uniform in the ball (or exactly the user's ``points``), of which
    ``n_b0`` lie in B0 and ``n_low_density`` have ``p_H < δ`` (p_H = 0 outside the ball), plus
    ``n_boundary_samples`` targeted points on both sides of the surface of B0
    (``n_boundary_b0`` in B0, ``n_boundary_outside_b0`` not; see :func:`check_theorem3`).
    Over all ``n_checked`` points, ``n_disagree`` are in one set but not the other
    (``n_borderline`` with |G| at rounding level are not counted), ``n_outside`` lie outside
    the ball, where the identity breaks, and ``n_tested_b0`` are counted points in B0.
    ``verdict`` is ``"fails"`` when some point disagrees, ``"untested"`` when no counted point
    lies in B0 (nothing was tested) and ``"holds"`` otherwise; ``holds`` is
    ``verdict == "holds"``.

    Separate lines, not part of the verdict: ``log_Z`` is the closed form
    (:func:`log_ball_exp_integral`); ``log_Z_quad`` the 1-D quadrature, with ``quad_agrees``
    when ``|log_Z − log_Z_quad| ≤ quad_tol = 1e-6·max(1, |log_Z|)``; ``log_Z_mc ± log_Z_mc_se``
    Monte Carlo over the ball with ``mc_ess`` effective samples, ``mc_agrees`` (within 4
    standard errors) only when ``mc_informative`` (None otherwise: heavy tails make it useless
    in high dimensions). ``delta = exp(log_delta)`` (may underflow; use ``log_delta``).
    ``b0_fraction`` and ``basin_fraction`` (points whose iteration ends at exactly 0) come with
    Wilson 95 % intervals and are over the ``n_samples`` uniform (or user's) points only, so they
    stay unbiased estimates of the fractions of the ball; ``basin_to_b0`` says how much larger
    the basin of 0 is than B0, and ``b0_in_basin`` whether every sampled point of B0 (the
    boundary samples in B0 included) ended at 0 (when γ > N_H). ``memories``
    tells, for each memory, whether it survives as an attractor or has been swallowed by the
    origin's basin.
    """

    n_memories: int
    n_features: int
    beta: float
    gamma: float
    log_gamma: float
    R: float  # noqa: N815 - the paper's radius
    log_Z: float  # noqa: N815
    log_Z_quad: float  # noqa: N815
    quad_tol: float
    quad_agrees: bool
    log_Z_mc: float  # noqa: N815
    log_Z_mc_se: float  # noqa: N815
    mc_ess: float
    mc_informative: bool
    mc_agrees: bool | None
    log_delta: float
    delta: float
    n_samples: int
    n_b0: int
    n_low_density: int
    n_disagree: int
    n_borderline: int
    n_outside: int
    n_boundary_samples: int
    n_boundary_b0: int
    n_boundary_outside_b0: int
    n_checked: int
    n_tested_b0: int
    b0_fraction: float
    b0_ci: tuple[float, float]
    basin_fraction: float
    basin_ci: tuple[float, float]
    basin_to_b0: float
    b0_in_basin: bool
    memories: MemoryFates
    verdict: str
    holds: bool
    summary: str


def check_theorem3(
    xi: MHN | ArrayLike,
    beta: float | None = None,
    gamma: float | None = None,
    R: float | None = None,  # noqa: N803 - the paper's radius
    *,
    points: ArrayLike | None = None,
    n_samples: int = 10_000,
    n_boundary: int = 256,
    n_mc: int = 50_000,
    steps: int = 1000,
    seed: int = 0,
) -> Theorem3Report:
    """Check Theorem 3 on a RecLag network with the density on the ball of radius ``R``.

    Call as ``check_theorem3(net, R=R)`` with an :class:`~hopdyn.MHN` whose memory is
    :class:`~hopdyn.RecLag`, or as ``check_theorem3(xi, beta, gamma, R)``. Verdict
    (``verdict``/``holds``): ``{p_H < δ}`` and B0 agree on every sampled point away from
    rounding level, and at least one of them lies in B0 (else ``"untested"``). The log Z
    cross-checks (quadrature, Monte Carlo) and whether B0 lies in the basin of 0 are reported
    beside it. Points outside the ball break the identity (p_H is 0 there) and are reported.
    Warns with :class:`hopdyn.analysis.basins.MemorySwallowedWarning` when γ swallows memories.

    Sampled points: ``n_samples`` uniform in the ball (they alone give ``b0_fraction`` and
    ``basin_fraction``), plus targeted points on both sides of the surface of B0, which uniform
    samples rarely reach when B0 is small against the ball (5+ dimensions, large β). For
    γ > N_H (B0 is a convex set around 0): along ``n_boundary`` random directions and the
    memories' directions u, the crossing radius ρ(u) where G(xi ρu) turns ≥ 0, and the points
    ``ρ(u)·s·u`` for s in 0.5, 0.9, 0.99, 1.01, 1.1, 1.5; rays that never leave B0 are skipped
    and points outside the ball of radius ``R`` are dropped. For γ ≤ N_H the gate is open at 0
    (G(0) ≥ 0) and B0, if not empty, lies away from 0, so rays from 0 do not find it: the
    uniform samples in B0 (up to ``n_boundary`` of them) serve as anchors c instead, the segment
    from 0 to c crosses the surface once at t·c (G is convex along it), and the points
    ``t·s·c`` are added; when no uniform sample lies in B0 the check relies on the uniform
    samples alone (and may be ``"untested"``). ``n_boundary=0`` disables the targeted points;
    with ``points=`` exactly the user's points are checked, nothing is added.
    """
    net = _reclag_net(xi, beta, gamma, "check_theorem3")
    if R is None:
        raise ValueError("R (the ball radius of the density) is required")
    R = positive(R, "R")
    n_samples = positive_int(n_samples, "n_samples")
    if isinstance(n_boundary, bool) or not isinstance(n_boundary, (int, np.integer)) or n_boundary < 0:
        raise ValueError(f"n_boundary must be an integer >= 0, got {n_boundary!r}")
    n_boundary = int(n_boundary)
    n_mc = positive_int(n_mc, "n_mc")
    steps = positive_int(steps, "steps")
    n_v = net.n_features
    if points is not None:
        points = as_tensor(points, "points", last_dim=n_v).to(torch.float64).reshape(-1, n_v)
    return _theorem3(net, R, points, n_samples, n_mc, steps, seed, n_boundary)


_BOUNDARY_SCALES = (0.5, 0.9, 0.99, 1.01, 1.1, 1.5)


def _boundary_points(net: MHN, R: float, n_boundary: int, x: torch.Tensor, in_b0: torch.Tensor,  # noqa: N803
                     seed: int) -> torch.Tensor:
    """Points on both sides of the surface of B0 inside the ball of radius ``R`` (see
    :func:`check_theorem3`); ``x`` are the uniform samples and ``in_b0`` which of them lie in B0
    (the anchors when γ ≤ N_H)."""
    xi, mem = net.xi, net.memory
    n_h, n_v = xi.shape
    scales = torch.tensor(_BOUNDARY_SCALES, dtype=torch.float64)
    empty = torch.empty(0, n_v, dtype=torch.float64)
    if n_boundary == 0:
        return empty
    g = generator(seed, "theorem3-boundary")
    if _above_n_h(mem, n_h):
        U = torch.cat([torch.randn(n_boundary, n_v, generator=g, dtype=torch.float64), xi])
        U = U / U.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        rho = _ray_crossings(U @ xi.T, mem)
        keep = torch.isfinite(rho) & (rho > 0)
        pts = (rho[keep, None, None] * scales[None, :, None] * U[keep, None, :]).reshape(-1, n_v)
    else:
        c = x[in_b0][:n_boundary]
        if c.shape[0] == 0:
            return empty
        # G(t c) ≥ 0 at t = 0 (the gate is open at 0), < 0 at t = 1: bisect the one crossing
        lo = torch.zeros(c.shape[0], dtype=torch.float64)
        hi = torch.ones(c.shape[0], dtype=torch.float64)
        for _ in range(64):
            mid = (lo + hi) / 2
            shut = net.gate_value(mid[:, None] * c) < 0
            hi, lo = torch.where(shut, mid, hi), torch.where(shut, lo, mid)
        keep = hi > 0
        pts = (hi[keep, None, None] * scales[None, :, None] * c[keep, None, :]).reshape(-1, n_v)
    return pts[pts.norm(dim=-1) <= R]


def _theorem3(net: MHN, R: float, points: torch.Tensor | None, n_samples: int, n_mc: int, steps: int,  # noqa: N803
              seed: int, n_boundary: int = 0) -> Theorem3Report:
    xi, mem = net.xi, net.memory
    beta, log_gamma = mem.beta, mem.log_gamma
    n_h, n_v = xi.shape
    norms = (beta * xi.norm(dim=-1)).numpy()
    log_int = log_ball_exp_integral(norms, n_v, R)
    log_z = float(logsumexp(log_int))
    log_z_quad = float(logsumexp([_log_ball_exp_integral_quad(a, n_v, R) for a in norms]))
    quad_tol = 1e-6 * max(1.0, abs(log_z))
    quad_agrees = abs(log_z - log_z_quad) <= quad_tol

    g = generator(seed, "theorem3")
    log_vol = n_v / 2 * math.log(math.pi) + n_v * math.log(R) - math.lgamma(n_v / 2 + 1)
    # G + log γ = lse(β xi x): the network's own G, shifted, is the log-weight of the MC integral
    log_w = torch.cat([
        net.gate_value(sample_ball(c, n_v, R, generator=g, dtype=torch.float64)) + log_gamma
        for c in _chunk_sizes(n_mc, max(1, (1 << 21) // max(n_h, n_v)))
    ])
    w = torch.exp(log_w - log_w.max())
    log_z_mc = log_vol + float(log_w.max()) + math.log(float(w.mean()))
    rel_se = float(w.std() / (w.mean() * math.sqrt(n_mc)))
    ess = float(w.sum() ** 2 / (w * w).sum())
    mc_informative = ess >= 1000 and rel_se < 0.05
    mc_agrees = abs(math.expm1(log_z_mc - log_z)) <= 4 * rel_se if mc_informative else None

    x = sample_ball(n_samples, n_v, R, generator=g, dtype=torch.float64) if points is None else points
    n = x.shape[0]
    G_x = _gate_value(net, x)
    xb = _boundary_points(net, R, n_boundary, x, G_x < 0, seed) if points is None else x[:0]
    n_bd = xb.shape[0]
    G = torch.cat([G_x, _gate_value(net, xb)])
    lse = G + log_gamma
    outside = torch.cat([x, xb]).norm(dim=-1) > R
    # p_H(x) = exp(lse − log Z) inside the ball (eq 18), 0 outside; δ = γ/Z
    log_p = torch.where(outside, torch.full_like(lse, -math.inf), lse - log_z)
    log_delta = log_gamma - log_z
    in_b0, low = G < 0, log_p < log_delta
    borderline = G.abs() <= 1e-12 * (1 + lse.abs())
    n_disagree = int(((in_b0 != low) & ~borderline).sum())
    n_tested_b0 = int((in_b0 & ~borderline & ~outside).sum())
    # the fractions are over the uniform (or user's) points only; for the boundary points in B0,
    # ending at 0 is one step to exactly 0 (the gate shuts there) and 0 staying put
    ends = iterate(net, x, steps=steps, tol=1e-12, keep="last", progress=False).final
    in_basin = (ends == 0).all(-1)
    bd_b0 = in_b0[n:]
    n_bd_b0 = int(bd_b0.sum())
    n_b0, n_basin = int(in_b0[:n].sum()), int(in_basin.sum())
    b0_in_basin = not _above_n_h(mem, n_h) or bool(in_basin[in_b0[:n]].all())
    if b0_in_basin and _above_n_h(mem, n_h) and n_bd_b0:
        b0_in_basin = bool((net.step(xb[bd_b0]) == 0).all()) and bool((net.step(torch.zeros_like(xb[0])) == 0).all())
    memories = memory_fates(net, stacklevel=4)
    verdict = "fails" if n_disagree else ("untested" if n_tested_b0 == 0 else "holds")
    ratio = n_basin / n_b0 if n_b0 else math.nan
    swallowed = [k for k, s in enumerate(memories.swallowed) if s]
    mc_line = (f"MC {log_z_mc:.4g} ± {rel_se:.2g} rel. (ESS {ess:.3g}): "
               + ("agrees" if mc_agrees else "DISAGREES" if mc_informative else "not informative"))
    summary = (
        f"Theorem 3 {verdict.upper() if verdict != 'holds' else 'holds'}: B0 vs p_H < δ: {n_disagree} of {n + n_bd} "
        f"points disagree ({n} {'uniform' if points is None else 'given'}, {n_bd} near the surface of B0: {n_bd_b0} in, "
        f"{n_bd - n_bd_b0} out; {int(outside.sum())} outside the ball), {n_tested_b0} tested points in B0"
        + (" (no sampled point lies in B0: nothing tested)" if verdict == "untested" else "")
        + f"; log δ = {log_delta:.4g}. log Z = {log_z:.8g}; quadrature {log_z_quad:.8g}: "
        f"{'agrees' if quad_agrees else 'DISAGREES'} (tolerance {quad_tol:.2g}); {mc_line}. "
        f"B0 {n_b0 / n:.3g} vs basin of 0 {n_basin / n:.3g} of the samples (×{ratio:.3g}); B0 "
        f"{'lies' if b0_in_basin else 'does NOT lie'} in the basin of 0; {len(swallowed)} of {n_h} memories swallowed"
    )
    return Theorem3Report(
        n_memories=n_h, n_features=n_v, beta=beta, gamma=mem.gamma, log_gamma=log_gamma, R=R, log_Z=log_z,
        log_Z_quad=log_z_quad, quad_tol=quad_tol, quad_agrees=quad_agrees, log_Z_mc=log_z_mc, log_Z_mc_se=rel_se,
        mc_ess=ess, mc_informative=mc_informative, mc_agrees=mc_agrees, log_delta=log_delta, delta=_exp(log_delta),
        n_samples=n, n_b0=n_b0, n_low_density=int(low[:n].sum()), n_disagree=n_disagree,
        n_borderline=int(borderline.sum()), n_outside=int(outside.sum()), n_boundary_samples=n_bd,
        n_boundary_b0=n_bd_b0, n_boundary_outside_b0=n_bd - n_bd_b0, n_checked=n + n_bd, n_tested_b0=n_tested_b0,
        b0_fraction=n_b0 / n,
        b0_ci=wilson_interval(n_b0, n), basin_fraction=n_basin / n, basin_ci=wilson_interval(n_basin, n),
        basin_to_b0=ratio, b0_in_basin=b0_in_basin, memories=memories, verdict=verdict, holds=verdict == "holds",
        summary=summary,
    )


def _gate_value(net: MHN, x: torch.Tensor) -> torch.Tensor:
    """``net.gate_value(x)`` for a batch ``(n, N_V)`` that may be empty."""
    return net.gate_value(x) if x.shape[0] else x.new_empty(0)


def _chunk_sizes(n: int, size: int) -> list[int]:
    return [min(size, n - s) for s in range(0, n, size)]
