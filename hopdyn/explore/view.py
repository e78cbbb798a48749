"""What the explorer shows, computed by hopdyn's analyses on the user's network.

:func:`compute_view` evaluates the layers a :class:`~hopdyn.explore.state.State` asks for, each
with the analysis that owns it, all on one grid (the same plane, square and resolution):

- energy: :func:`hopdyn.analysis.energy_landscape` (eq 8);
- density ``log p_H`` and the gate ``G``: :func:`hopdyn.analysis.density_landscape` (eqs 13, 17–18);
- basins: :func:`hopdyn.analysis.basin_map` (the map of eq 12 to convergence, float32 for speed),
  their boundaries :func:`hopdyn.analysis.boundary_cells`;
- the boundary of B0: :func:`hopdyn.analysis.b0_boundary` (bisection on ``G = 0`` along rays), or
  the zero level of ``G`` on the grid where B0 does not hold the centre;
- Theorem 1's ε, ε_CS and r*: :func:`hopdyn.analysis.check_theorem1`;
- fixed points and their stability: :func:`hopdyn.analysis.fixed_points`;
- memory fates: :func:`hopdyn.analysis.memory_fates`.

A layer that does not apply to the network (B0 of a vanilla network, the density with the Abs
feature Lagrangian) is left out with the analysis' own one-line reason in ``View.notes``. Results
are cached per network and grid (:class:`ViewCache`), so toggling a layer or starting a trajectory
recomputes nothing else. :func:`trajectories` runs both simulators from the user's clicks
(:func:`hopdyn.analysis.landscape_paths`).
"""
from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from .. import analysis as an
from ..analysis.geometry import Extent, Grid, Plane
from ..core.network import MHN
from ..core.trajectory import Trajectory
from .planes import view_plane
from .state import State, network

__all__ = ["View", "ViewCache", "compute_view", "trajectories", "view_data"]

#: Margin of the default square around the memories (that of :func:`hopdyn.analysis.basin_map`).
MARGIN = 1.5
#: Points tested in each of Theorem 1's balls (uniform, and by gradient ascent of G on the sphere).
THEOREM1_RANDOM, THEOREM1_ADVERSARIAL = 256, 16


@dataclass(frozen=True)
class View:
    """The layers of one view (``None`` where not asked for or not applicable, see ``notes``).

    ``memories_2d``/``memory_offset`` are the memories' plane coordinates and distances from the
    plane; ``timings`` the seconds each layer took (0 when it came from the cache)."""

    net: MHN
    plane: Plane
    grid: Grid
    memories_2d: torch.Tensor
    memory_offset: torch.Tensor
    energy: an.EnergyLandscape | None = None
    density: an.DensityLandscape | None = None
    basins: an.BasinMap | None = None
    boundaries: torch.Tensor | None = None
    b0: an.B0Boundary | None = None
    b0_level: torch.Tensor | None = None  # G on the grid, when the B0 boundary is its zero level
    theorem1: object | None = None  # Theorem1Report
    fixed: an.FixedPoints | None = None
    fates: an.MemoryFates | None = None
    notes: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def extent(self) -> Extent:
        return self.grid.extent


def _key(net: MHN) -> tuple:
    xi = net.xi.detach().to(torch.float64).contiguous()
    return (hashlib.sha1(xi.numpy().tobytes()).hexdigest(), tuple(xi.shape), repr(net.memory), repr(net.feature))


class ViewCache:
    """Least-recently-used results of the analyses, keyed by network, plane, square and size."""

    def __init__(self, size: int = 64):
        self.size = size
        self._store: OrderedDict = OrderedDict()

    def __contains__(self, key: tuple) -> bool:
        return key in self._store

    def get(self, key: tuple, compute: Callable[[], object]) -> tuple[object, float]:
        """The cached value for ``key`` (and 0 s) or ``compute()`` (and the seconds it took)."""
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key], 0.0
        t0 = time.perf_counter()
        value = compute()
        self._store[key] = value
        while len(self._store) > self.size:
            self._store.popitem(last=False)
        return value, time.perf_counter() - t0


class _Failed:
    """A layer whose analysis refused the network (cached too: it will refuse again)."""

    def __init__(self, why: str):
        self.why = why


def _attempt(compute: Callable[[], object]) -> Callable[[], object]:
    def run():
        try:
            return compute()
        except ValueError as exc:
            return _Failed(str(exc).strip().splitlines()[0])

    return run


def _b0(net: MHN, plane: Plane, grid: Grid):
    """Exact boundary by bisection from the origin's projection; where that centre is not in B0
    (γ ≤ N_H, or a plane away from 0) the zero level of G on the grid instead."""
    try:
        return an.b0_boundary(net, plane, n_angles=360)
    except ValueError as exc:
        if not net.has_gate:
            raise
        with torch.no_grad():
            return ("level", net.gate_value(grid.points), str(exc).splitlines()[0])


def compute_view(state: State, xi: torch.Tensor, cache: ViewCache | None = None) -> View:
    """The layers ``state`` asks for, on the network it builds from the memories ``xi``."""
    cache = ViewCache() if cache is None else cache
    net = network(state, xi)
    plane = view_plane(state, net)
    nk = _key(net)
    pk = (plane.origin.numpy().tobytes(), plane.basis.numpy().tobytes())
    extent = state.extent if state.extent is not None else an.default_extent(net, plane, MARGIN)
    grid = an.plane_grid(net, plane, extent, state.n, dtype=torch.float64)
    gk = (nk, pk, tuple(round(e, 12) for e in extent), state.n)
    layers = {state.background, *state.overlays}
    out: dict = {}
    notes: dict[str, str] = {}
    timings: dict[str, float] = {}

    def layer(name: str, key: tuple, compute: Callable[[], object]):
        value, seconds = cache.get((name, *key), _attempt(compute))
        timings[name] = seconds
        if isinstance(value, _Failed):
            notes[name] = value.why
            return None
        return value

    if "energy" in layers or "contours" in layers:
        out["energy"] = layer("energy", gk, lambda: an.energy_landscape(net, plane, extent, state.n))
    if "density" in layers:
        out["density"] = layer("density", gk, lambda: an.density_landscape(net, plane, extent, state.n))
    if "basins" in layers or "boundaries" in layers:
        bm = layer("basins", gk, lambda: an.basin_map(net, state.n, extent=extent, plane=plane,
                                                      dtype=torch.float32, progress=False))
        out["basins"] = bm
        out["boundaries"] = None if bm is None else an.boundary_cells(bm.labels)
    if "b0" in layers:
        b0 = layer("b0", gk, lambda: _b0(net, plane, grid))
        if isinstance(b0, tuple):
            out["b0_level"] = b0[1]
            notes["b0"] = f"drawn as the zero level of G on the grid ({b0[2]})"
        else:
            out["b0"] = b0
    if "theorem1" in layers:
        # the radii depend on the ray search only (n_directions, seed: the defaults); fewer test
        # points in the balls keep the verdict's evidence while the slider moves
        out["theorem1"] = layer("theorem1", (nk,), lambda: an.check_theorem1(net, n_random=THEOREM1_RANDOM,
                                                                              n_adversarial=THEOREM1_ADVERSARIAL))
    if "fixed_points" in layers:
        out["fixed"] = layer("fixed_points", (nk,), lambda: an.fixed_points(net))
    if "fates" in layers:
        out["fates"] = layer("fates", (nk,), lambda: an.memory_fates(net, warn=False))
    xi64 = net.xi.detach().to(torch.float64)
    return View(net, plane, grid, plane.project(xi64), plane.distance(xi64), notes=notes, timings=timings, **out)


def _one(traj: Trajectory, b: int) -> Trajectory:
    """Sample ``b`` of a batched trajectory, as a batch of one."""
    def cut(x, time_first):
        if x is None:
            return None
        return x[:, b:b + 1] if time_first else x[b:b + 1]

    return replace(traj, v=cut(traj.v, True), energy=cut(traj.energy, True), h=cut(traj.h, True),
                   converged=cut(traj.converged, False), n_steps=cut(traj.n_steps, False),
                   n_switches=cut(traj.n_switches, False), switch_times=cut(traj.switch_times, False))


def _split(paths: an.LandscapePaths) -> list[an.LandscapePaths]:
    return [replace(paths, iterate=_one(paths.iterate, b), integrate=_one(paths.integrate, b),
                    iterate_coords=paths.iterate_coords[:, b:b + 1], integrate_coords=paths.integrate_coords[:, b:b + 1],
                    iterate_labels=paths.iterate_labels[b:b + 1], integrate_labels=paths.integrate_labels[b:b + 1])
            for b in range(paths.iterate_labels.numel())]


def trajectories(view: View, starts, cache: ViewCache | None = None, steps: int = 20, t_max: float = 20.0,
                 n_times: int = 201) -> list[an.LandscapePaths]:
    """Both simulators (:func:`hopdyn.iterate`, :func:`hopdyn.integrate`) from each in-plane point
    of ``starts`` ``(B, 2)`` on the view's plane, with where each ends
    (:func:`hopdyn.analysis.landscape_paths`): one :class:`~hopdyn.analysis.LandscapePaths` (a
    batch of one) per start. Starts are cached one by one, and those not in the cache run as one
    batch (the ODE solver's steps cost the same for one start or a few)."""
    cache = ViewCache() if cache is None else cache
    key = (_key(view.net), view.plane.origin.numpy().tobytes(), view.plane.basis.numpy().tobytes(), steps, t_max, n_times)
    starts = [(float(x), float(y)) for x, y in starts]
    todo = [p for p in dict.fromkeys(starts) if ("path", *key, p) not in cache]
    if todo:
        v0 = view.plane.embed(torch.tensor(todo, dtype=torch.float64))
        batch = an.landscape_paths(view.net, v0, view.plane, steps=steps, t_max=t_max, n_times=n_times)
        for p, one in zip(todo, _split(batch)):
            cache.get(("path", *key, p), lambda one=one: one)
    return [cache.get(("path", *key, p), lambda: None)[0] for p in starts]


# -- the JSON export ------------------------------------------------------------------------------
def _list(x: torch.Tensor | None, digits: int = 6):
    if x is None:
        return None
    x = x.detach().to(torch.float64)
    return [_r(v, digits) for v in x.tolist()] if x.dim() <= 1 else [_list(row, digits) for row in x]


def _r(v: float, digits: int):
    return round(v, digits) if math.isfinite(v) else None


def view_data(state: State, view: View, paths: list[an.LandscapePaths] = ()) -> dict:
    """The view's numbers as plain JSON: the network, the plane, the grid and every layer shown."""
    net = view.net
    d: dict = {
        "network": {"memory": repr(net.memory), "feature": repr(net.feature), "n_memories": net.n_memories,
                    "n_features": net.n_features},
        "plane": {"origin": _list(view.plane.origin), "basis": _list(view.plane.basis),
                  "anchors": view.plane.anchor_names},
        "grid": {"s": _list(view.grid.s), "t": _list(view.grid.t), "shape": list(view.grid.shape)},
        "memories_2d": _list(view.memories_2d), "memory_offset": _list(view.memory_offset),
        "notes": view.notes,
    }
    if view.energy is not None:
        d["energy"] = _list(view.energy.energy)
    if view.density is not None:
        d["density"] = {"log_density": _list(view.density.log_density), "G": _list(view.density.G),
                        "log_delta": view.density.log_delta, "normaliser": view.density.normaliser}
    if view.basins is not None:
        d["basins"] = {"labels": view.basins.labels.tolist(), "attractors": view.basins.names,
                       "kinds": view.basins.attractors.kinds, "points_2d": _list(view.basins.points_2d),
                       "fractions": view.basins.fractions(), "dtype": "float32"}
    if view.b0 is not None:
        d["b0_boundary"] = {"coords": _list(view.b0.coords), "bounded": view.b0.bounded.tolist()}
    if view.theorem1 is not None:
        t = view.theorem1
        d["theorem1"] = {"eps_paper": _r(t.eps_paper, 12), "eps_cs": _r(t.eps_cs, 12), "r_star": _r(t.r_star, 12),
                         "holds": t.holds, "summary": t.summary}
    if view.fixed is not None:
        f = view.fixed
        d["fixed_points"] = {"names": f.names, "kind_map": f.kind_map, "kind_flow": f.kind_flow,
                             "coords": _list(view.plane.project(f.points)),
                             "off_plane": _list(view.plane.distance(f.points)), "note": f.note}
    if view.fates is not None:
        d["fates"] = {"survives": view.fates.survives.tolist(), "swallowed": view.fates.swallowed.tolist(),
                      "merged": view.fates.merged.tolist()}
    if paths:
        d["trajectories"] = [
            {"start": list(start),
             "iterate": {"t": _list(p.iterate.t), "coords": _list(p.iterate_coords[:, 0]),
                         "energy": _list(p.iterate.energy[:, 0]), "end": p.iterate_ends[0]},
             "integrate": {"t": _list(p.integrate.t), "coords": _list(p.integrate_coords[:, 0]),
                           "energy": _list(p.integrate.energy[:, 0]), "end": p.integrate_ends[0]}}
            for start, p in zip(state.starts, paths)
        ]
    return d
