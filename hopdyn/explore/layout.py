"""The page: controls on the left, the plane and the energy along trajectories on the right.

Component ids are the contract with :mod:`hopdyn.explore.callbacks` and the browser tests.
β and γ sliders run on log scales (``log2 β``, ``log10 γ``)."""
from __future__ import annotations

import math

from dash import dcc, html

from .figure import energy_figure
from .state import BACKGROUNDS, RESOLUTIONS, State

__all__ = ["CONTROLS", "controls_of", "layout"]

#: (component id, property) of every control whose value is part of the state, in callback order.
CONTROLS = (
    ("beta", "value"), ("gamma", "value"), ("vanilla", "value"), ("gate", "value"), ("kappa", "value"),
    ("feature", "value"), ("plane-kind", "value"), ("mem-i", "value"), ("mem-j", "value"), ("dir-u", "value"),
    ("dir-v", "value"), ("resolution", "value"), ("background", "value"), ("overlays", "value"), ("click-mode", "value"),
)

OVERLAY_LABELS = {
    "contours": "energy contours", "boundaries": "basin boundaries", "b0": "B0 boundary (G = 0)",
    "theorem1": "Theorem 1: ε, ε_CS, r*", "fixed_points": "fixed points (stability)", "fates": "memory fates",
}
BACKGROUND_LABELS = {"energy": "energy E(v)", "density": "density log p_H", "basins": "basins", "none": "none"}

_LABEL = {"fontWeight": "600", "marginTop": "10px", "display": "block", "fontSize": "13px"}


def controls_of(state: State) -> list:
    """The control values that show ``state`` (in :data:`CONTROLS` order)."""
    return [
        math.log2(state.beta), math.log10(state.gamma) if state.gamma is not None else 3.0,
        ["vanilla"] if state.gamma is None else [], state.gate, state.kappa, state.feature, state.plane,
        state.pair[0], state.pair[1], state.u, state.v, state.n, state.background, list(state.overlays), state.click,
    ]


def _slider(id_: str, lo: int, hi: int, step: float, marks: dict) -> dcc.Slider:
    return dcc.Slider(id=id_, min=lo, max=hi, step=step, marks=marks, updatemode="mouseup", allow_direct_input=False)


def layout(title: str, n_memories: int, n_features: int, n: int = 200) -> html.Div:
    """The page for a network of ``n_memories`` in ``n_features`` dimensions; ``n`` (the starting
    grid size) is offered among the resolutions."""
    planar = n_features == 2
    beta_marks = {k: f"{2 ** k:g}" for k in range(-2, 6)}
    gamma_marks = {k: f"1e{k}" if abs(k) > 1 else f"{10 ** k:g}" for k in range(-1, 7)}
    controls = html.Div([
        html.Span("β (inverse temperature)", style=_LABEL),
        _slider("beta", -2, 5, 0.25, beta_marks),
        html.Div(id="beta-text", style={"fontSize": "12px"}),
        html.Span("γ (RecLag's gate)", style=_LABEL),
        _slider("gamma", -1, 6, 0.1, gamma_marks),
        html.Div(id="gamma-text", style={"fontSize": "12px"}),
        dcc.Checklist(id="vanilla", options=[{"label": " vanilla MHN (no gate, LogSumExp)", "value": "vanilla"}]),
        html.Span("Lagrangians", style=_LABEL),
        dcc.RadioItems(id="gate", options=[{"label": " RecLag (hard gate)", "value": "hard"},
                                           {"label": " smoothed RecLag, κ =", "value": "smooth"}], inline=True),
        dcc.Input(id="kappa", type="number", min=0.1, step="any", debounce=True, style={"width": "70px"}),
        dcc.RadioItems(id="feature", options=[{"label": " Quadratic L_V", "value": "quadratic"},
                                              {"label": " Abs L_V", "value": "abs"}], inline=True),
        html.Div([
            html.Span("plane (N_V > 2)", style=_LABEL),
            dcc.RadioItems(id="plane-kind", options=[
                {"label": " origin + memories i, j", "value": "memories"},
                {"label": " top-2 PCA of the memories", "value": "pca"},
                {"label": " directions u, v", "value": "directions"}]),
            html.Div(["i ", dcc.Input(id="mem-i", type="number", min=0, max=n_memories - 1, step=1, debounce=True,
                                       style={"width": "60px"}),
                      " j ", dcc.Input(id="mem-j", type="number", min=0, max=n_memories - 1, step=1, debounce=True,
                                        style={"width": "60px"})]),
            dcc.Input(id="dir-u", type="text", debounce=True, placeholder=f"u: {n_features} numbers, comma-separated",
                      style={"width": "95%"}),
            dcc.Input(id="dir-v", type="text", debounce=True, placeholder=f"v: {n_features} numbers, comma-separated",
                      style={"width": "95%"}),
        ], id="plane-box", style={"display": "none"} if planar else {}),
        html.Span("grid points per side", style=_LABEL),
        dcc.Dropdown(id="resolution", options=[{"label": f"{k}²", "value": k} for k in sorted({*RESOLUTIONS, n})], clearable=False),
        html.Span("colours", style=_LABEL),
        dcc.RadioItems(id="background", options=[{"label": " " + BACKGROUND_LABELS[b], "value": b} for b in BACKGROUNDS],
                       inline=True),
        html.Span("layers", style=_LABEL),
        dcc.Checklist(id="overlays", options=[{"label": " " + v, "value": k} for k, v in OVERLAY_LABELS.items()]),
        html.Span("a click on the plane", style=_LABEL),
        dcc.RadioItems(id="click-mode", options=[
            {"label": " starts trajectories", "value": "trajectory"},
            {"label": " adds a memory", "value": "add", "disabled": not planar},
            {"label": " deletes the nearest memory", "value": "delete", "disabled": not planar}]),
        html.Div("drag a memory's ring to move it" if planar else "memories can be edited in 2-D networks",
                 style={"fontSize": "11px", "color": "#666"}),
        html.Div([
            html.Button("clear trajectories", id="clear"), html.Button("reset zoom", id="reset"),
            html.Button("PNG", id="export-png"), html.Button("JSON", id="export-json"),
        ], style={"marginTop": "10px", "display": "flex", "gap": "4px", "flexWrap": "wrap"}),
        dcc.Upload(id="upload", children=html.Div("load memories: drop or click (.npy, .npz, .pt)"),
                   style={"border": "1px dashed #999", "padding": "6px", "marginTop": "10px", "fontSize": "12px",
                          "textAlign": "center", "cursor": "pointer"}),
    ], style={"width": "300px", "flex": "none", "fontSize": "13px", "paddingRight": "12px"})
    plots = html.Div([
        html.Div(id="error", style={"color": "#c62828", "fontWeight": "600", "minHeight": "18px"}),
        dcc.Loading(dcc.Graph(id="plane", config={"edits": {"shapePosition": planar}, "displaylogo": False,
                                                  "toImageButtonOptions": {"filename": "hopdyn_explore", "scale": 2}}),
                    delay_show=400, overlay_style={"visibility": "visible", "opacity": 0.55}),
        html.Div(id="status", style={"fontSize": "12px", "color": "#555"}),
        html.Div(id="path-status", style={"fontSize": "12px", "color": "#555"}),
        html.Div(id="info", style={"fontSize": "12px", "whiteSpace": "pre-wrap"}),
        dcc.Graph(id="energy", figure=energy_figure(), config={"displaylogo": False}),
    ], style={"flex": "1", "minWidth": "0"})
    return html.Div([
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="state"),
        dcc.Store(id="source", data=""),
        dcc.Store(id="uploaded"),
        dcc.Store(id="drawn"),
        dcc.Download(id="download"),
        html.H3(title, style={"margin": "4px 0 6px 0", "fontFamily": "sans-serif"}),
        html.Div([controls, plots], style={"display": "flex"}),
    ], style={"fontFamily": "sans-serif", "margin": "8px"})
