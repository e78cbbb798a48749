"""Energy landscapes drawn with matplotlib: the RecLag paper's Figs 1 and 2 and phase portraits.

Every function takes the data an analysis of :mod:`hopdyn.analysis.landscape` returned and draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.attractors import Attractors
from ..analysis.basins import BasinMap
from ..analysis.landscape import B0Boundary, DensityLandscape, EnergyLandscape, LandscapePaths, VectorField
from ..analysis.theorems import Theorem1Report, Theorem2Report

MEMORY_STYLE = dict(marker="o", s=46, c="red", edgecolors="white", linewidths=0.8, zorder=5)
STAR_STYLE = dict(marker="*", s=320, c="gold", edgecolors="black", linewidths=0.8, zorder=6)
DIAMOND_STYLE = dict(marker="D", c="white", edgecolors="black", linewidths=0.8)
PATH_COLOURS = plt.get_cmap("tab10").colors
ORIGIN_BASIN = "#d9d9d9"


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy()


def _image(ax: Axes, grid, values: np.ndarray, cmap: str, label: str):
    im = ax.imshow(values, origin="lower", extent=grid.extent, cmap=cmap, aspect="equal", interpolation="bilinear")
    im.set_rasterized(True)  # keeps the PDF small
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label=label)
    ax.set_xlabel("$s$" if grid.plane.origin.shape[0] > 2 else "$v_1$")
    ax.set_ylabel("$t$" if grid.plane.origin.shape[0] > 2 else "$v_2$")
    return im


def _memories(ax: Axes, coords, label: str | None = "memories $\\xi_\\mu$") -> None:
    c = _np(coords)
    ax.scatter(c[:, 0], c[:, 1], label=label, **MEMORY_STYLE)


def draw_energy(ax: Axes, land: EnergyLandscape, *, star: Sequence[float] | None = None, title: str = "") -> None:
    """The energy as an image with contour lines, memories as red points and, if given, the
    origin attractor as a star."""
    grid = land.grid
    e = _np(land.energy)
    _image(ax, grid, e, "viridis", "energy $E(v)$")
    levels = np.quantile(e, np.linspace(0.04, 0.96, 14))
    ax.contour(
        _np(grid.s),
        _np(grid.t),
        e,
        levels=np.unique(levels),
        colors="white",
        linewidths=0.4,
        alpha=0.6,
        linestyles="solid",
    )
    _memories(ax, land.memories)
    if star is not None:
        ax.scatter([star[0]], [star[1]], label="origin attractor (Thm 1)", **STAR_STYLE)
    ax.set_title(title or land.title, fontsize=10)


def draw_density(ax: Axes, dens: DensityLandscape, boundary: B0Boundary, *, title: str = "") -> None:
    """``log p_H`` as an image, the boundary of B0 in white, memories as red points."""
    _image(ax, dens.grid, _np(dens.log_density), "magma", "$\\log p_H(x)$")
    b = _np(boundary.coords)
    b = np.vstack([b, b[:1]])
    ax.plot(b[:, 0], b[:, 1], color="white", lw=2.0, label="boundary of $B_0$ ($p_H=\\delta$)")
    _memories(ax, dens.memories)
    lo, hi, lo2, hi2 = dens.grid.extent
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo2, hi2)
    ax.set_title(title or "density $p_H$ (eq 17)", fontsize=10)


def fig2_landscapes(
    vanilla: EnergyLandscape,
    reclag: EnergyLandscape,
    density: DensityLandscape,
    boundary: B0Boundary,
    origin: Sequence[float] = (0.0, 0.0),
) -> Figure:
    """The RecLag paper's Fig 2 (b)–(d): vanilla energy, RecLag energy with the origin attractor
    (star), and the density p_H with the boundary of B0 in white."""
    fig, axes = plt.subplots(1, 3, figsize=(15.5, 4.6), constrained_layout=True)
    draw_energy(axes[0], vanilla, title=f"(b) vanilla MHN: {vanilla.title}")
    draw_energy(axes[1], reclag, star=origin, title=f"(c) RecLag MHN: {reclag.title}")
    draw_density(axes[2], density, boundary, title="(d) density $p_H$ with the boundary of $B_0$ (white)")
    axes[1].legend(loc="lower left", fontsize=8, framealpha=0.85)
    axes[2].legend(loc="lower left", fontsize=8, framealpha=0.85)
    return fig


def fig1_surfaces(
    lands: Sequence[EnergyLandscape],
    paths: Sequence[LandscapePaths],
    titles: Sequence[str],
    n_diamonds: int = 14,
) -> Figure:
    """The RecLag paper's Fig 1: 3-D energy surfaces side by side, each with the ODE trajectory
    of one test point drawn as white diamonds (large at the start), memories in red and, where
    the origin is an attractor, a star."""
    fig = plt.figure(figsize=(13, 5.8))
    for k, (land, path, title) in enumerate(zip(lands, paths, titles)):
        ax = fig.add_subplot(1, len(lands), k + 1, projection="3d", computed_zorder=False)
        s, t = np.meshgrid(_np(land.grid.s), _np(land.grid.t))
        e = _np(land.energy)
        surf = ax.plot_surface(
            s, t, e, cmap="viridis", rstride=1, cstride=1, linewidth=0, antialiased=False, alpha=0.92, zorder=1
        )
        surf.set_rasterized(True)
        xy = _np(path.integrate_coords[:, 0])
        z = _np(path.integrate.energy[:, 0])
        idx = np.unique(np.round(np.geomspace(1, len(xy), n_diamonds)).astype(int) - 1)
        lift = 0.02 * (e.max() - e.min())  # a little above the surface so it is not hidden
        ax.plot(xy[:, 0], xy[:, 1], z + lift, color="white", lw=1.2, zorder=9)
        ax.scatter(xy[idx, 0], xy[idx, 1], z[idx] + lift, s=26, zorder=10, **DIAMOND_STYLE)
        ax.scatter([xy[0, 0]], [xy[0, 1]], [z[0] + lift], s=110, zorder=11, label="test point (start)", **DIAMOND_STYLE)
        mem = _np(land.memories)
        o = path.known.origin
        if o >= 0:
            p = _np(path.attractors)[o]
            zz = float(_interp(land, p)) + lift
            ax.scatter(
                [p[0]], [p[1]], [zz], marker="*", s=200, c="gold", edgecolors="black", zorder=8, label="origin attractor"
            )
        ax.scatter(
            mem[:, 0],
            mem[:, 1],
            [float(_interp(land, m)) + lift for m in mem],
            marker="o",
            s=30,
            c="red",
            zorder=12,
            label="memories",
        )
        ax.set_title(f"{title}\nends at: {path.integrate_ends[0]}", fontsize=10)
        ax.set_xlabel("$v_1$")
        ax.set_ylabel("$v_2$")
        ax.set_zlabel("$E(v)$")
        ax.view_init(elev=38, azim=-62)
        ax.legend(loc="upper left", fontsize=8)
    fig.subplots_adjust(left=0.0, right=0.98, bottom=0.02, top=0.9, wspace=0.05)
    return fig


def _interp(land: EnergyLandscape, p: np.ndarray) -> float:
    """Energy at a point of the plane, bilinear from the grid (for placing markers only)."""
    s, t, e = _np(land.grid.s), _np(land.grid.t), _np(land.energy)
    i = np.clip(np.searchsorted(s, p[0]) - 1, 0, len(s) - 2)
    j = np.clip(np.searchsorted(t, p[1]) - 1, 0, len(t) - 2)
    a = (p[0] - s[i]) / (s[i + 1] - s[i])
    b = (p[1] - t[j]) / (t[j + 1] - t[j])
    return (1 - a) * (1 - b) * e[j, i] + a * (1 - b) * e[j, i + 1] + (1 - a) * b * e[j + 1, i] + a * b * e[j + 1, i + 1]


def draw_phase_portrait(
    ax: Axes,
    field: VectorField,
    land: EnergyLandscape,
    paths: LandscapePaths,
    boundary: B0Boundary | None = None,
    title: str = "",
) -> None:
    """Stream lines of the vector field over faint energy contours, the ODE trajectories as solid
    lines and the discrete map's iterates as dotted lines with dots; start points as diamonds."""
    grid = field.grid
    ax.contourf(_np(land.grid.s), _np(land.grid.t), _np(land.energy), levels=24, cmap="Greys_r", alpha=0.45)
    ax.streamplot(
        _np(grid.s), _np(grid.t), _np(field.ds), _np(field.dt), color="0.35", density=1.3, linewidth=0.6, arrowsize=0.8
    )
    if boundary is not None:
        b = _np(boundary.coords)
        b = np.vstack([b, b[:1]])
        ax.plot(b[:, 0], b[:, 1], color="tab:orange", lw=1.8, label="boundary of $B_0$")
    draw_paths(ax, paths)
    _memories(ax, land.memories)
    if paths.known.origin >= 0:
        o = _np(paths.attractors)[paths.known.origin]
        ax.scatter([o[0]], [o[1]], label="origin attractor", **STAR_STYLE)
    ax.set_xlim(*grid.extent[:2])
    ax.set_ylim(*grid.extent[2:])
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left", fontsize=7, framealpha=0.85)


def draw_paths(ax: Axes, paths: LandscapePaths) -> None:
    """Trajectories in the plane: the ODE solid, the discrete map's iterates dotted with dots,
    each start a diamond; one colour per start."""
    ode, it = _np(paths.integrate_coords), _np(paths.iterate_coords)
    for b in range(ode.shape[1]):
        c = PATH_COLOURS[b % len(PATH_COLOURS)]
        ax.plot(ode[:, b, 0], ode[:, b, 1], color=c, lw=1.8, label="ODE (integrate)" if b == 0 else None)
        ax.plot(
            it[:, b, 0],
            it[:, b, 1],
            color=c,
            lw=0.9,
            ls=":",
            marker=".",
            ms=5,
            label="discrete map (iterate)" if b == 0 else None,
        )
        ax.scatter(
            [ode[0, b, 0]], [ode[0, b, 1]], s=50, zorder=7, color=c, marker="D", edgecolors="black", linewidths=0.6
        )


def draw_energy_along(ax: Axes, paths: LandscapePaths, title: str = "") -> None:
    """Energy against time along each trajectory: ODE solid, discrete map dotted (step k at t = k·τ_V)."""
    for b in range(paths.integrate.v.shape[1]):
        c = PATH_COLOURS[b % len(PATH_COLOURS)]
        ax.plot(_np(paths.integrate.t), _np(paths.integrate.energy[:, b]), color=c, lw=1.6)
        ax.plot(_np(paths.iterate.t), _np(paths.iterate.energy[:, b]), color=c, lw=0.9, ls=":", marker=".", ms=4)
    ax.set_xlim(0, float(paths.integrate.t[-1]))
    ax.set_xlabel("time $t/\\tau_V$ (discrete map: step $k$)")
    ax.set_ylabel("energy $E(v(t))$")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def phase_portraits(
    fields: Sequence[VectorField],
    lands: Sequence[EnergyLandscape],
    paths: Sequence[LandscapePaths],
    boundaries: Sequence[B0Boundary | None],
    titles: Sequence[str],
) -> Figure:
    """Phase portraits side by side (top) with the energy along the trajectories (bottom)."""
    n = len(fields)
    fig, axes = plt.subplots(
        2, n, figsize=(6.2 * n, 9.6), gridspec_kw=dict(height_ratios=[2.3, 1]), constrained_layout=True, squeeze=False
    )
    for k in range(n):
        draw_phase_portrait(axes[0, k], fields[k], lands[k], paths[k], boundaries[k], titles[k])
        draw_energy_along(axes[1, k], paths[k], "energy along the trajectories (never increases)")
    return fig


# -- basins and theorems ----------------------------------------------------------------------------
def _closed(b: B0Boundary) -> np.ndarray:
    c = _np(b.coords)
    return np.vstack([c, c[:1]])


def basin_colour(kind: str, memory: int = -1) -> str:
    """One colour per attractor, the same in every panel: the origin grey, memory k tab10's k-th
    colour, any other attractor tab10's last."""
    if kind == "origin":
        return ORIGIN_BASIN
    k = memory if kind == "memory" else 9
    return matplotlib.colors.to_hex(PATH_COLOURS[k % len(PATH_COLOURS)])


def basin_colours(att: Attractors) -> list[str]:
    """:func:`basin_colour` of each attractor of ``att``, by its kind and memory index."""
    return [basin_colour(k, m) for k, m in zip(att.kinds, att.memory.tolist())]


def draw_basin_map(
    ax: Axes, bmap: BasinMap, boundary: np.ndarray, title: str = "", b0: B0Boundary | None = None
) -> None:
    """Basins coloured by attractor (white: not converged), basin boundaries in black, the
    memories in red, the origin attractor as a star and, if given, the boundary of B0 (the set
    sent to 0 in one step) dashed; the legend gives each basin's share of the square."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels = _np(bmap.labels)
    basin = basin_colours(bmap.attractors)
    colours = ["white"] + basin
    ext = bmap.grid.extent
    im = ax.imshow(
        labels + 1,
        origin="lower",
        extent=ext,
        cmap=ListedColormap(colours),
        vmin=-0.5,
        vmax=len(colours) - 0.5,
        interpolation="nearest",
    )
    im.set_rasterized(True)
    edge = np.ma.masked_where(~np.asarray(boundary, dtype=bool), np.ones_like(labels, dtype=float))
    ax.imshow(edge, origin="lower", extent=ext, cmap=ListedColormap(["black"]), interpolation="nearest").set_rasterized(
        True
    )
    handles = [
        Patch(facecolor=c, edgecolor="0.3", label=f"{n}: {100 * f:.1f} %")
        for c, n, f in zip(basin, bmap.names, bmap.shares.tolist())
    ]
    if bmap.unconverged > 0:
        handles.append(Patch(facecolor="white", edgecolor="0.3", label=f"not converged: {100 * bmap.unconverged:.1f} %"))
    if b0 is not None:
        c = _closed(b0)
        ax.plot(c[:, 0], c[:, 1], color="black", ls="--", lw=1.2)
        handles.append(Line2D([], [], color="black", ls="--", lw=1.2, label="boundary of $B_0$"))
    _memories(ax, bmap.memories_2d, label=None)
    if bmap.attractors.origin >= 0:
        o = _np(bmap.points_2d)[bmap.attractors.origin]
        ax.scatter([o[0]], [o[1]], **STAR_STYLE)
    ax.legend(
        handles=handles,
        loc="lower left",
        fontsize=7,
        framealpha=0.9,
        title="basin: share of the square",
        title_fontsize=7,
    )
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    ax.set_xlabel("$v_1$")
    ax.set_ylabel("$v_2$")
    ax.set_title(title, fontsize=10)


def basin_maps(
    maps: Sequence[BasinMap],
    boundaries: Sequence[np.ndarray],
    titles: Sequence[str],
    b0s: Sequence[B0Boundary | None] | None = None,
) -> Figure:
    """Basin maps side by side (``boundaries``: boolean masks of boundary cells per map)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(5.2 * len(maps), 5.3), constrained_layout=True, squeeze=False)
    for k, (ax, m, b, t) in enumerate(zip(axes[0], maps, boundaries, titles)):
        draw_basin_map(ax, m, b, t, None if b0s is None else b0s[k])
    return fig


def theorem1_radii(land: EnergyLandscape, report: Theorem1Report, boundary: B0Boundary) -> Figure:
    """Theorem 1's three radii around the origin over the RecLag energy: the paper's ε (eq 39),
    the Cauchy–Schwarz radius ε_CS and the exact radius r*, which touches the boundary of B0."""
    fig, ax = plt.subplots(figsize=(7.2, 6.2), constrained_layout=True)
    _image(ax, land.grid, _np(land.energy), "viridis", "energy $E(v)$")
    b = _closed(boundary)
    ax.plot(b[:, 0], b[:, 1], color="white", lw=2.2, label="boundary of $B_0$ ($G = 0$)")
    theta = np.linspace(0, 2 * np.pi, 400)
    for r, style, name in (
        (report.eps_paper, ":", "$\\varepsilon$ (paper, eq 39)"),
        (report.eps_cs, "--", "$\\varepsilon_{CS}$ (Cauchy-Schwarz)"),
        (report.r_star, "-", "$r^*$ (exact)"),
    ):
        ax.plot(r * np.cos(theta), r * np.sin(theta), color="orangered", ls=style, lw=1.8, label=f"{name} = {r:.3f}")
    p = _np(report.r_star_point)
    ax.scatter(
        [p[0]],
        [p[1]],
        marker="x",
        s=70,
        c="orangered",
        linewidths=2,
        zorder=7,
        label="where $r^*$ meets $B_0$'s boundary",
    )
    ax.scatter([0], [0], **STAR_STYLE)
    _memories(ax, land.memories, label=None)
    lo, hi, lo2, hi2 = land.grid.extent
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo2, hi2)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(
        f"Theorem 1: every $\\|v\\| < r$ is sent to 0 in one step\n{land.title}, "
        f"$N_H$ = {report.n_memories}, $N_V$ = {report.n_features}",
        fontsize=10,
    )
    return fig


def theorem2_sweep(reports: Sequence[Theorem2Report], labels: Sequence[str]) -> Figure:
    """Theorem 2: the largest distance between the RecLag and the vanilla trajectory against
    γ/γ* (each start has its own γ*): exactly 0 below 1, positive above."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4), constrained_layout=True)
    markers = ("o", "s", "^", "v", "D")
    for k, (rep, lab) in enumerate(zip(reports, labels)):
        # open markers of decreasing size and dashes, so that curves lying on top of each other stay visible
        ax.plot(
            _np(rep.ratios),
            _np(rep.sup_distance),
            marker=markers[k % len(markers)],
            ms=9 - 2 * (k % 3),
            mfc="none",
            lw=2.2 - 0.6 * (k % 3),
            ls=("-", "--", ":")[k % 3],
            color=PATH_COLOURS[k % len(PATH_COLOURS)],
            label=f"{lab}: $\\gamma^*$ = {rep.gamma_star:.4g}",
        )
    ax.axvline(1.0, color="0.3", ls="--", lw=1, label="$\\gamma = \\gamma^*$")
    ax.set_xscale("log")
    ax.set_xlabel("$\\gamma / \\gamma^*$")
    ax.set_ylabel("$\\max_k \\|v^{(k)}_{RecLag} - v^{(k)}_{vanilla}\\|$")
    ax.set_title("Theorem 2: RecLag follows the vanilla MHN exactly while $\\gamma < \\gamma^*$", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig
