"""Energy landscapes drawn with matplotlib: the RecLag paper's Figs 1 and 2 and phase portraits.

Every function takes the data an analysis of :mod:`hopdyn.analysis.landscape` returned and draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.basins import BasinMap
from ..analysis.continuation import Continuation
from ..analysis.landscape import B0Boundary, DensityLandscape, EnergyLandscape, LandscapePaths, VectorField
from ..analysis.theorems import Theorem1Report, Theorem2Report
from .palette import BOUNDARY, OTHER_HATCH, UNCONVERGED, attractor_colors, attractor_hatches, memory_colors

MEMORY_STYLE = dict(marker="o", s=46, c="red", edgecolors="white", linewidths=0.8, zorder=5)
STAR_STYLE = dict(marker="*", s=320, c="gold", edgecolors="black", linewidths=0.8, zorder=6)
DIAMOND_STYLE = dict(marker="D", c="white", edgecolors="black", linewidths=0.8)
PATH_COLOURS = plt.get_cmap("tab10").colors


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy()


def _image(ax: Axes, grid, values: np.ndarray, cmap: str, label: str):
    im = ax.imshow(values, origin="lower", extent=grid.extent, cmap=cmap, aspect="equal", interpolation="bilinear")
    im.set_rasterized(True)  # keeps the PDF small
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label=label)
    _plane_labels(ax, grid.plane.n_features)
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


def draw_density(ax: Axes, dens: DensityLandscape, boundary: B0Boundary | None, *, title: str = "") -> None:
    """``log p_H`` as an image, the boundary of B0 in white (when given), memories as red points."""
    _image(ax, dens.grid, _np(dens.log_density), "magma", "$\\log p_H(x)$")
    if boundary is not None:
        b = _closed(boundary)
        ax.plot(b[:, 0], b[:, 1], color="white", lw=2.0, label="boundary of $B_0$ ($p_H=\\delta$)")
    _memories(ax, dens.memories)
    lo, hi, lo2, hi2 = dens.grid.extent
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo2, hi2)
    ax.set_title(title or "density $p_H$ (eq 17)", fontsize=10)


def fig2_landscapes(
    vanilla: EnergyLandscape,
    reclag: EnergyLandscape | None = None,
    density: DensityLandscape | None = None,
    boundary: B0Boundary | None = None,
    origin: Sequence[float] | None = (0.0, 0.0),
) -> Figure:
    """The RecLag paper's Fig 2 (b)–(d): vanilla energy, RecLag energy with the origin attractor
    (star, when ``origin`` is given), and the density p_H with the boundary of B0 in white.
    Without ``reclag`` (a vanilla network) only (b); without ``density`` (b) and (c)."""
    panels = 1 + (reclag is not None) + (density is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.6), constrained_layout=True, squeeze=False)
    axes = axes[0]
    draw_energy(axes[0], vanilla, title=f"(b) vanilla MHN: {vanilla.title}")
    if reclag is not None:
        draw_energy(axes[1], reclag, star=origin, title=f"(c) RecLag MHN: {reclag.title}")
    if density is not None:
        what = "with the boundary of $B_0$ (white)" if boundary is not None else "($B_0$ does not hold the origin)"
        draw_density(axes[2], density, boundary, title=f"(d) density $p_H$ {what}")
    for ax in axes:
        ax.legend(loc="lower left", fontsize=8, framealpha=0.85)
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
        _plane_labels(ax, land.grid.plane.n_features)
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
#: Up to this many attractors a legend lists each one; beyond it, the attractors that are not
#: memories one by one, the memories in one line and a colour strip gives each memory's colour.
LEGEND_MAX = 12
#: Spurious attractors (neither the origin nor a memory's) as markers.
OTHER_STYLE = dict(marker="X", s=60, c="white", edgecolors="black", linewidths=0.9, zorder=6)


def _closed(b: B0Boundary) -> np.ndarray:
    c = _np(b.coords)
    return np.vstack([c, c[:1]])


def _plane_labels(ax: Axes, n_features: int) -> None:
    ax.set_xlabel("$s$" if n_features > 2 else "$v_1$")
    ax.set_ylabel("$t$" if n_features > 2 else "$v_2$")


def _legend_outside(ax: Axes, handles: list, title: str) -> None:
    """The legend to the right of the axes, never over the picture."""
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=7,
        framealpha=0.9,
        title=title,
        title_fontsize=7,
    )


def _memory_strip(ax: Axes, n_memories: int) -> None:
    """A colour bar below the axes mapping memory index to basin colour (for many memories)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    norm = BoundaryNorm(np.arange(n_memories + 1) - 0.5, n_memories)
    bar = plt.colorbar(
        ScalarMappable(norm, ListedColormap(memory_colors(n_memories))),
        ax=ax,
        location="bottom",
        fraction=0.05,
        pad=0.1,
        aspect=35,
        ticks=np.unique(np.linspace(0, n_memories - 1, min(n_memories, 11)).round().astype(int)),
    )
    bar.set_label("memory index $\\mu$ (colour of its basin)", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def attractor_handles(kinds: Sequence[str], memory: Sequence[int], names: Sequence[str], shares: Sequence[float]):
    """Legend handles for attractors with their shares: each attractor while there are at most
    :data:`LEGEND_MAX`, else those that are not memories and one line for all memories (the
    caller adds :func:`_memory_strip`). Returns ``(handles, compact)``."""
    from matplotlib.patches import Patch

    colours = attractor_colors(kinds, memory)
    hatches = attractor_hatches(kinds)
    few = len(kinds) <= LEGEND_MAX
    handles = [
        Patch(facecolor=c, edgecolor="0.3", hatch=h, label=f"{n}: {100 * f:.1f} %")
        for c, h, n, f, k in zip(colours, hatches, names, shares, kinds)
        if few or k != "memory"
    ]
    if not few:
        mem = [f for f, k in zip(shares, kinds) if k == "memory"]
        handles.append(
            Patch(facecolor="none", edgecolor="none", label=f"{len(mem)} memory basins: {100 * sum(mem):.1f} %")
        )
    return handles, not few


def draw_basin_map(
    ax: Axes, bmap: BasinMap, boundary: np.ndarray, title: str = "", b0: B0Boundary | None = None
) -> None:
    """Basins coloured by attractor (:mod:`hopdyn.plots.palette`: a hue per memory, the origin light
    grey, spurious attractors dark grey and hatched, white not converged), basin boundaries in
    black, the memories as dots in their own colour, the origin attractor as a star, spurious
    attractors as crosses and, if given, the boundary of B0 (the set sent to 0 in one step) dashed.
    The legend, outside the axes, gives each basin's share of the square; with more than
    :data:`LEGEND_MAX` attractors a colour strip below names the memories' colours instead."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels = _np(bmap.labels)
    att = bmap.attractors
    memory = att.memory.tolist()
    colours = [UNCONVERGED] + attractor_colors(att.kinds, memory)
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
    other = [a for a, k in enumerate(att.kinds) if k == "other"]
    if other:
        ax.contourf(
            _np(bmap.xs), _np(bmap.ys), np.isin(labels, other).astype(float), levels=[0.5, 1.5], colors="none",
            hatches=[OTHER_HATCH],
        )
    edge = np.ma.masked_where(~np.asarray(boundary, dtype=bool), np.ones_like(labels, dtype=float))
    ax.imshow(edge, origin="lower", extent=ext, cmap=ListedColormap([BOUNDARY]), interpolation="nearest").set_rasterized(
        True
    )
    handles, compact = attractor_handles(att.kinds, memory, att.names, bmap.shares.tolist())
    if bmap.unconverged > 0:
        handles.append(Patch(facecolor=UNCONVERGED, edgecolor="0.3", label=f"not converged: {100 * bmap.unconverged:.1f} %"))
    if b0 is not None:
        c = _closed(b0)
        ax.plot(c[:, 0], c[:, 1], color="black", ls="--", lw=1.2)
        handles.append(Line2D([], [], color="black", ls="--", lw=1.2, label="boundary of $B_0$"))
    mem = _np(bmap.memories_2d)
    ax.scatter(mem[:, 0], mem[:, 1], s=30, c=memory_colors(len(mem)), edgecolors="black", linewidths=0.7, zorder=5)
    handles.append(Line2D([], [], ls="", marker="o", ms=5, mfc="0.6", mec="black", label="memories (own colour)"))
    pts = _np(bmap.points_2d)
    if att.origin >= 0:
        o = pts[att.origin]
        ax.scatter([o[0]], [o[1]], **STAR_STYLE)
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mfc="gold", mec="black", label="origin attractor"))
    if other:
        ax.scatter(pts[other, 0], pts[other, 1], **OTHER_STYLE)
        handles.append(Line2D([], [], ls="", marker="X", ms=7, mfc="white", mec="black", label="spurious attractor"))
    _legend_outside(ax, handles, "basin: share of the square")
    if compact:
        _memory_strip(ax, bmap.memories_2d.shape[0])
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    _plane_labels(ax, bmap.grid.plane.n_features)
    ax.set_title(title, fontsize=10)


def basin_maps(
    maps: Sequence[BasinMap],
    boundaries: Sequence[np.ndarray],
    titles: Sequence[str],
    b0s: Sequence[B0Boundary | None] | None = None,
) -> Figure:
    """Basin maps side by side (``boundaries``: boolean masks of boundary cells per map)."""
    fig, axes = plt.subplots(1, len(maps), figsize=(7.4 * len(maps), 5.6), constrained_layout=True, squeeze=False)
    for k, (ax, m, b, t) in enumerate(zip(axes[0], maps, boundaries, titles)):
        draw_basin_map(ax, m, b, t, None if b0s is None else b0s[k])
    return fig


def continuation_figure(cont: Continuation, title: str = "") -> Figure:
    """Basin fractions along a continuation in β or γ (top; 95 % Wilson bands, one line per
    attractor in its basin colour, the origin and spurious attractors outlined in black and
    dashed) and how many attractors of each kind exist at each value (bottom)."""
    import matplotlib.patheffects as pe
    from matplotlib.lines import Line2D

    x = _np(cont.values)
    present = _np(cont.present)
    frac, lo, hi = (np.where(present, _np(a), np.nan) for a in (cont.fractions, cont.ci_low, cont.ci_high))
    memory = cont.memory.tolist()
    colours = attractor_colors(cont.kinds, memory)
    fig, (ax, ax2) = plt.subplots(
        2, 1, figsize=(9.0, 6.6), sharex=True, gridspec_kw=dict(height_ratios=[2.2, 1]), constrained_layout=True
    )
    outline = [pe.withStroke(linewidth=2.8, foreground="black")]
    for a, (kind, c) in enumerate(zip(cont.kinds, colours)):
        memo = kind == "memory"
        ax.fill_between(x, lo[:, a], hi[:, a], color=c, alpha=0.25, lw=0)
        ax.plot(
            x, frac[:, a], color=c, lw=1.6 if memo else 1.8, ls="-" if memo else "--", marker="o", ms=3,
            path_effects=None if memo else outline,
        )
    shares = np.nan_to_num(frac).max(0).tolist()  # the largest share each attractor reaches
    handles, compact = attractor_handles(cont.kinds, memory, cont.names, shares)
    ax.set_ylabel("basin fraction")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title or f"continuation in {cont.parameter}: {cont.base_memory}", fontsize=10)
    _legend_outside(ax, handles, "attractor: largest share")
    if compact:
        _memory_strip(ax2, max(memory) + 1)
    kinds = np.array(cont.kinds)
    for kind, c, ls in (("memory", "tab:blue", "-"), ("origin", "0.4", "--"), ("other", "black", ":")):
        ax2.plot(x, present[:, kinds == kind].sum(1), color=c, ls=ls, lw=1.6, marker="o", ms=3)
    _legend_outside(
        ax2,
        [Line2D([], [], color=c, ls=ls, lw=1.6, label=lab) for c, ls, lab in
         (("tab:blue", "-", "memory attractors"), ("0.4", "--", "origin"), ("black", ":", "spurious attractors"))],
        "how many",
    )
    ax2.set_ylabel("attractors")
    ax2.set_xlabel({"beta": "$\\beta$", "gamma": "$\\gamma$", "log_gamma": "$\\log\\gamma$"}[cont.parameter])
    ax2.grid(alpha=0.3)
    if cont.parameter != "log_gamma" and x.min() > 0 and x.max() / x.min() > 20:
        ax.set_xscale("log")
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
    p = _np(land.grid.plane.project(report.r_star_point.to(land.grid.plane.basis)))  # its shadow when N_V > 2
    ax.scatter(
        [p[0]],
        [p[1]],
        marker="x",
        s=70,
        c="orangered",
        linewidths=2,
        zorder=7,
        label="where $r^*$ meets $B_0$'s boundary" + (" (projected)" if report.n_features > 2 else ""),
    )
    ax.scatter([0], [0], **STAR_STYLE)
    _memories(ax, land.memories, label=None)
    lo, hi, lo2, hi2 = land.grid.extent
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo2, hi2)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9, facecolor="0.8")  # grey: the white B0 line shows
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
