"""Plotly drawings of a :class:`~hopdyn.explore.view.View` (drawing only: every number comes
from the view). Attractor colours come from :mod:`hopdyn.plots.palette` (a memory keeps its
colour for any β, γ and number of memories; the origin and other attractors are greys)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from ..analysis.landscape import LandscapePaths
from ..plots.palette import BOUNDARY, UNCONVERGED, attractor_colors, memory_colors
from .view import View

__all__ = ["energy_figure", "path_traces", "view_figure"]

#: Trajectory colours (one per start, in turn).
PATH_COLORS = ("#ffffff", "#ff4081", "#00e5ff", "#ffd740", "#76ff03", "#ea80fc")
B0_COLOR = "#ff9800"
THEOREM1_STYLE = {"eps_paper": ("ε (eq 39)", "dot"), "eps_cs": ("ε_CS", "dash"), "r_star": ("r*", "solid")}
STABILITY_SYMBOL = {"stable": "circle", "saddle": "x-thin-open", "unstable": "circle-open"}


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().to(torch.float64).cpu().numpy()


def _background(view: View, which: str) -> go.Heatmap:
    s, t = _np(view.grid.s), _np(view.grid.t)
    common = dict(x=s, y=t, name=which, hoverongaps=False)
    if which == "energy" and view.energy is not None:
        return go.Heatmap(z=_np(view.energy.energy).astype(np.float32), colorscale="Viridis",
                          colorbar=dict(title="E(v)", len=0.8), hovertemplate="s=%{x:.3g}<br>t=%{y:.3g}<br>E=%{z:.4g}"
                          "<extra></extra>", **common)
    if which == "density" and view.density is not None:
        return go.Heatmap(z=_np(view.density.log_density).astype(np.float32), colorscale="Magma",
                          colorbar=dict(title="log p_H", len=0.8),
                          hovertemplate="s=%{x:.3g}<br>t=%{y:.3g}<br>log p_H=%{z:.4g}<extra></extra>", **common)
    if which == "basins" and view.basins is not None:
        att = view.basins.attractors
        colors = [UNCONVERGED, *attractor_colors(att.kinds, att.memory.tolist())]
        k = len(colors)
        scale = []
        for i, c in enumerate(colors):
            scale += [[i / k, c], [(i + 1) / k, c]]
        names = np.array(["not converged", *att.names], dtype=object)
        labels = view.basins.labels.numpy() + 1
        return go.Heatmap(z=labels.astype(np.int16), zmin=-0.5, zmax=k - 0.5, colorscale=scale, showscale=False,
                          customdata=names[labels], hovertemplate="s=%{x:.3g}<br>t=%{y:.3g}<br>%{customdata}"
                          "<extra></extra>", **common)
    # nothing to colour: a transparent layer that still answers clicks
    return go.Heatmap(z=np.zeros((2, 2), np.float32), x=s[[0, -1]], y=t[[0, -1]], opacity=0, showscale=False,
                      hoverinfo="none", name="plane")


def _circle(c: np.ndarray, r: float, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    a = np.linspace(0, 2 * np.pi, n)
    return c[0] + r * np.cos(a), c[1] + r * np.sin(a)


def _theorem1(fig: go.Figure, view: View) -> None:
    rep = view.theorem1
    origin = torch.zeros(view.plane.n_features, dtype=torch.float64)
    c = _np(view.plane.project(origin))
    d = float(view.plane.distance(origin))
    for key, (label, dash) in THEOREM1_STYLE.items():
        r = getattr(rep, key)
        if not (math.isfinite(r) and r > d):
            continue
        x, y = _circle(c, math.sqrt(r * r - d * d))  # the ball ‖v‖ < r cut by the plane
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color="#ffffff", dash=dash, width=1.5),
                                 name=f"{label} = {r:.3g}", hoverinfo="name", legendgroup="theorem1"))


def _memories(fig: go.Figure, view: View, editable: bool) -> None:
    m = _np(view.memories_2d)
    off = _np(view.memory_offset)
    n = m.shape[0]
    colors = memory_colors(n)
    text = [f"memory {k}" + (f" ({off[k]:.3g} off the plane)" if off[k] > 1e-9 else "") for k in range(n)]
    symbols, lines = ["circle"] * n, ["#ffffff"] * n
    if view.fates is not None:
        for k in range(n):
            if bool(view.fates.swallowed[k]):
                symbols[k], text[k] = "x", text[k] + ": swallowed (the gate sends it to 0)"
            elif bool(view.fates.survives[k]):
                lines[k], text[k] = "#000000", text[k] + ": survives (an attractor)"
            else:
                symbols[k], text[k] = "diamond", text[k] + ": merged (no attractor of its own)"
    fig.add_trace(go.Scatter(x=m[:, 0], y=m[:, 1], mode="markers", name="memories", text=text, hoverinfo="text",
                             marker=dict(size=12, color=colors, symbol=symbols, line=dict(color=lines, width=2))))
    if editable:  # rings the user drags (plotly moves shapes, and tells the server where to)
        r = 0.025 * (view.extent[1] - view.extent[0])
        fig.update_layout(shapes=[dict(type="circle", x0=x - r, x1=x + r, y0=y - r, y1=y + r, line=dict(color=c, width=2),
                                       fillcolor="rgba(0,0,0,0)") for (x, y), c in zip(m, colors)])


def view_figure(view: View, background: str, overlays: tuple[str, ...], paths: Sequence[LandscapePaths] = (),
                editable: bool = False, title: str = "") -> go.Figure:
    """The plane with the background layer, the overlays, the memories and the trajectories."""
    fig = go.Figure(_background(view, background))
    if "contours" in overlays and view.energy is not None:
        k = max(1, view.grid.s.numel() // 100)  # contour lines need no more than ~100 points a side
        fig.add_trace(go.Contour(x=_np(view.grid.s)[::k], y=_np(view.grid.t)[::k],
                                 z=_np(view.energy.energy)[::k, ::k].astype(np.float32),
                                 contours=dict(coloring="none"), line=dict(color="rgba(255,255,255,0.45)", width=1),
                                 ncontours=25, showscale=False, hoverinfo="skip", name="energy contours"))
    if "boundaries" in overlays and view.boundaries is not None:
        z = np.where(view.boundaries.numpy(), 1.0, np.nan).astype(np.float32)
        fig.add_trace(go.Heatmap(x=_np(view.grid.s), y=_np(view.grid.t), z=z, colorscale=[[0, BOUNDARY], [1, BOUNDARY]],
                                 showscale=False, hoverinfo="skip", name="basin boundaries"))
    if "b0" in overlays:
        if view.b0 is not None:
            xy = _np(view.b0.coords)
            xy = np.vstack([xy, xy[:1]])
            fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", line=dict(color=B0_COLOR, width=2.5),
                                     name="∂B0 (G = 0)", hoverinfo="name"))
        elif view.b0_level is not None:
            fig.add_trace(go.Contour(x=_np(view.grid.s), y=_np(view.grid.t), z=_np(view.b0_level).astype(np.float32),
                                     contours=dict(start=0, end=0, size=1, coloring="none"),
                                     line=dict(color=B0_COLOR, width=2.5), showscale=False, hoverinfo="skip",
                                     name="∂B0 (G = 0 on the grid)", showlegend=True))
    if "theorem1" in overlays and view.theorem1 is not None:
        _theorem1(fig, view)
    if "fixed_points" in overlays and view.fixed is not None:
        f = view.fixed
        xy, off = _np(view.plane.project(f.points)), _np(view.plane.distance(f.points))
        text = [f"{nm}: {km} (map), {kf} (flow)" + (f", {o:.3g} off the plane" if o > 1e-9 else "")
                for nm, km, kf, o in zip(f.names, f.kind_map, f.kind_flow, off)]
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", name="fixed points", text=text,
                                 hoverinfo="text", marker=dict(size=9, color="#ff1744", line=dict(color="#ff1744", width=2),
                                                               symbol=[STABILITY_SYMBOL[k] for k in f.kind_map])))
    origin = _np(view.plane.project(torch.zeros(view.plane.n_features, dtype=torch.float64)))
    fig.add_trace(go.Scatter(x=[origin[0]], y=[origin[1]], mode="markers", name="origin", hoverinfo="name",
                             marker=dict(symbol="star", size=13, color="#ffeb3b", line=dict(color="#000", width=1))))
    _memories(fig, view, editable)
    fig.add_traces(path_traces(paths))
    s0, s1, t0, t1 = view.extent
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)), margin=dict(l=50, r=10, t=40, b=40), height=620,
        xaxis=dict(range=[s0, s1], title=view.plane.anchor_names[1] if len(view.plane.anchor_names) > 1 else "v₁",
                   constrain="domain"),
        yaxis=dict(range=[t0, t1], scaleanchor="x", scaleratio=1, constrain="domain",
                   title=view.plane.anchor_names[2] if len(view.plane.anchor_names) > 2 else "v₂"),
        legend=dict(orientation="h", y=-0.12, font=dict(size=11)), plot_bgcolor="#222", uirevision=None,
        clickmode="event", dragmode="zoom",
    )
    return fig


def path_traces(paths: Sequence[LandscapePaths]) -> list[go.Scatter]:
    """The trajectories of both simulators in the plane, one colour per start (``paths[b]`` holds
    start ``b``, batch size 1): ODE solid, map dotted with its steps, the start a diamond."""
    out = []
    for b, p in enumerate(paths):
        c = PATH_COLORS[b % len(PATH_COLORS)]
        it, ode = _np(p.iterate_coords[:, 0]), _np(p.integrate_coords[:, 0])
        out += [
            go.Scatter(x=ode[:, 0], y=ode[:, 1], mode="lines", line=dict(color=c, width=2),
                       name=f"start {b}: ODE → {p.integrate_ends[0]}", legendgroup=f"p{b}", hoverinfo="name"),
            go.Scatter(x=it[:, 0], y=it[:, 1], mode="lines+markers", line=dict(color=c, width=1, dash="dot"),
                       marker=dict(size=4), name=f"start {b}: map → {p.iterate_ends[0]}", legendgroup=f"p{b}",
                       hoverinfo="name"),
            go.Scatter(x=it[:1, 0], y=it[:1, 1], mode="markers", showlegend=False, hoverinfo="skip",
                       marker=dict(symbol="diamond", size=10, color=c, line=dict(color="#000", width=1))),
        ]
    return out


def energy_figure(paths: Sequence[LandscapePaths] = ()) -> go.Figure:
    """The energy along each trajectory, both simulators (time ``t``; map step ``k`` at ``k·τ_V``)."""
    fig = go.Figure()
    for b, p in enumerate(paths):
        c = PATH_COLORS[b % len(PATH_COLORS)]
        c = "#444" if c == "#ffffff" else c
        fig.add_trace(go.Scatter(x=_np(p.integrate.t), y=_np(p.integrate.energy[:, 0]), mode="lines",
                                 line=dict(color=c), name=f"{b}: ODE (integrate)"))
        fig.add_trace(go.Scatter(x=_np(p.iterate.t), y=_np(p.iterate.energy[:, 0]), mode="lines+markers",
                                 line=dict(color=c, dash="dot"), marker=dict(size=4), name=f"{b}: map (iterate)"))
    fig.update_layout(height=260, margin=dict(l=50, r=10, t=30, b=40), xaxis_title="t (map step k at k·τ_V)",
                      yaxis_title="energy", title=dict(text="energy along the trajectories (click the plane to start one)",
                                                       font=dict(size=12)), legend=dict(font=dict(size=10)))
    return fig
