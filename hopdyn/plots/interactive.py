"""Interactive landscapes with plotly: a rotatable 3-D view and an offline explorer page.

Pages are standalone HTML files that load ``plotly.min.js`` by a relative ``<script src>``;
:func:`write_plotlyjs` writes that script once into the pages' folder, so a folder of pages
carries one copy of plotly.js and works offline. Everything drawn here was computed by
:mod:`hopdyn.analysis.landscape`; the explorer's JavaScript only looks up precomputed cells.
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .._io import atomic_path
from ..analysis.attractors import MemoryFates
from ..analysis.basins import BasinMap
from ..analysis.landscape import B0Boundary, EnergyLandscape, LandscapePaths, LandscapeSweep
from .palette import UNCONVERGED, attractor_colors

PLOTLY_JS = "plotly.min.js"


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy()


def write_plotlyjs(directory: str | Path) -> Path:
    """Write plotly.js (the version bundled with the plotly package) as
    ``directory/plotly.min.js`` unless an identical copy is already there."""
    from plotly.offline import get_plotlyjs

    text = get_plotlyjs().encode()
    path = Path(directory) / PLOTLY_JS
    if path.is_file() and path.stat().st_size == len(text) and _sha(path.read_bytes()) == _sha(text):
        return path
    with atomic_path(path) as tmp:
        tmp.write_bytes(text)
    return path


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def landscape_3d(lands: Sequence[EnergyLandscape], paths: Sequence[LandscapePaths], titles: Sequence[str]) -> go.Figure:
    """Rotatable 3-D energy surfaces side by side, each with its ODE trajectories as white
    diamonds over the surface, the memories in red and (where it attracts) the origin as a star."""
    fig = make_subplots(
        rows=1,
        cols=len(lands),
        specs=[[{"type": "scene"}] * len(lands)],
        subplot_titles=list(titles),
        horizontal_spacing=0.02,
    )
    for k, (land, path) in enumerate(zip(lands, paths)):
        e = _np(land.energy)
        lift = 0.02 * float(e.max() - e.min())
        fig.add_trace(
            go.Surface(
                x=_np(land.grid.s), y=_np(land.grid.t), z=e, colorscale="Viridis", showscale=False, name="energy"
            ),
            row=1,
            col=k + 1,
        )
        xy, z = _np(path.integrate_coords), _np(path.integrate.energy)
        for b in range(xy.shape[1]):
            fig.add_trace(
                go.Scatter3d(
                    x=xy[:, b, 0],
                    y=xy[:, b, 1],
                    z=z[:, b] + lift,
                    mode="lines+markers",
                    name=f"trajectory {b}",
                    line=dict(color="white", width=4),
                    marker=dict(symbol="diamond", size=4, color="white", line=dict(color="black", width=1)),
                    showlegend=k == 0 and b == 0,
                ),
                row=1,
                col=k + 1,
            )
        ends = _np(path.iterate.energy[-1])
        att = _np(path.attractors)
        for a, (name, kind, p) in enumerate(zip(path.known.names, path.known.kinds, att)):
            star = kind == "origin"
            # the energy at an attractor is the energy the discrete map reaches there
            hit = (path.iterate_labels == a).nonzero().flatten().tolist()
            zz = (
                float(ends[hit[0]])
                if hit
                else float(e[np.abs(_np(land.grid.t) - p[1]).argmin(), np.abs(_np(land.grid.s) - p[0]).argmin()])
            )
            fig.add_trace(
                go.Scatter3d(
                    x=[p[0]],
                    y=[p[1]],
                    z=[zz + lift],
                    mode="markers",
                    name=name,
                    showlegend=False,
                    marker=dict(
                        symbol="diamond-open" if star else "circle",
                        size=9 if star else 5,
                        color="gold" if star else "red",
                    ),
                ),
                row=1,
                col=k + 1,
            )
    fig.update_scenes(
        xaxis_title="v1",
        yaxis_title="v2",
        zaxis_title="E(v)",
        aspectmode="manual",
        aspectratio=dict(x=1, y=1, z=0.6),
        camera=dict(eye=dict(x=-1.3, y=-1.6, z=1.1)),
    )
    fig.update_layout(height=620, margin=dict(l=0, r=0, t=40, b=0), template="plotly_white")
    return fig


def write_figure_page(fig: go.Figure, path: str | Path, div_id: str = "figure") -> Path:
    """Write ``fig`` as a standalone page that loads ``plotly.min.js`` from its own folder
    (written there by :func:`write_plotlyjs` if missing). The page is deterministic: a fixed
    ``div_id`` instead of plotly's random one."""
    path = Path(path)
    write_plotlyjs(path.parent)
    # the marker on <body> tells a headless browser (and the tests) that the plot was drawn
    html = fig.to_html(
        include_plotlyjs=PLOTLY_JS, full_html=True, div_id=div_id, post_script="document.body.dataset.rendered = 'yes';"
    )
    with atomic_path(path) as tmp:
        tmp.write_text(html)
    return path


def _rounded(a: np.ndarray, digits: int = 4) -> list:
    """Values with ``digits`` significant digits, as nested lists (keeps the page small)."""
    flat = [float(f"{x:.{digits}g}") for x in np.asarray(a, dtype=float).ravel().tolist()]
    return np.array(flat).reshape(np.shape(a)).tolist()


def _packed(a: np.ndarray) -> dict:
    """A grid of values as 16-bit steps between its min and max, base64-encoded: a tenth of the
    size of decimal text, with an error below (max − min)/65535 (the page decodes it)."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    step = (hi - lo) / 65535 or 1.0
    q = np.round((a - lo) / step).astype("<u2")
    return {"lo": lo, "step": step, "shape": list(a.shape), "b64": base64.b64encode(q.tobytes()).decode()}


def _trimmed(path: np.ndarray) -> np.ndarray:
    """A path ``(K+1, ...)`` without the repeats of its final state (converged runs stand still)."""
    k = len(path)
    while k > 1 and np.array_equal(path[k - 1], path[k - 2]):
        k -= 1
    return path[:k]


def _fates(fates: MemoryFates | None) -> dict:
    """What the page says about the memories of one cell, from the cell's
    :func:`hopdyn.analysis.attractors.memory_fates`: for RecLag the memories it swallows (the gate
    sends them to 0) and those that are no attractors even without the gate; nothing for a vanilla
    network, which has no gate to swallow anything."""
    if fates is None:
        return {"gated": False}
    idx = lambda m: m.nonzero().flatten().tolist()  # noqa: E731
    return {"gated": True, "swallowed": idx(fates.swallowed), "merged": idx(fates.merged),
            "G_memory": _rounded(_np(fates.G_memory))}


def _packed_labels(labels: np.ndarray) -> dict:
    """Basin labels (``-1``: not converged) as bytes ``label + 1``, base64-encoded."""
    labels = np.asarray(labels)
    if labels.max(initial=-1) > 254:
        raise ValueError(f"the explorer draws at most 255 attractors per cell, got {int(labels.max()) + 1}")
    q = (labels + 1).astype(np.uint8)
    return {"shape": list(q.shape), "b64": base64.b64encode(q.tobytes()).decode()}


def _basins(bmap: BasinMap | None) -> dict | None:
    """One cell's basin layer: labels, a colour per attractor (:mod:`hopdyn.plots.palette`), names, shares."""
    if bmap is None:
        return None
    att = bmap.attractors
    return {
        "labels": _packed_labels(_np(bmap.labels)),
        "colors": [UNCONVERGED] + attractor_colors(att.kinds, att.memory.tolist()),
        "names": ["not converged"] + list(att.names),
        "shares": _rounded(_np(bmap.shares), 3),
    }


def _b0_line(b0: B0Boundary | None) -> list | None:
    """The boundary of B0 as a closed polyline (None when the cell has none)."""
    if b0 is None:
        return None
    c = _np(b0.coords)
    return _rounded(np.vstack([c, c[:1]]))


def explorer_data(sweep: LandscapeSweep, basins: dict | None = None, b0: dict | None = None) -> dict:
    """The sweep as plain JSON-ready data (what the explorer page embeds), with, by cell
    ``(set, β, γ)``, the basin maps ``basins`` (on the cell's energy grid) and the B0 boundaries ``b0``."""
    basins, b0 = basins or {}, b0 or {}
    cells = {}
    for (si, bi, gi), c in sweep.cells.items():
        paths = np.asarray(_rounded(_np(c.paths).transpose(1, 0, 2)))  # (B, K+1, 2)
        energy = np.asarray(_rounded(_np(c.path_energy).T))  # (B, K+1)
        keep = [len(_trimmed(p)) for p in paths]
        cells[f"{si}_{bi}_{gi}"] = {
            "energy": _packed(_np(c.energy)),
            "paths": [p[:k].tolist() for p, k in zip(paths, keep)],
            "path_energy": [e[:k].tolist() for e, k in zip(energy, keep)],
            "ends": c.ends,
            "attractors": _rounded(_np(c.attractors).reshape(-1, 2)),
            "names": c.attractor_names,
            "kinds": c.known.kinds,
            "memory": c.known.memory.tolist(),
            "b0": c.b0_fraction,
            "fates": _fates(c.fates),
            "basins": _basins(basins.get((si, bi, gi))),
            "b0_line": _b0_line(b0.get((si, bi, gi))),
        }
    return {
        "sets": [
            {
                "name": n,
                "s": _rounded(_np(g.s)),
                "t": _rounded(_np(g.t)),
                "memories": _rounded(_np(m)),
                "starts": _rounded(_np(st)),
            }
            for n, g, m, st in zip(sweep.set_names, sweep.grids, sweep.memories, sweep.starts)
        ],
        "betas": sweep.betas,
        "gammas": sweep.gammas,
        "cells": cells,
    }


def script_json(data) -> str:
    """``data`` as JSON that is safe inside ``<script>``: ``<``, ``>`` and ``&`` are written as
    ``\\u003c``… escapes (still the same JSON), so no text can close the script element
    (``</script>``) or open a comment (``<!--``); U+2028/9 are escaped for older parsers."""
    text = json.dumps(data, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def write_explorer(sweep: LandscapeSweep, path: str | Path, title: str = "hopdyn landscape explorer",
                   basins: dict | None = None, b0: dict | None = None) -> Path:
    """Write the explorer page: sliders for β and γ (the leftmost γ is the vanilla MHN), a choice
    of memory set, and a 2-D map (or a 3-D surface) of the energy or, as a layer, of the basins of
    attraction (``basins``: a :class:`~hopdyn.analysis.basins.BasinMap` per cell), the boundary of
    B0 as a layer (``b0``: a :class:`~hopdyn.analysis.landscape.B0Boundary` or None per cell), the
    discrete-map trajectories of fixed starts, the memories and, where it attracts, the origin."""
    path = Path(path)
    write_plotlyjs(path.parent)
    fill = {"__TITLE__": _html.escape(str(title)), "__PLOTLY__": _html.escape(PLOTLY_JS),
            "__DATA__": script_json(explorer_data(sweep, basins, b0))}
    # one pass, so that a placeholder inside the title (or the data) is never substituted again
    html = re.sub("__(?:TITLE|PLOTLY|DATA)__", lambda m: fill[m.group(0)], _EXPLORER)
    with atomic_path(path) as tmp:
        tmp.write_text(html)
    return path


_EXPLORER = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<script>
  // script errors are recorded on <body data-errors> so headless tests can read them
  window.__errors = [];
  function __record(msg) {
    window.__errors.push(String(msg));
    if (document.body) document.body.dataset.errors = window.__errors.join(" | ");
  }
  window.addEventListener("error", function (e) { __record(e.message); });
  window.addEventListener("unhandledrejection", function (e) { __record(e.reason); });
</script>
<script src="__PLOTLY__"></script>
<style>
  body { font-family: sans-serif; margin: 14px; color: #222; }
  #controls { display: flex; flex-wrap: wrap; gap: 22px; align-items: center; margin-bottom: 8px; }
  label { font-size: 14px; }
  output { font-weight: bold; display: inline-block; min-width: 70px; }
  #info { font-size: 13px; color: #444; margin: 4px 0 8px 0; }
  #plot { width: 100%; max-width: 900px; height: 680px; }
</style>
</head>
<body data-rendered="no" data-errors="">
<h2 style="margin:4px 0">__TITLE__</h2>
<p style="margin:2px 0 10px 0;font-size:13px">Energy of a modern Hopfield network in the plane, with the
discrete-map trajectories (eq 12) of fixed starts (diamonds). The leftmost &gamma; is the vanilla MHN
(log-sum-exp); larger &gamma; makes RecLag's origin attractor (star) and its basin grow. The basins layer
colours each point by the attractor the discrete map takes it to (one colour per memory, the origin light
grey, spurious attractors dark grey); the boundary of B0 (the set sent to 0 in one step) is drawn where B0
holds the origin.
All values were computed by hopdyn; this page only displays them.</p>
<div id="controls">
  <label>memories <select id="set"></select></label>
  <label>&beta; <input type="range" id="beta" min="0" step="1"> <output id="beta_out"></output></label>
  <label>&gamma; <input type="range" id="gamma" min="0" step="1"> <output id="gamma_out"></output></label>
  <label>layer <select id="layer"><option value="energy">energy</option><option value="basins">basins</option></select></label>
  <label><input type="checkbox" id="b0" checked> boundary of B0</label>
  <label><input type="checkbox" id="view3d"> 3-D surface</label>
</div>
<div id="info"></div>
<div id="plot"></div>
<script>
const DATA = __DATA__;
const el = (id) => document.getElementById(id);
// energies come as 16-bit steps above their minimum (see hopdyn.plots.interactive._packed)
function unpack(p) {
  const bytes = Uint8Array.from(atob(p.b64), (c) => c.charCodeAt(0));
  const q = new Uint16Array(bytes.buffer), rows = [];
  for (let j = 0; j < p.shape[0]; j++) {
    rows.push(Array.from(q.subarray(j * p.shape[1], (j + 1) * p.shape[1]), (v) => p.lo + v * p.step));
  }
  return rows;
}
// basin labels come as bytes label + 1 (0: not converged)
function unpackLabels(p) {
  const q = Uint8Array.from(atob(p.b64), (c) => c.charCodeAt(0)), rows = [];
  for (let j = 0; j < p.shape[0]; j++) rows.push(Array.from(q.subarray(j * p.shape[1], (j + 1) * p.shape[1])));
  return rows;
}
Object.values(DATA.cells).forEach((c) => {
  c.energy = unpack(c.energy);
  if (c.basins) {
    c.basins.z = unpackLabels(c.basins.labels);
    c.basins.text = c.basins.z.map((r) => r.map((v) => c.basins.names[v]));
  }
});
// a colour scale with one flat step per attractor, for z = 0 .. n-1 over [-0.5, n-0.5]
function discrete(colors) {
  const n = colors.length, out = [];
  colors.forEach((c, k) => { out.push([k / n, c]); out.push([(k + 1) / n, c]); });
  return out;
}
const fmt = (x) => (x === null ? "vanilla" : (x >= 1000 ? x.toExponential(0) : String(x)));
DATA.sets.forEach((s, i) => { const o = document.createElement("option"); o.value = i; o.textContent = s.name; el("set").appendChild(o); });
el("beta").max = DATA.betas.length - 1; el("beta").value = Math.floor(DATA.betas.length / 2);
el("gamma").max = DATA.gammas.length - 1; el("gamma").value = DATA.gammas.length - 1;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

function traces(set, cell, view3d, basins, b0) {
  const out = [];
  const B = basins ? cell.basins : null, n = B ? B.colors.length : 0;
  const b0line = b0 ? cell.b0_line : null;
  if (view3d) {
    if (B) {
      out.push({type: "surface", x: set.s, y: set.t, z: cell.energy, surfacecolor: B.z, colorscale: discrete(B.colors),
                cmin: -0.5, cmax: n - 0.5, showscale: false, name: "basins", text: B.text, hovertemplate: "%{text}<extra></extra>"});
    } else {
      out.push({type: "surface", x: set.s, y: set.t, z: cell.energy, colorscale: "Viridis", showscale: false, name: "energy"});
    }
    // memories at the energy of their nearest grid point, a little above the surface so they stay visible
    const near = (a, x) => a.reduce((best, v, i) => (Math.abs(v - x) < Math.abs(a[best] - x) ? i : best), 0);
    const flat = cell.energy.flat(), lift = 0.02 * (Math.max(...flat) - Math.min(...flat));
    out.push({type: "scatter3d", mode: "markers", x: set.memories.map((m) => m[0]), y: set.memories.map((m) => m[1]),
              z: set.memories.map((m) => cell.energy[near(set.t, m[1])][near(set.s, m[0])] + lift),
              marker: {size: 5, color: "red", line: {color: "white", width: 1}}, name: "memories"});
    if (b0line) {  // drawn on the floor of the box, under the surface
      const floor = Math.min(...cell.energy.map((r) => Math.min(...r)));
      out.push({type: "scatter3d", mode: "lines", x: b0line.map((q) => q[0]), y: b0line.map((q) => q[1]), z: b0line.map(() => floor),
                line: {color: "black", width: 5, dash: "dash"}, name: "boundary of B0 (on the floor)"});
    }
    cell.paths.forEach((p, b) => {
      out.push({type: "scatter3d", mode: "lines+markers", x: p.map((q) => q[0]), y: p.map((q) => q[1]), z: cell.path_energy[b],
                line: {color: COLORS[b % COLORS.length], width: 5}, marker: {symbol: "diamond", size: 3, color: "white"},
                name: "start " + b + " \u2192 " + cell.ends[b], showlegend: false});
    });
    return out;
  }
  if (B) {
    out.push({type: "heatmap", x: set.s, y: set.t, z: B.z, text: B.text, colorscale: discrete(B.colors), zmin: -0.5, zmax: n - 0.5,
              showscale: false, name: "basins", hovertemplate: "(%{x:.2f}, %{y:.2f}) \u2192 %{text}<extra></extra>"});
  } else {
    out.push({type: "contour", x: set.s, y: set.t, z: cell.energy, colorscale: "Viridis", ncontours: 24,
              contours: {coloring: "heatmap"}, colorbar: {title: {text: "E(v)"}}, name: "energy", hoverinfo: "x+y+z"});
  }
  if (b0line) {
    out.push({type: "scatter", mode: "lines", x: b0line.map((q) => q[0]), y: b0line.map((q) => q[1]), hoverinfo: "skip",
              line: {color: B ? "black" : "white", width: 2, dash: B ? "dash" : "solid"}, name: "boundary of B0"});
  }
  cell.paths.forEach((p, b) => {
    const c = COLORS[b % COLORS.length];
    out.push({type: "scatter", mode: "lines+markers", x: p.map((q) => q[0]), y: p.map((q) => q[1]),
              line: {color: c, width: 2}, marker: {size: 4, color: c}, name: "start " + b + " \u2192 " + cell.ends[b], showlegend: false});
    out.push({type: "scatter", mode: "markers", x: [p[0][0]], y: [p[0][1]], showlegend: false, hoverinfo: "skip",
              marker: {symbol: "diamond", size: 11, color: "white", line: {color: c, width: 2}}});
  });
  out.push({type: "scatter", mode: "markers", x: set.memories.map((m) => m[0]), y: set.memories.map((m) => m[1]),
            marker: {size: 10, color: B ? "white" : "red", line: {color: B ? "black" : "white", width: 1}}, name: "memories"});
  const o = cell.kinds.indexOf("origin");
  if (o >= 0) {
    out.push({type: "scatter", mode: "markers", x: [cell.attractors[o][0]], y: [cell.attractors[o][1]],
              marker: {symbol: "star", size: 20, color: "gold", line: {color: "black", width: 1}}, name: "origin attractor"});
  }
  return out;
}

function draw() {
  const si = +el("set").value, bi = +el("beta").value, gi = +el("gamma").value;
  const set = DATA.sets[si], cell = DATA.cells[si + "_" + bi + "_" + gi];
  const beta = DATA.betas[bi], gamma = DATA.gammas[gi];
  el("beta_out").textContent = beta;
  el("gamma_out").textContent = fmt(gamma);
  const counts = {};
  cell.ends.forEach((e) => { counts[e] = (counts[e] || 0) + 1; });
  // memory fates by the rule of hopdyn.analysis.attractors.memory_fates; a vanilla network has no gate and
  // swallows nothing: it can only have memories that are not attractors at this beta
  const mem = (ks) => "memor" + (ks.length > 1 ? "ies " : "y ") + ks.join(", ");
  let fate = "";
  if (cell.fates.gated) {
    if (cell.fates.swallowed.length) fate += " (" + mem(cell.fates.swallowed) + " swallowed: the gate sends " + (cell.fates.swallowed.length > 1 ? "them" : "it") + " to 0)";
    if (cell.fates.merged.length) fate += " (" + mem(cell.fates.merged) + " not an attractor even without the gate)";
  } else {
    const lost = set.memories.length - cell.memory.filter((m) => m >= 0).length;
    if (lost > 0) fate = " (" + lost + " memor" + (lost > 1 ? "ies are" : "y is") + " not an attractor at this \u03b2)";
  }
  el("info").textContent = (gamma === null ? "vanilla MHN, LogSumExp(\u03b2=" + beta + ")" : "RecLag(\u03b2=" + beta + ", \u03b3=" + fmt(gamma) + ")")
    + " \u2014 attractors: " + (cell.names.join(", ") || "none")
    + fate
    + (cell.b0 === null ? "" : " \u2014 B0 covers " + (100 * cell.b0).toFixed(1) + "% of the square")
    + " \u2014 trajectories end at: " + Object.entries(counts).map(([k, v]) => k + " \u00d7" + v).join(", ");
  const basins = el("layer").value === "basins" && cell.basins !== null;
  if (basins) {
    el("info").textContent += " \u2014 basins: " + cell.basins.names.slice(1).map((nm, a) => nm + " " + (100 * cell.basins.shares[a]).toFixed(1) + "%").join(", ");
  }
  el("info").textContent += cell.b0_line === null ? " \u2014 no B0 boundary here (no gate, or B0 does not hold the origin)" : "";
  const view3d = el("view3d").checked;
  const layout = view3d
    ? {margin: {l: 0, r: 0, t: 10, b: 0}, scene: {xaxis: {title: {text: "v1"}, range: [set.s[0], set.s[set.s.length - 1]]},
       yaxis: {title: {text: "v2"}, range: [set.t[0], set.t[set.t.length - 1]]}, zaxis: {title: {text: "E(v)"}},
       aspectmode: "manual", aspectratio: {x: 1, y: 1, z: 0.6}, camera: {eye: {x: -1.3, y: -1.6, z: 1.1}}}}
    : {margin: {l: 50, r: 10, t: 10, b: 40}, xaxis: {title: {text: "v1"}, constrain: "domain", range: [set.s[0], set.s[set.s.length - 1]]},
       yaxis: {title: {text: "v2"}, scaleanchor: "x", constrain: "domain", range: [set.t[0], set.t[set.t.length - 1]]},
       legend: {x: 0.01, y: 0.01, bgcolor: "rgba(255,255,255,0.8)"}};
  return Plotly.react("plot", traces(set, cell, view3d, basins, el("b0").checked), layout, {responsive: true});
}

// the view is kept in the address (#set=0&beta=2&gamma=4&view=3d&layer=basins&b0=0), so a view can be shared or reopened
function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  const clamp = (v, max) => Math.min(Math.max(parseInt(v, 10) || 0, 0), max);
  if (q.has("set")) el("set").value = clamp(q.get("set"), DATA.sets.length - 1);
  if (q.has("beta")) el("beta").value = clamp(q.get("beta"), DATA.betas.length - 1);
  if (q.has("gamma")) el("gamma").value = clamp(q.get("gamma"), DATA.gammas.length - 1);
  if (q.has("view")) el("view3d").checked = q.get("view") === "3d";
  if (q.has("layer")) el("layer").value = q.get("layer") === "basins" ? "basins" : "energy";
  if (q.has("b0")) el("b0").checked = q.get("b0") !== "0";
}
function writeHash() {
  history.replaceState(null, "", "#set=" + el("set").value + "&beta=" + el("beta").value + "&gamma=" + el("gamma").value
    + (el("view3d").checked ? "&view=3d" : "") + (el("layer").value === "basins" ? "&layer=basins" : "")
    + (el("b0").checked ? "" : "&b0=0"));
}
["set", "beta", "gamma", "view3d", "b0"].forEach((id) => el(id).addEventListener("input", () => { writeHash(); draw(); }));
["set", "layer"].forEach((id) => el(id).addEventListener("change", () => { writeHash(); draw(); }));
readHash();
draw().then(() => { document.body.dataset.rendered = "yes"; })
      .finally(() => { document.body.dataset.errors = window.__errors.join(" | "); });
</script>
</body>
</html>
"""
