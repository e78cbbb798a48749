"""Theorems 1–3 of the RecLag paper, checked numerically on a given network.

Each check returns a frozen report dataclass with the numbers it measured and a verdict
``holds``; nothing is raised when a claim fails (a failure is a result, e.g. the counter-example
to Theorem 1 at γ ≤ N_H). Everything here runs in float64, whatever the input dtype.

- :func:`check_theorem1` — the origin is a point attractor for γ > N_H (Theorem 1, eq 39),
  with three radii: the paper's ε, the Cauchy–Schwarz radius ε_CS and the exact radius r*.
- :func:`check_theorem2` — RecLag reduces to the vanilla MHN for γ below γ* (Theorem 2).
- :func:`check_theorem3` — B0 = {G < 0} is the low-density set {p_H < δ} (Theorem 3, eqs 17–19,
  63–65), with log Z in closed form (:func:`log_ball_exp_integral`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import quad
from scipy.special import gammaln, ive, logsumexp

from ._validate import ArrayLike, as_tensor, positive, positive_int
from .basins import MemoryFates, generator, memory_fates, sample_ball, wilson_interval
from .lagrangians import LogSumExp, RecLag
from .network import MHN
from .stepper import iterate

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
    ``r_star`` minus the distance to the supporting hyperplane of B0 there. ``ratio_paper`` and
    ``ratio_cs`` say how loose the radii are (``r_star/eps``).

    For γ ≤ N_H the radii are 0 and the report holds the counter-example: ``step_at_origin``
    equals ``mean_memory`` (``counterexample=True``) and ``holds`` is False.
    """

    n_memories: int
    n_features: int
    beta: float
    gamma: float
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


def _ray_crossings(S: torch.Tensor, beta: float, log_gamma: float, iters: int = 50) -> torch.Tensor:
    """Radius where ``G = lse(β r s) − log γ`` turns ≥ 0 along each ray, for rows ``s = xi u``
    of ``S`` (M, N_H); ``inf`` when ``max s ≤ 0`` (G stays negative along the whole ray).

    G is convex in r with G(0) = log(N_H/γ) < 0, so there is one crossing. Newton's method
    started above it, at ``log γ/(β max s)`` (where ``lse ≥ β r max s`` makes G ≥ 0), descends
    monotonically onto it; the result is nudged up by ulps until G ≥ 0 holds in floating point,
    so each returned radius is a point with the gate open."""
    m = S.amax(-1)
    ok = m > 0
    S = S[ok]
    r = log_gamma / (beta * m[ok])
    for _ in range(iters):
        z = beta * r[:, None] * S
        lse = torch.logsumexp(z, -1)
        slope = beta * (torch.exp(z - lse[:, None]) * S).sum(-1)
        step = (lse - log_gamma) / slope
        r = r - step
        if float((step.abs() / r).max()) <= 1e-15:
            break
    for _ in range(64):
        shut = torch.logsumexp(beta * r[:, None] * S, -1) < log_gamma
        if not bool(shut.any()):
            break
        r = torch.where(shut, r * (1 + 2**-51), r)
    out = torch.full_like(m, math.inf)
    out[ok] = r
    return out


def exact_radius(
    xi: ArrayLike, beta: float, gamma: float, n_directions: int = 1024, refine: int = 32, seed: int = 0
) -> tuple[float, torch.Tensor, float]:
    """Search for ``r* = min{‖v‖ : G(xi v) ≥ 0}`` (Theorem 1's exact radius), γ > N_H.

    Bisection along ``n_directions`` rays at once (random directions, the memories, the mean
    memory, and the directions the step points to from random states), then the ``refine``
    best rays are improved by the supporting-hyperplane iteration
    ``u ← xiᵀ softmax(β xi ρ(u) u)/‖·‖``, which never increases ``ρ(u)``: the tangent plane of
    the convex set B0 at ``ρ(u)u`` lies at distance ≤ ρ(u) along its normal, and the ray along
    the normal leaves B0 before it. Returns ``(r_star, point, kkt_gap)``; r_star is an upper
    bound (a point with the gate open is at that distance).
    """
    xi = _xi64(xi)
    beta, gamma = positive(beta, "beta"), positive(gamma, "gamma")
    n_h = xi.shape[0]
    if gamma <= n_h:
        raise ValueError(f"gamma must be > N_H = {n_h} for a radius to exist (at γ ≤ N_H the gate is open at 0)")
    log_gamma = math.log(gamma)
    g = generator(seed, "exact_radius")
    rand = torch.randn(n_directions, xi.shape[1], generator=g, dtype=torch.float64)
    towards = torch.softmax(beta * torch.randn(n_directions, n_h, generator=g, dtype=torch.float64), -1) @ xi
    U = torch.cat([rand, towards, xi, xi.mean(0, keepdim=True)])
    U = U / U.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    rho = _ray_crossings(U @ xi.T, beta, log_gamma)
    best = torch.topk(-rho, min(refine, rho.numel())).indices
    U, rho = U[best], rho[best]
    for _ in range(100):
        p = torch.softmax(beta * rho[:, None] * (U @ xi.T), -1)
        n = p @ xi
        U_new = n / n.norm(dim=-1, keepdim=True)
        rho_new = _ray_crossings(U_new @ xi.T, beta, log_gamma)
        better = rho_new < rho
        if not bool(better.any()) or float(((rho - rho_new)[better] / rho[better]).max()) < 1e-13:
            U, rho = torch.where(better[:, None], U_new, U), torch.minimum(rho, rho_new)
            break
        U, rho = torch.where(better[:, None], U_new, U), torch.minimum(rho, rho_new)
    k = int(rho.argmin())
    r, u = float(rho[k]), U[k]
    if not math.isfinite(r):
        return r, torch.full_like(u, math.inf), math.nan
    point = r * u
    # xi·(r u) rounds differently from r·(xi u): nudge the point out until its own gate is open
    while float(torch.logsumexp(beta * (point @ xi.T), -1)) < log_gamma:
        point = point * (1 + 2**-51)
    r = float(point.norm())
    p = torch.softmax(beta * r * (xi @ u), -1)
    entropy = float(-(p * torch.log(p.clamp_min(1e-300))).sum())
    plane = (log_gamma - entropy) / (beta * float((p @ xi).norm()))
    return r, point, r - plane


def _adversarial(xi: torch.Tensor, beta: float, radius: float, starts: torch.Tensor, iters: int = 50) -> torch.Tensor:
    """Points on the sphere ``‖v‖ = radius`` where G(xi v) is (locally) largest.

    ``v ← radius·∇G/‖∇G‖`` is monotone ascent for a convex G: the new point maximises the
    linearisation of G over the ball, and G lies above its linearisations."""
    v = radius * starts / starts.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    for _ in range(iters):
        n = torch.softmax(beta * v @ xi.T, -1) @ xi
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
    adv = _adversarial(net.xi, net.memory.beta, inside, starts)
    pts = torch.cat([rand, adv])
    with torch.no_grad():
        n_not_zero = int((net._step(pts) != 0).any(-1).sum())
        max_g = float(net.memory.G(net._hidden(pts)).max())
    return BallCheck(name, radius, n_random, adv.shape[0], n_not_zero, max_g, n_not_zero == 0)


def check_theorem1(
    xi: ArrayLike,
    beta: float,
    gamma: float,
    *,
    radius: float | None = None,
    n_directions: int = 1024,
    n_random: int = 2048,
    n_adversarial: int = 64,
    seed: int = 0,
) -> Theorem1Report:
    """Check Theorem 1 (trivial point attractor, eq 39) on the RecLag network ``(xi, β, γ)``.

    Verdict: 0 is a fixed point, and every tested point of the balls of radius ``eps_paper``
    and ``eps_cs`` (and ``radius``, when given: a claim of your own to test) is sent to exactly
    0 in one step. See :class:`Theorem1Report` for what is measured.
    """
    xi = _xi64(xi)
    beta, gamma = positive(beta, "beta"), positive(gamma, "gamma")
    n_directions = positive_int(n_directions, "n_directions")
    n_random = positive_int(n_random, "n_random")
    n_adversarial = positive_int(n_adversarial, "n_adversarial")
    if radius is not None:
        radius = positive(radius, "radius")
    n_h, n_v = xi.shape
    net = MHN(xi, memory=RecLag(beta, gamma))
    zero = torch.zeros(n_v, dtype=torch.float64)
    with torch.no_grad():
        step0 = net._step(zero[None])[0]
    mean_memory = xi.mean(0)
    origin_fixed = bool((step0 == 0).all())
    scale = float(xi.abs().max())
    if gamma <= n_h:
        counter = bool((step0 - mean_memory).abs().max() <= 1e-12 * max(scale, 1e-300))
        return Theorem1Report(
            n_h, n_v, beta, gamma, 0.0, 0.0, 0.0, zero, math.nan, math.nan, math.nan, 0, origin_fixed, step0,
            mean_memory, counter, [], False,
            f"γ = {gamma:g} ≤ N_H = {n_h}: G(0) = log(N_H/γ) = {math.log(n_h / gamma):.3g} ≥ 0, the gate is open at 0 "
            f"and step(0) {'equals' if counter else 'differs from'} the mean memory: 0 is not a fixed point",
        )
    log_ratio = math.log(gamma / n_h)
    eps_paper = log_ratio / (n_v * beta * scale) if scale > 0 else math.inf
    eps_cs = log_ratio / (beta * float(xi.norm(dim=-1).max())) if scale > 0 else math.inf
    r_star, point, gap = exact_radius(xi, beta, gamma, n_directions, seed=seed)
    g = generator(seed, "theorem1")
    starts = torch.cat([
        torch.randn(n_adversarial, n_v, generator=g, dtype=torch.float64), xi, xi.mean(0, keepdim=True),
        point[None] if math.isfinite(r_star) else xi[:1],
    ])
    balls = [
        _check_ball(net, name, r, starts, n_random, g)
        for name, r in (("eps_paper", eps_paper), ("eps_cs", eps_cs), ("radius", radius))
        if r is not None and math.isfinite(r)
    ]
    holds = origin_fixed and all(b.holds for b in balls)
    ratio_p, ratio_cs = r_star / eps_paper, r_star / eps_cs
    summary = (
        f"0 is {'a' if origin_fixed else 'NOT a'} fixed point; ε = {eps_paper:.3g}, ε_CS = {eps_cs:.3g}, "
        f"r* ≤ {r_star:.4g} (an upper bound found by search: ε_CS ≤ true radius ≤ r*; r*/ε = {ratio_p:.3g}, "
        f"r*/ε_CS = {ratio_cs:.3g}); "
        + "; ".join(f"ball {b.name} (r = {b.radius:.3g}): {b.n_not_zero} of {b.n_random + b.n_adversarial} "
                    f"points not sent to 0, max G = {b.max_G:.3g}" for b in balls)
    )
    return Theorem1Report(
        n_h, n_v, beta, gamma, eps_paper, eps_cs, r_star, point, gap, ratio_p, ratio_cs, n_directions, origin_fixed,
        step0, mean_memory, False, balls, holds, summary,
    )


# -- Theorem 2 ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theorem2Report:
    """Theorem 2: for γ ≤ γ* = min_k Σ_mu exp(β xi[mu]·v_A^k) (the minimum along the vanilla
    trajectory from ``v0``) the gate never shuts and the RecLag trajectory equals the vanilla one.

    ``sup_distance[i]`` is ``max_k ‖v_A^k − v_B^k‖`` for ``gammas[i]`` over the ``n_steps`` steps
    the vanilla run needed to converge; ``ratios = gammas/gamma_star``. ``holds``: the distance
    is exactly 0 for every γ below γ* (within 1e-9 relative of γ* counts as neither side);
    ``separates_above``: it is positive for every γ above (the threshold is sharp; it can
    fail legitimately, e.g. when the vanilla trajectory sits at 0). ``kappa`` is the smoothing
    of the gate (None: the hard RecLag gate of the theorem).
    """

    beta: float
    v0: torch.Tensor
    log_gamma_star: float
    gamma_star: float
    argmin_step: int
    n_steps: int
    vanilla_end: torch.Tensor
    gammas: torch.Tensor
    ratios: torch.Tensor
    sup_distance: torch.Tensor
    kappa: float | None
    holds: bool
    separates_above: bool
    summary: str


DEFAULT_RATIOS = (0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 2.0, 10.0, 100.0)


def check_theorem2(
    xi: ArrayLike,
    beta: float,
    v0: ArrayLike,
    *,
    ratios: ArrayLike = DEFAULT_RATIOS,
    kappa: float | None = None,
    steps: int = 1000,
    tol: float = 1e-12,
) -> Theorem2Report:
    """Check Theorem 2 (reduction to vanilla) from one initial state ``v0`` (shape ``(N_V,)``).

    The vanilla MHN is iterated to convergence (``tol``, at most ``steps``); γ* is read off its
    trajectory in log space; RecLag is run for ``gammas = γ*·ratios`` over the same steps. With
    ``kappa`` the smoothed RecLag (gate ``sigmoid(κG)``) is used instead, which does not reduce
    exactly — the check then reports failure.
    """
    xi = _xi64(xi)
    beta = positive(beta, "beta")
    v0 = as_tensor(v0, "v0", last_dim=xi.shape[1]).to(torch.float64)
    if v0.dim() != 1:
        raise ValueError(f"v0 must be one state of shape (N_V,) = ({xi.shape[1]},), got shape {tuple(v0.shape)}")
    r = as_tensor(ratios, "ratios").to(torch.float64).reshape(-1)
    if bool((r <= 0).any()):
        raise ValueError("ratios must all be > 0 (they multiply γ*)")
    if kappa is not None:
        kappa = positive(kappa, "kappa")
    vanilla = MHN(xi, memory=LogSumExp(beta))
    path = iterate(vanilla, v0, steps=steps, tol=tol, keep="path", progress=False).v  # (T, N_V)
    lse = torch.logsumexp(beta * path @ xi.T, -1)
    k_min = int(lse.argmin())
    log_star = float(lse[k_min])
    log_gammas = log_star + torch.log(r)
    if float(log_gammas.max()) > 700:
        raise ValueError(
            f"γ* = exp({log_star:.1f}) times the largest ratio exceeds the float64 range; use smaller ratios, β or xi"
        )
    gammas = torch.exp(log_gammas)
    dist = torch.empty_like(gammas)
    for i, gam in enumerate(gammas.tolist()):
        lag = RecLag(beta, gam) if kappa is None else RecLag(beta, gam).smooth(kappa)
        other = iterate(MHN(xi, memory=lag), v0, steps=path.shape[0] - 1, keep="path", progress=False).v
        dist[i] = (other - path).norm(dim=-1).max()
    below, above = r < 1 - 1e-9, r > 1 + 1e-9
    holds = bool((dist[below] == 0).all())
    separates = bool((dist[above] > 0).all())
    summary = (
        f"γ* = exp({log_star:.4g}) = {math.exp(log_star):.4g} (step {k_min} of {path.shape[0] - 1}); sup-distance "
        f"{'exactly 0' if holds else 'NOT 0'} for all γ < γ* (max {float(dist[below].max()) if bool(below.any()) else 0:.3g}), "
        f"{'positive' if separates else 'not always positive'} above (min "
        f"{float(dist[above].min()) if bool(above.any()) else math.nan:.3g})"
    )
    return Theorem2Report(
        beta, v0, log_star, math.exp(log_star), k_min, path.shape[0] - 1, path[-1], gammas, r, dist, kappa, holds,
        separates, summary,
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
    ``V_{d−1} ∫_{−R}^{R} exp(‖a‖t) (R² − t²)^{(d−1)/2} dt``, ``V_{d−1}`` the unit (d−1)-ball volume."""
    a, d, R = float(a_norm), dim, radius
    log_v = (d - 1) / 2 * math.log(math.pi) - math.lgamma((d + 1) / 2)
    if a == 0:
        t0 = 0.0
    else:
        t0 = (-(d - 1) + math.sqrt((d - 1) ** 2 + 4 * a * a * R * R)) / (2 * a)

    def log_f(t: float) -> float:
        return a * t + (d - 1) / 2 * math.log(max(R * R - t * t, 1e-300))

    peak = log_f(t0)
    val, _ = quad(lambda t: math.exp(log_f(t) - peak), -R, R, points=[t0], limit=500, epsabs=0, epsrel=1e-12)
    return log_v + peak + math.log(val)


@dataclass(frozen=True)
class Theorem3Report:
    """Theorem 3: ``B0 = {G < 0}`` equals ``{p_H < δ}`` with ``δ = γ/Z`` (eqs 17–19, 63–65).

    ``log_Z`` is the closed form (:func:`log_ball_exp_integral`), ``log_Z_quad`` the 1-D
    quadrature, ``log_Z_mc ± log_Z_mc_se`` Monte Carlo over the ball with ``mc_ess`` effective
    samples (the MC check counts only when ``mc_informative``: heavy tails make it useless in
    high dimensions). ``delta = exp(log_delta)`` (may underflow; use ``log_delta``).

    On ``n_samples`` points (uniform in the ball, or the user's): ``n_b0`` lie in B0,
    ``n_low_density`` have ``p_H < δ`` (p_H = 0 outside the ball), ``n_disagree`` are in one set
    but not the other (``n_borderline`` with |G| at rounding level are not counted), and
    ``n_outside`` lie outside the ball, where the theorem does not apply. ``b0_fraction`` and
    ``basin_fraction`` (points whose iteration ends at exactly 0) come with Wilson 95 % intervals;
    ``basin_to_b0`` says how much larger the basin of 0 is than B0. ``memories`` tells, for each
    memory, whether it survives as an attractor or has been swallowed by the origin's basin.
    """

    n_memories: int
    n_features: int
    beta: float
    gamma: float
    R: float  # noqa: N815 - the paper's radius
    log_Z: float  # noqa: N815
    log_Z_quad: float  # noqa: N815
    log_Z_mc: float  # noqa: N815
    log_Z_mc_se: float  # noqa: N815
    mc_ess: float
    mc_informative: bool
    log_delta: float
    delta: float
    n_samples: int
    n_b0: int
    n_low_density: int
    n_disagree: int
    n_borderline: int
    n_outside: int
    b0_fraction: float
    b0_ci: tuple[float, float]
    basin_fraction: float
    basin_ci: tuple[float, float]
    basin_to_b0: float
    b0_in_basin: bool
    memories: MemoryFates
    holds: bool
    summary: str


def check_theorem3(
    xi: ArrayLike,
    beta: float,
    gamma: float,
    R: float,  # noqa: N803 - the paper's radius
    *,
    points: ArrayLike | None = None,
    n_samples: int = 10_000,
    n_mc: int = 50_000,
    steps: int = 1000,
    seed: int = 0,
) -> Theorem3Report:
    """Check Theorem 3 on the RecLag network ``(xi, β, γ)`` with the density on the ball of radius R.

    Verdict: the closed-form log Z matches the quadrature (relative 1e-8) and, where informative,
    Monte Carlo (4 standard errors); ``{p_H < δ}`` and B0 agree on every sampled point away
    from rounding level; and B0 lies in the basin of 0 (when γ > N_H). Points outside the
    ball break the identity (p_H is 0 there) and are reported. Warns with
    :class:`hopdyn.basins.MemorySwallowedWarning` when γ swallows memories.
    """
    xi = _xi64(xi)
    beta, gamma, R = positive(beta, "beta"), positive(gamma, "gamma"), positive(R, "R")
    n_samples = positive_int(n_samples, "n_samples")
    n_mc = positive_int(n_mc, "n_mc")
    n_h, n_v = xi.shape
    norms = (beta * xi.norm(dim=-1)).numpy()
    log_int = log_ball_exp_integral(norms, n_v, R)
    log_z = float(logsumexp(log_int))
    log_z_quad = float(logsumexp([_log_ball_exp_integral_quad(a, n_v, R) for a in norms]))
    quad_ok = abs(log_z - log_z_quad) <= 1e-8 * max(1.0, abs(log_z))

    g = generator(seed, "theorem3")
    log_vol = n_v / 2 * math.log(math.pi) + n_v * math.log(R) - math.lgamma(n_v / 2 + 1)
    log_w = torch.cat([
        torch.logsumexp(beta * sample_ball(c, n_v, R, generator=g, dtype=torch.float64) @ xi.T, -1)
        for c in _chunk_sizes(n_mc, max(1, (1 << 21) // max(n_h, n_v)))
    ])
    w = torch.exp(log_w - log_w.max())
    log_z_mc = log_vol + float(log_w.max()) + math.log(float(w.mean()))
    rel_se = float(w.std() / (w.mean() * math.sqrt(n_mc)))
    ess = float(w.sum() ** 2 / (w * w).sum())
    mc_informative = ess >= 1000 and rel_se < 0.05
    mc_ok = (not mc_informative) or abs(math.expm1(log_z_mc - log_z)) <= 4 * rel_se

    x = sample_ball(n_samples, n_v, R, generator=g, dtype=torch.float64) if points is None else (
        as_tensor(points, "points", last_dim=n_v).to(torch.float64).reshape(-1, n_v))
    net = MHN(xi, memory=RecLag(beta, gamma))
    lse = torch.logsumexp(beta * x @ xi.T, -1)
    G = lse - math.log(gamma)
    outside = x.norm(dim=-1) > R
    log_p = torch.where(outside, torch.full_like(lse, -math.inf), lse - log_z)
    log_delta = math.log(gamma) - log_z
    in_b0, low = G < 0, log_p < log_delta
    borderline = G.abs() <= 1e-12 * (1 + lse.abs())
    n_disagree = int(((in_b0 != low) & ~borderline).sum())
    ends = iterate(net, x, steps=steps, tol=1e-12, keep="last", progress=False).final
    in_basin = (ends == 0).all(-1)
    n = x.shape[0]
    n_b0, n_basin = int(in_b0.sum()), int(in_basin.sum())
    b0_in_basin = gamma <= n_h or bool(in_basin[in_b0].all())
    memories = memory_fates(net, stacklevel=3)
    holds = quad_ok and mc_ok and n_disagree == 0 and b0_in_basin
    ratio = n_basin / n_b0 if n_b0 else math.nan
    swallowed = [k for k, s in enumerate(memories.swallowed) if s]
    summary = (
        f"log Z = {log_z:.6g} (quadrature {log_z_quad:.6g}, MC {log_z_mc:.4g} ± {rel_se:.2g} rel., ESS {ess:.3g}"
        f"{'' if mc_informative else ': not informative'}); log δ = {log_delta:.4g}; B0 vs p_H < δ: {n_disagree} of "
        f"{n} points disagree ({int(outside.sum())} outside the ball); B0 {n_b0 / n:.3g} vs basin of 0 {n_basin / n:.3g} "
        f"of the samples (×{ratio:.3g}); {len(swallowed)} of {n_h} memories swallowed"
    )
    return Theorem3Report(
        n_h, n_v, beta, gamma, R, log_z, log_z_quad, log_z_mc, rel_se, ess, mc_informative, log_delta,
        math.exp(log_delta) if log_delta < 709 else math.inf, n, n_b0, int(low.sum()), n_disagree, int(borderline.sum()), int(outside.sum()),
        n_b0 / n, wilson_interval(n_b0, n), n_basin / n, wilson_interval(n_basin, n), ratio, b0_in_basin, memories,
        holds, summary,
    )


def _chunk_sizes(n: int, size: int) -> list[int]:
    return [min(size, n - s) for s in range(0, n, size)]
