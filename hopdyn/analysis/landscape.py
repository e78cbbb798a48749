"""Energy landscapes: the energy, the density p_H, the basin B0 and the vector field on a plane.

Everything here is an analysis that returns data (dataclasses of tensors); the pictures are drawn
by :mod:`hopdyn.plots.landscape` and :mod:`hopdyn.plots.interactive`.

A landscape lives on a 2-D plane of feature space. For a network with ``N_V = 2`` that is the
feature space itself; in ``N_V`` dimensions :meth:`hopdyn.analysis.geometry.Plane.through` spans the plane
through three points (by default the origin and the first two memories), and every analysis
evaluates the full ``N_V``-dimensional quantity at the points of that plane.

- :func:`energy_landscape`: the adiabatic energy ``E(v) = v·g(v) − L_V(v) − L_H(xi g(v))`` (eq 8).
- :func:`density_landscape`: ``log p_H(x) = lse_μ(β xi_μ·x) − log Z`` (eqs 17–18) and
  ``G(xi x)`` (eq 13), whose zero level is the boundary of ``B0 = {p_H < δ}`` (Theorem 3).
- :func:`b0_boundary`: that boundary located exactly, by bisection along rays.
- :func:`vector_field`: ``dv/dt`` (eq 1 on the slow manifold ``h = xi g(v)``) for phase portraits.
- :func:`landscape_paths`: both simulators from the same starts, in plane coordinates.
- :func:`landscape_sweep`: energies and paths over a grid of (memory set, β, γ) for the explorer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..core.discrete import iterate
from ..core.lagrangians import Quadratic, RecLag
from ..core.network import MHN
from ..core.ode import integrate
from ..core.trajectory import Trajectory
from ..stats import sample_box
from .attractors import Attractors, MemoryFates, default_label_tol, memory_attractors, memory_fates, scale_of
from .continuation import vary_memory
from .geometry import Extent, Grid, Plane, check_plane, plane_grid

def _memory_coords(net: MHN, plane: Plane) -> tuple[torch.Tensor, torch.Tensor]:
    return plane.project(net.xi), plane.distance(net.xi)


# -- energy ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EnergyLandscape:
    """The adiabatic energy on a grid (eq 8; for RecLag with its Lagrangian, eq 11, as L_H)."""

    grid: Grid
    energy: torch.Tensor  # (n_t, n_s)
    memories: torch.Tensor  # (N_H, 2) plane coordinates of the memories
    memory_offset: torch.Tensor  # (N_H,) distance of each memory from the plane
    title: str  # the memory Lagrangian, e.g. "RecLag(beta=4.0, gamma=1000.0)"


def energy_landscape(
    net: MHN, plane: Plane | None = None, extent: Extent | None = None, n: int | tuple[int, int] = 101
) -> EnergyLandscape:
    """``E(v) = v·g(v) − L_V(v) − L_H(xi g(v))`` at the points of a grid on ``plane``."""
    grid = plane_grid(net, plane, extent, n)
    with torch.no_grad():
        energy = net.energy(grid.points)
    mem, off = _memory_coords(net, grid.plane)
    return EnergyLandscape(grid, energy, mem, off, repr(net.memory))


# -- density and B0 (Theorem 3) -------------------------------------------------------------------
@dataclass(frozen=True)
class DensityLandscape:
    """``log p_H`` (eqs 17–18) and ``G`` (eq 13) on a grid; ``B0 = {G < 0} = {p_H < δ}``."""

    grid: Grid
    log_density: torch.Tensor  # (n_t, n_s): log p_H(x) = lse_μ(β xi_μ·x) − log Z = G + log δ
    G: torch.Tensor  # (n_t, n_s): the network's gate value G(xi x) (eq 13); B0 is where G < 0
    log_Z: float
    log_delta: float  # log δ = log γ − log Z: p_H < δ exactly where G < 0
    normaliser: str  # how Z was computed (which region it normalises over)
    memories: torch.Tensor  # (N_H, 2)

    @property
    def in_b0(self) -> torch.Tensor:
        return self.G < 0


def _require_reclag(net: MHN) -> RecLag:
    if not isinstance(net.memory, RecLag):
        raise ValueError(f"the density p_H and B0 need a RecLag network (it has beta and gamma), got {net.memory!r}")
    if not isinstance(net.feature, Quadratic):
        raise ValueError(f"Theorem 3 assumes the Quadratic feature Lagrangian, got {net.feature!r}")
    return net.memory


def density_landscape(
    net: MHN,
    plane: Plane | None = None,
    extent: Extent | None = None,
    n: int | tuple[int, int] = 101,
    R: float | None = None,
) -> DensityLandscape:
    """The density ``p_H(x) = Σ_μ exp(β xi_μ·x) / Z`` (eqs 17–18) and ``G(xi x)`` on a grid.

    With ``R`` the normaliser is Theorem 3's ``Z = Σ_μ ∫_{‖x‖≤R} exp(β xi_μ·x) dx`` over the ball
    (closed form, :func:`hopdyn.analysis.theorems.log_ball_exp_integral`). Without it, ``Z`` is the integral
    over the plotted square (trapezoidal rule on the grid), so that ``p_H`` is the density of the
    picture itself; for
    ``N_V > 2`` that is the density restricted to the plane. ``normaliser`` says which.
    Either way ``p_H < δ = γ/Z`` exactly where ``G < 0`` (eqs 63–65).

    ``G`` is the network's own (:meth:`hopdyn.MHN.gate_value`), and the density is written
    through it: ``p_H(x) = (γ/Z)·exp(G(xi x))``, i.e. ``log p_H = G + log δ`` with
    ``log δ = log γ − log Z``. Nothing here needs ``γ`` itself, so a ``RecLag(β, log_gamma=...)``
    beyond float range works.
    """
    lag = _require_reclag(net)
    grid = plane_grid(net, plane, extent, n)
    with torch.no_grad():
        G = net.gate_value(grid.points)  # lse_μ(β xi_μ·x) − log γ, the one formula (eq 13)
    if R is not None:
        from .theorems import log_ball_exp_integral

        R = positive(R, "R")
        log_terms = log_ball_exp_integral(_np64(lag.beta * net.xi.norm(dim=-1)), net.n_features, R)
        log_Z = float(torch.logsumexp(torch.as_tensor(log_terms, dtype=torch.float64), 0))
        normaliser = f"Theorem 3: Z over the ball |x| <= {R:g} of R^{net.n_features} (closed form)"
    else:
        ws, wt = _trapezoid_weights(grid.s), _trapezoid_weights(grid.t)
        log_w = torch.log(wt[:, None] * ws[None, :])
        # Z = Σ w·exp(lse) = γ·Σ w·exp(G): summed in log space from G, then log γ added back
        log_Z = float(torch.logsumexp((G + log_w).reshape(-1), 0)) + lag.log_gamma
        where = (
            "the plotted square" if net.n_features == 2 else "the plotted square of the plane (a density on the plane)"
        )
        normaliser = f"Z over {where}, trapezoidal rule on the grid"
    mem, _ = _memory_coords(net, grid.plane)
    log_delta = lag.log_gamma - log_Z
    return DensityLandscape(
        grid=grid,
        log_density=G + log_delta,
        G=G,
        log_Z=log_Z,
        log_delta=log_delta,
        normaliser=normaliser,
        memories=mem,
    )


def _np64(x: torch.Tensor):
    return x.detach().cpu().double().numpy()


def _trapezoid_weights(x: torch.Tensor) -> torch.Tensor:
    h = x[1:] - x[:-1]
    w = torch.zeros_like(x)
    w[:-1] += h / 2
    w[1:] += h / 2
    return w


@dataclass(frozen=True)
class B0Boundary:
    """Points of ``∂B0 = {G(xi v) = 0}`` in a plane, one per ray from ``center``.

    ``bounded[k]`` is False where the ray stays inside B0 up to ``r_max`` (then ``coords[k]`` is
    the point at ``r_max``): B0 is unbounded in directions where every ``xi_μ·d ≤ 0``."""

    coords: torch.Tensor  # (K, 2) plane coordinates
    points: torch.Tensor  # (K, N_V)
    radius: torch.Tensor  # (K,) distance from center
    bounded: torch.Tensor  # (K,) bool
    center: torch.Tensor  # (2,)


def b0_boundary(
    net: MHN,
    plane: Plane | None = None,
    n_angles: int = 360,
    center: ArrayLike | None = None,
    r_max: float | None = None,
    iters: int = 80,
) -> B0Boundary:
    """Locate ``∂B0`` in a plane by bisection along ``n_angles`` rays from ``center``.

    Any gated network works: B0 is where its :meth:`hopdyn.MHN.gate_value` ``G`` is < 0. For
    RecLag, ``G(xi v)`` (eq 13) is convex along every line (Quadratic ``L_V``) and ``G < 0`` at
    the centre, so each ray crosses ``G = 0`` at most once: bisection on the sign of ``G`` finds
    it to ``r_max · 2^-iters``. (For a gate that is not convex along rays it finds a crossing, not
    necessarily the first.) The centre defaults to the origin's projection (the origin itself for
    planes through it), and must lie in B0 (for ``γ ≤ N_H`` B0 does not contain the origin).
    """
    if not net.has_gate:
        raise ValueError(f"B0 needs a gated network (e.g. RecLag), got memory={net.memory!r}")
    if not isinstance(net.feature, Quadratic):
        raise ValueError(f"B0's geometry (Theorem 3) assumes the Quadratic feature Lagrangian, got {net.feature!r}")
    plane = check_plane(net, plane)
    n_angles = positive_int(n_angles, "n_angles", minimum=3)
    iters = positive_int(iters, "iters")
    xi = net.xi
    c = (
        plane.project(torch.zeros_like(xi[0]))
        if center is None
        else as_tensor(center, "center", like=xi, last_dim=2).to(xi)
    )
    G = net.gate_value
    if float(G(plane.embed(c))) >= 0:
        raise ValueError(
            f"center {c.tolist()} is not in B0 (G >= 0 there); with gamma <= N_H = {net.n_memories} B0 does not "
            "contain the origin, so pass a center inside B0"
        )
    if r_max is None:
        r_max = 4.0 * (float(plane.project(xi).sub(c).norm(dim=-1).max()) + 1.0)
    r_max = positive(r_max, "r_max")
    theta = torch.arange(n_angles, dtype=xi.dtype, device=xi.device) * (2 * math.pi / n_angles)
    d = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)  # (K, 2)
    ray = lambda r: plane.embed(c + r[:, None] * d)  # noqa: E731
    with torch.no_grad():
        bounded = G(ray(torch.full_like(theta, r_max))) >= 0
        lo, hi = torch.zeros_like(theta), torch.full_like(theta, r_max)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            inside = G(ray(mid)) < 0
            lo, hi = torch.where(inside, mid, lo), torch.where(inside, hi, mid)
        r = torch.where(bounded, 0.5 * (lo + hi), hi)
    coords = c + r[:, None] * d
    return B0Boundary(coords, plane.embed(coords), r, bounded, c)


# -- vector field and trajectories -----------------------------------------------------------------
@dataclass(frozen=True)
class VectorField:
    """``dv/dt`` projected on the plane, for stream lines (eq 1 on the slow manifold)."""

    grid: Grid
    ds: torch.Tensor  # (n_t, n_s) component along plane.basis[0]
    dt: torch.Tensor  # (n_t, n_s) component along plane.basis[1]
    speed: torch.Tensor  # (n_t, n_s) full norm of dv/dt in R^{N_V}


def vector_field(
    net: MHN, plane: Plane | None = None, extent: Extent | None = None, n: int | tuple[int, int] = 41
) -> VectorField:
    """``τ_V dv/dt = xiᵀ f(xi g(v)) − v`` (eq 1 with ``h = xi g(v)``, the adiabatic limit) on a grid.

    RecLag's field jumps on ``G = 0``; stream lines show that as a kink. The network's own
    :meth:`hopdyn.MHN.velocity` (its ``τ_V``, feature Lagrangian; for a two-variable network
    the ``dv/dt`` on the slow manifold)."""
    grid = plane_grid(net, plane, extent, n)
    with torch.no_grad():
        vel = net.velocity(grid.points)
        vel = vel if net.adiabatic else vel[0]
    comp = vel @ grid.plane.basis.to(vel).T
    return VectorField(grid, comp[..., 0], comp[..., 1], vel.norm(dim=-1))


@dataclass(frozen=True)
class LandscapePaths:
    """Both simulators from the same starts: the discrete map (eq 12) and the ODE (eqs 1–2)."""

    plane: Plane
    iterate: Trajectory  # v (K+1, B, N_V)
    integrate: Trajectory  # v (T, B, N_V)
    iterate_coords: torch.Tensor  # (K+1, B, 2)
    integrate_coords: torch.Tensor  # (T, B, 2)
    iterate_labels: torch.Tensor  # (B,) index into `known` of where each start ends, -1: none
    integrate_labels: torch.Tensor  # (B,)
    attractors: torch.Tensor  # (A, 2) plane coordinates of the known attractors
    known: Attractors  # the network's known attractors (ids: kinds, memory indices; names)

    @property
    def attractor_names(self) -> list[str]:
        return self.known.names

    @property
    def iterate_ends(self) -> list[str]:
        """Display names of where each start ends ("origin", "memory 3", "other")."""
        return _names(self.known, self.iterate_labels)

    @property
    def integrate_ends(self) -> list[str]:
        return _names(self.known, self.integrate_labels)


def _names(known: Attractors, labels: torch.Tensor) -> list[str]:
    return [known.names[i] if i >= 0 else "other" for i in labels.tolist()]


def landscape_paths(
    net: MHN,
    v0: ArrayLike,
    plane: Plane | None = None,
    steps: int = 60,
    t_max: float = 12.0,
    n_times: int = 121,
) -> LandscapePaths:
    """Run :func:`hopdyn.iterate` for ``steps`` steps and :func:`hopdyn.integrate` to ``t_max``
    from ``v0`` ``(B, N_V)`` and label where each ends among the known attractors
    (:func:`hopdyn.analysis.attractors.memory_attractors`)."""
    v0 = net.check_v(v0, "v0").reshape(-1, net.n_features)
    plane = check_plane(net, plane)
    t_max = positive(t_max, "t_max")
    it = iterate(net, v0, steps=positive_int(steps, "steps"))
    ode = integrate(net, v0, torch.linspace(0, t_max, positive_int(n_times, "n_times", minimum=2), dtype=v0.dtype))
    att = memory_attractors(net)
    tol = default_label_tol(scale_of(net))
    return LandscapePaths(
        plane=plane,
        iterate=it,
        integrate=ode,
        iterate_coords=plane.project(it.v),
        integrate_coords=plane.project(ode.v),
        iterate_labels=att.index(it.final, tol),
        integrate_labels=att.index(ode.final, tol),
        attractors=plane.project(att.points.to(v0)),
        known=att,
    )


# -- parameter sweeps (the explorer's data) --------------------------------------------------------
@dataclass(frozen=True)
class SweepCell:
    """One (memory set, β, γ) cell: the energy grid and where the discrete map takes the starts."""

    energy: torch.Tensor  # (n, n)
    paths: torch.Tensor  # (K+1, B, 2) discrete-map paths in the plane
    path_energy: torch.Tensor  # (K+1, B) energy along them
    end_labels: torch.Tensor  # (B,) index into `known` of where each start ends, -1: none
    known: Attractors  # the known attractors (ids: kinds, memory indices; names)
    b0_fraction: float | None  # fraction of the grid in B0 (RecLag only)
    fates: MemoryFates | None = None  # which memories the gate swallows (RecLag only)

    @property
    def attractors(self) -> torch.Tensor:
        """``(A, 2)`` where the known attractors sit (the plane is the space itself)."""
        return self.known.points

    @property
    def attractor_names(self) -> list[str]:
        return self.known.names

    @property
    def ends(self) -> list[str]:
        """Display names of where each start ends."""
        return _names(self.known, self.end_labels)


@dataclass(frozen=True)
class LandscapeSweep:
    """Energies and paths over memory sets × β × γ (γ = None is the vanilla MHN)."""

    set_names: list[str]
    grids: list[Grid]  # one per memory set
    memories: list[torch.Tensor]  # (N_H, 2) per memory set
    starts: list[torch.Tensor]  # (B, 2) per memory set
    betas: list[float]
    gammas: list[float | None]
    cells: dict[tuple[int, int, int], SweepCell]  # (set index, beta index, gamma index)


def landscape_sweep(
    memory_sets: dict[str, ArrayLike | MHN],
    betas: list[float],
    gammas: list[float | None],
    n: int = 45,
    n_starts: int = 10,
    steps: int = 30,
    seed: int = 0,
) -> LandscapeSweep:
    """Energy landscapes and discrete-map paths for every memory set (2-D, ``(N_H, 2)``), β and
    γ; ``γ = None`` stands for the vanilla MHN (LogSumExp). Starts are drawn uniformly (seeded)
    in the middle 80 % of each set's square.

    A memory set may be an :class:`MHN` with ``N_V = 2``: the sweep then varies only β and γ of
    that network (:func:`vary_memory` on its memory Lagrangian, ``net.replace``), so its feature
    Lagrangian, time constants and kind of memory (smoothed RecLag, masses) are kept. An array
    stands for ``MHN(xi)`` with the defaults."""
    if not memory_sets:
        raise ValueError("memory_sets is empty; expected at least one (N_H, 2) array")
    if not betas or not gammas:
        raise ValueError("betas and gammas must each hold at least one value")
    betas = [positive(b, "betas") for b in betas]
    gammas = [None if g is None else positive(g, "gammas") for g in gammas]
    gen = torch.Generator().manual_seed(seed)
    names, grids, mems, starts, cells = [], [], [], [], {}
    for si, (name, xi) in enumerate(memory_sets.items()):
        if isinstance(xi, MHN):
            if xi.n_features != 2:
                raise ValueError(f"memory_sets[{name!r}] must be a planar network (N_V = 2), got N_V = {xi.n_features}")
            base = xi.replace(xi=xi.xi.double())
        else:
            base = MHN(as_tensor(xi, f"memory_sets[{name!r}]", min_dim=2, last_dim=2).double())
        xi = base.xi
        grid = plane_grid(base, None, None, n)
        s1 = grid.extent[1]
        v0 = sample_box(positive_int(n_starts, "n_starts"), 2, 0.8 * s1, generator=gen, dtype=xi.dtype)
        names.append(name)
        grids.append(grid)
        mems.append(xi)
        starts.append(v0)
        for bi, beta in enumerate(betas):
            for gi, gamma in enumerate(gammas):
                net = base.replace(memory=vary_memory(base.memory, beta, gamma))
                with torch.no_grad():
                    energy = net.energy(grid.points)
                it = iterate(net, v0, steps=steps)
                att = memory_attractors(net)
                frac = fates = None
                if net.has_gate:
                    frac = float((net.gate_value(grid.points) < 0).double().mean())
                    fates = memory_fates(net, warn=False)
                cells[si, bi, gi] = SweepCell(
                    energy, it.v, it.energy, att.index(it.final, default_label_tol(scale_of(net))), att, frac, fates
                )
    return LandscapeSweep(names, grids, mems, starts, betas, gammas, cells)
