"""The network figures, for any memories: one drawing path for the built-in planar network
(the recipes of :mod:`hopdyn.figures.paper` and :mod:`hopdyn.figures.theory`) and for a user's
own ``xi`` (``hopdyn figures --xi FILE``).

A :class:`FigureNetwork` is the memories, β, γ (None: the vanilla network only) and the plane to
look at. Each ``*_figure`` function runs the analyses of :mod:`hopdyn.analysis` on its networks
and hands the data to a drawing function of :mod:`hopdyn.plots.landscape`;
:func:`network_figures` lists the whole set as :class:`~hopdyn.figures.FigureSpec` recipes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..analysis import landscape as land
from ..analysis.basins import basin_map, boundary_cells
from ..analysis.continuation import continuation
from ..analysis.geometry import Extent, Plane, check_plane, default_extent
from ..analysis.theorems import check_theorem1
from ..core.lagrangians import LogSumExp, RecLag
from ..core.network import MHN
from ..stats import sample_box
from . import FigureSpec, save

#: PNG resolution of the figures (keeps folders small; the PDFs are vector graphics).
DPI = 100


@dataclass(frozen=True)
class FigureNetwork:
    """What the network figures show: memories ``xi`` ``(N_H, N_V)``, the vanilla network
    ``LogSumExp(β)`` and, unless ``gamma`` is None, ``RecLag(β, γ)``, seen on ``plane`` (default
    :func:`~hopdyn.analysis.geometry.default_plane`: the space itself for N_V = 2, else the plane
    through the origin and memories 0 and 1). ``name`` says where the memories come from."""

    xi: torch.Tensor
    beta: float
    gamma: float | None
    plane: Plane | None = None
    name: str = "xi"

    def __post_init__(self) -> None:
        xi = as_tensor(self.xi, "xi", min_dim=2).to(torch.float64)
        if xi.dim() != 2:
            raise ValueError(f"xi must be a matrix (N_H, N_V) of memories, got shape {tuple(xi.shape)}")
        if not bool(xi.any()):
            raise ValueError("xi is all zeros: an all-zero interaction matrix has no memories")
        object.__setattr__(self, "xi", xi)
        object.__setattr__(self, "beta", positive(self.beta, "beta"))
        if self.gamma is not None:
            object.__setattr__(self, "gamma", positive(self.gamma, "gamma"))
        object.__setattr__(self, "plane", check_plane(self.vanilla, self.plane))

    @property
    def vanilla(self) -> MHN:
        return MHN(self.xi, memory=LogSumExp(self.beta))

    @property
    def reclag(self) -> MHN | None:
        return None if self.gamma is None else MHN(self.xi, memory=RecLag(self.beta, self.gamma))

    @property
    def nets(self) -> list[MHN]:
        """The vanilla network, then RecLag when there is a γ."""
        return [self.vanilla] + ([] if self.gamma is None else [self.reclag])

    @property
    def titles(self) -> list[str]:
        return [f"vanilla MHN, LogSumExp(beta={self.beta:g})"] + (
            [] if self.gamma is None else [f"RecLag(beta={self.beta:g}, gamma={self.gamma:g})"]
        )

    @property
    def origin_attracts(self) -> bool:
        """Theorem 1's hypothesis γ > N_H: the origin is an attractor and B0 holds it."""
        return self.gamma is not None and self.gamma > self.xi.shape[0]

    @property
    def describe(self) -> str:
        n_h, n_v = self.xi.shape
        gamma = "vanilla only" if self.gamma is None else f"gamma = {self.gamma:g}"
        plane = "" if n_v == 2 else f", on the plane through {', '.join(self.plane.anchor_names)}"
        return f"{self.name} ({n_h} memories in {n_v}-D, beta = {self.beta:g}, {gamma}{plane})"

    def square_states(self, n: int, seed: int) -> torch.Tensor:
        """``n`` seeded states uniform in the square of the basin maps (1.5 × the largest projected
        memory or anchor) on the plane, ``(n, N_V)``."""
        half = default_extent(self.vanilla, self.plane, 1.5)[1]
        xy = sample_box(positive_int(n, "n"), 2, half, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        return self.plane.embed(xy)

    def starts(self, n: int, seed: int) -> torch.Tensor:
        """``n`` seeded starts uniform in the middle 80 % of the default square of the plane, ``(n, N_V)``."""
        half = default_extent(self.vanilla, self.plane, 1.35)[1]
        xy = sample_box(positive_int(n, "n"), 2, 0.8 * half, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        return self.plane.embed(xy)

    def b0(self, n_angles: int = 360) -> land.B0Boundary | None:
        """The boundary of B0 of the RecLag network in the plane (see :func:`b0_in_plane`)."""
        return None if self.gamma is None else b0_in_plane(self.reclag, self.plane, n_angles)

    @property
    def origin_2d(self) -> list[float]:
        """The origin's plane coordinates (its projection)."""
        return self.plane.project(torch.zeros(self.xi.shape[1], dtype=torch.float64)).tolist()


def b0_in_plane(net: MHN, plane: Plane, n_angles: int = 360) -> land.B0Boundary | None:
    """The boundary of B0 in ``plane`` when the plane's centre (the origin's projection) lies in
    B0, else None (no gate, or γ ≤ N_H)."""
    centre = plane.embed(plane.project(torch.zeros(net.n_features, dtype=plane.basis.dtype)))
    if not net.has_gate or float(net.gate_value(centre)) >= 0:
        return None
    return land.b0_boundary(net, plane, n_angles=n_angles)


# -- the figures ------------------------------------------------------------------------------------
def landscapes_figure(net: FigureNetwork, n: int = 161, R: float | None = None):
    """Fig 2 style: the vanilla energy, the RecLag energy (the origin attractor as a star when
    γ > N_H) and the density p_H (over Theorem 3's ball of radius ``R``, else over the plotted square)
    with the boundary of B0."""
    from ..plots.landscape import fig2_landscapes

    nets = net.nets
    lands = [land.energy_landscape(m, net.plane, n=n) for m in nets]
    if net.gamma is None:
        return fig2_landscapes(lands[0])
    origin = net.origin_2d if net.origin_attracts else None
    dens = land.density_landscape(nets[1], net.plane, n=n, R=R)
    return fig2_landscapes(lands[0], lands[1], dens, net.b0(720), origin=origin)


def surfaces_figure(net: FigureNetwork, start: ArrayLike | None = None, n: int = 71, seed: int = 3):
    """Fig 1 style: 3-D energy surfaces with the ODE trajectory of one test point (``start``,
    default a seeded point of the plane)."""
    from ..plots.landscape import fig1_surfaces

    v0 = net.starts(1, seed) if start is None else start
    lands = [land.energy_landscape(m, net.plane, n=n) for m in net.nets]
    paths = [land.landscape_paths(m, v0, net.plane, steps=40, t_max=10.0, n_times=101) for m in net.nets]
    return fig1_surfaces(lands, paths, net.titles)


def phase_figure(net: FigureNetwork, starts: ArrayLike | None = None, n_starts: int = 8, seed: int = 1,
                 n: int = 121):
    """Phase portraits: stream lines of dv/dt (on an ``n/3`` grid), trajectories of both simulators
    and the energy (on an ``n`` grid) along them."""
    from ..plots.landscape import phase_portraits

    v0 = net.starts(n_starts, seed) if starts is None else starts
    nets = net.nets
    lands = [land.energy_landscape(m, net.plane, n=n) for m in nets]
    fields = [land.vector_field(m, net.plane, n=max(n // 3, 2)) for m in nets]
    paths = [land.landscape_paths(m, v0, net.plane, steps=25, t_max=12.0, n_times=121) for m in nets]
    return phase_portraits(fields, lands, paths, [None] + [net.b0()] * (len(nets) - 1), net.titles)


def basins_figure(net: FigureNetwork, resolution: int = 240, extra: Sequence[tuple[MHN, str]] = ()):
    """Basin maps of the discrete map for the vanilla network, RecLag (B0 dashed) and the ``extra``
    networks (each with its title)."""
    from ..plots.landscape import basin_maps

    nets = [*net.nets, *(m for m, _ in extra)]
    maps = [basin_map(m, resolution, plane=net.plane, progress=False) for m in nets]
    b0s = [b0_in_plane(m, net.plane) for m in nets]
    return basin_maps(maps, [boundary_cells(m.labels) for m in maps], [*net.titles, *(t for _, t in extra)], b0s)


def radii_figure(net: FigureNetwork, extent: Extent | None = None, n: int = 161):
    """Theorem 1's radii ε, ε_CS and r* over the RecLag energy (needs γ > N_H), on ``extent``
    (default: a square around the boundary of B0)."""
    from ..plots.landscape import theorem1_radii

    if not net.origin_attracts:
        raise ValueError(f"Theorem 1 needs gamma > N_H = {net.xi.shape[0]}, got gamma = {net.gamma}")
    reclag, b0 = net.reclag, net.b0(720)
    report = check_theorem1(reclag)
    if extent is None:
        r = float(b0.radius[b0.bounded].max()) if bool(b0.bounded.any()) else 2.5 * report.r_star
        r = 1.2 * min(r, default_extent(reclag, net.plane, 1.35)[1])
        extent = (-r, r, -r, r)
    return theorem1_radii(land.energy_landscape(reclag, net.plane, extent=extent, n=n), report, b0)


def continuation_values(net: FigureNetwork, parameter: str, n: int = 13) -> torch.Tensor:
    """The default sweep: γ from N_H/2 to 100·max(γ, N_H), or β from β/8 to 8β, log-spaced."""
    if parameter == "gamma":
        n_h = net.xi.shape[0]
        lo, hi = n_h / 2, 100 * max(net.gamma or n_h, n_h)
    else:
        lo, hi = net.beta / 8, 8 * net.beta
    return torch.logspace(math.log10(lo), math.log10(hi), n, dtype=torch.float64)


def continuation_figure(net: FigureNetwork, parameter: str | None = None, values: ArrayLike | None = None,
                        n: int = 4000):
    """Basin fractions of every attractor along a sweep of γ (RecLag; default when there is a γ)
    or β (the vanilla network when γ is None, else RecLag at its γ), from ``n`` seeded states:
    uniform in the square of the basin maps on the plane (:meth:`FigureNetwork.square_states`), the
    same states at every value."""
    from ..plots.landscape import continuation_figure as draw

    parameter = parameter or ("beta" if net.gamma is None else "gamma")
    if parameter not in ("beta", "gamma"):
        raise ValueError(f"continuation: parameter must be 'beta' or 'gamma', got {parameter!r}")
    if parameter == "gamma" and net.gamma is None:
        raise ValueError("a continuation in gamma needs RecLag: give --gamma (not vanilla)")
    values = continuation_values(net, parameter) if values is None else values
    base = net.reclag if net.gamma is not None else net.vanilla
    cont = continuation(base, parameter, values, sampler=net.square_states(n, seed=0), progress=False)
    n_h, n_v = net.xi.shape
    fixed = f"gamma = {net.gamma:g}" if parameter == "beta" and net.gamma is not None else (
        "vanilla" if parameter == "beta" else f"beta = {net.beta:g}")
    return draw(cont, f"continuation in {parameter} ({fixed}): {net.name}, {n_h} memories in {n_v}-D")


# -- the set, for any network -----------------------------------------------------------------------
def network_figures(net: FigureNetwork, *, parameter: str | None = None, resolution: int = 200,
                    n_continuation: int = 4000) -> dict[str, FigureSpec]:
    """The figure set of ``net`` as recipes (name → :class:`~hopdyn.figures.FigureSpec`), in the
    order they are made; Theorem 1's radii only when γ > N_H, B0 and the density only with a γ."""
    d = net.describe
    parameter = parameter or ("beta" if net.gamma is None else "gamma")

    def recipe(name: str, caption: str, make) -> None:
        specs[name] = FigureSpec(name, caption, lambda out: save(make(), Path(out), name, dpi=DPI))

    specs: dict[str, FigureSpec] = {}
    recipe("landscapes", f"Energy landscapes (RecLag paper Fig 2 style) of {d}: the vanilla energy, the RecLag "
           "energy with the origin attractor (star, when gamma > N_H) and log p_H (eq 17, normalised over the "
           "plotted square of the plane) with the boundary of B0 in white; memories in red (projected onto the "
           "plane when N_V > 2).", lambda: landscapes_figure(net))
    recipe("landscapes_3d", f"3-D energy surfaces (RecLag paper Fig 1 style) of {d}, with the ODE trajectory of "
           "one seeded test point (white diamonds, large at the start) and where it ends.",
           lambda: surfaces_figure(net))
    recipe("phase_portraits", f"Phase portraits of {d}: stream lines of dv/dt projected on the plane, 8 seeded "
           "trajectories of both simulators (ODE solid, discrete map dotted) and the energy along them.",
           lambda: phase_figure(net))
    recipe("basin_maps", f"Basins of attraction of the discrete map (eq 12) on a {resolution} x {resolution} grid "
           f"of the plane, {d}: one colour per memory, the origin light grey, spurious attractors dark grey and "
           "hatched, boundaries black, B0 dashed; each basin's share of the square in the legend.",
           lambda: basins_figure(net, resolution))
    if net.origin_attracts:
        recipe("theorem1_radii", f"Theorem 1 on {d}: the paper's radius eps (eq 39, dotted), the Cauchy-Schwarz "
               "radius eps_CS (dashed) and the exact radius r* (solid) around the origin, over the RecLag energy, "
               "with the boundary of B0 (white).", lambda: radii_figure(net))
    recipe(f"continuation_{parameter}", f"Continuation in {parameter} of {d}: the basin fraction of every "
           f"attractor ({n_continuation} seeded states uniform in the square of the basin maps, the same at each value; 95 % Wilson bands), followed from value to "
           "value, and how many attractors of each kind exist.",
           lambda: continuation_figure(net, parameter, n=n_continuation))
    return specs
