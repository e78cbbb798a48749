"""The page's callbacks: one reducer that turns every user action into a new
:class:`~hopdyn.explore.state.State` (kept in the URL), one that draws it.

- :meth:`Explorer.upload`: a dropped file → its memories, kept on the server under a new source
  id, which goes to the ``uploaded`` store (or one error line in the page).
- :meth:`Explorer.reduce`: the URL, the controls, a click on the plane (start a trajectory, add or
  delete a memory), a zoom or a dragged memory ring, the buttons and the ``uploaded`` store → the
  state (encoded as the URL's query string), the source of the memories, and the controls that
  show it. Bad input keeps the last good state and shows one line in the page.
- :meth:`Explorer.draw`: state → :func:`~hopdyn.explore.view.compute_view` → the figure, the
  status line (what the view took) and the notes of the analyses;
- :meth:`Explorer.draw_paths`, chained after it: the trajectories from the state's starts
  (:func:`~hopdyn.explore.view.trajectories`) added to that figure, and the energy along them.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid

import torch
from dash import Dash, Input, Output, Patch, ctx, dcc, no_update
from dash import State as DashState

from .._threads import few_threads
from .figure import energy_figure, path_traces, view_figure
from .inputs import read_upload
from .layout import CONTROLS, controls_of
from .state import MAX_STARTS, State, decode, encode
from .view import View, ViewCache, compute_view, trajectories, view_data

__all__ = ["Explorer"]

_CONTROL_IDS = {i for i, _ in CONTROLS}
_SHAPE = re.compile(r"shapes\[(\d+)\]\.([xy][01])")


class Explorer:
    """The server side of one explorer: the loaded memories, uploads, the view cache and the
    default state (from the command line)."""

    def __init__(self, xi: torch.Tensor, default: State, name: str):
        self.sources = {"": (xi, name)}
        self.default = default
        self.cache = ViewCache()
        self.lock = threading.Lock()  # one computation at a time: torch's threads are the parallelism

    def memories(self, source: str | None) -> tuple[torch.Tensor, str]:
        return self.sources.get(source or "", self.sources[""])

    # -- the reducer -------------------------------------------------------------------------
    def upload(self, contents: str | None, filename: str | None):
        """``(uploaded store, error line)`` for a dropped file: its memories are kept under a new
        source id, which the reducer then switches to.

        A callback of its own, because Dash drops the answer of a callback call that a newer call
        of the same callback overtakes: when the upload was one of the reducer's inputs, a control
        echoing its value in the meantime lost the upload (and its error line)."""
        if contents is None:
            return no_update, no_update
        try:
            xi = read_upload(filename, _b64(contents))
        except ValueError as exc:
            return no_update, _line(exc)
        source = uuid.uuid4().hex[:12]
        self.sources[source] = (xi, filename)
        return {"source": source}, ""

    def reduce(self, search, controls, click, relayout, uploaded, stored, source):
        trig = ctx.triggered_id
        try:
            current = decode(stored or "", State()) if stored is not None else decode(search or "", self.default)
        except ValueError:
            current = self.default
        # the last upload, if the page does not show it yet: whichever call comes first applies it
        # (the one it triggered may have been overtaken; uploads are the only way to a new source)
        new_source = uploaded["source"] if uploaded and uploaded.get("source") in self.sources else None
        if new_source is not None and new_source != source:
            state = current.with_(memories=None, starts=(), extent=None, pair=(0, 1), u="", v="")
            query = encode(state)
            return query, query, new_source, "", controls_of(state)
        xi, _ = self.memories(source)
        try:
            if trig is None or trig == "url":
                state = decode(search or "", self.default)
            elif trig == "plane" and ctx.triggered[0]["prop_id"].endswith("clickData"):
                state = self._click(current, click, xi)
            elif trig == "plane":
                state = self._relayout(current, relayout or {}, xi)
            elif trig == "clear":
                state = current.with_(starts=())
            elif trig == "reset":
                state = current.with_(extent=None)
            elif trig == "uploaded":  # already applied (see above)
                state = None
            else:
                state = self._from_controls(current, controls)
        except ValueError as exc:
            # keep the last good state (a bad control value is put back to it)
            values = controls_of(current) if trig in _CONTROL_IDS else [no_update] * len(CONTROLS)
            return no_update, no_update, no_update, _line(exc), values
        query = encode(state) if state is not None else stored
        if query == stored:  # nothing changed (a control echoing its value): no redraw
            return no_update, no_update, no_update, no_update, [no_update] * len(CONTROLS)
        return query, query, source, "", controls_of(state)

    def _from_controls(self, current: State, c: list) -> State:
        beta, gamma, vanilla, gate, kappa, feature, plane, i, j, u, v, n, background, overlays, click = c
        for value, name in ((beta, "β"), (gamma, "γ"), (kappa, "κ"), (i, "memory i"), (j, "memory j"), (n, "grid points per side")):
            if value is None:
                raise ValueError(f"{name}: expected a number")
        state = current.with_(
            beta=float(2.0 ** beta), gamma=None if vanilla else float(10.0 ** gamma), gate=gate, kappa=float(kappa),
            feature=feature, plane=plane, pair=(int(i), int(j)), u=u or "", v=v or "", n=int(n),
            background=background, overlays=tuple(overlays or ()), click=click,
        )
        if (state.plane, state.pair, state.u, state.v) != (current.plane, current.pair, current.u, current.v):
            state = state.with_(extent=None, starts=())
        return state

    def _click(self, state: State, click: dict | None, xi: torch.Tensor) -> State | None:
        if not click or not click.get("points"):
            return None
        p = click["points"][0]
        x, y = float(p["x"]), float(p["y"])
        if state.click == "trajectory":
            return state.with_(starts=(*state.starts, (x, y))[-MAX_STARTS:])
        mem = list(state.memories) if state.memories is not None else _points(xi)
        if xi.shape[1] != 2:
            raise ValueError(f"memories can be edited only in a 2-D network; this one has N_V = {xi.shape[1]}")
        if state.click == "add":
            return state.with_(memories=(*mem, (x, y)))
        if len(mem) == 1:
            raise ValueError("the last memory cannot be deleted")
        k = min(range(len(mem)), key=lambda m: (mem[m][0] - x) ** 2 + (mem[m][1] - y) ** 2)
        return state.with_(memories=tuple(mem[:k] + mem[k + 1:]))

    def _relayout(self, state: State, rel: dict, xi: torch.Tensor) -> State | None:
        if rel.get("xaxis.autorange"):  # a double click: back to the square around the memories
            return state.with_(extent=None)
        if "xaxis.range[0]" in rel and "yaxis.range[0]" in rel:
            e = (rel["xaxis.range[0]"], rel["xaxis.range[1]"], rel["yaxis.range[0]"], rel["yaxis.range[1]"])
            return state.with_(extent=tuple(float(x) for x in e))
        moved = {}
        for key, val in rel.items():
            m = _SHAPE.fullmatch(key)
            if m:
                moved.setdefault(int(m.group(1)), {})[m.group(2)] = float(val)
        if not moved:
            return None
        mem = list(state.memories) if state.memories is not None else _points(xi)
        for k, c in moved.items():
            if k < len(mem) and len(c) == 4:
                mem[k] = ((c["x0"] + c["x1"]) / 2, (c["y0"] + c["y1"]) / 2)
        return state.with_(memories=tuple(mem))

    # -- drawing -----------------------------------------------------------------------------
    def _threads(self, state: State, xi: torch.Tensor):
        # one torch thread unless the grid's ops are large: a second thread measured 5-20x slower
        # on these small ops on a loaded 2-core machine (see hopdyn._threads.few_threads)
        return few_threads(state.n ** 2 * xi.shape[0] * xi.shape[1])

    def view(self, stored: str | None, source: str | None) -> tuple[State, View, int]:
        """The state in ``stored``, its view, and the torch threads it ran on."""
        state = decode(stored or "", State())
        xi, _ = self.memories(source)
        with self.lock, self._threads(state, xi):
            return state, compute_view(state, xi, self.cache), torch.get_num_threads()

    def paths(self, stored: str | None, source: str | None) -> tuple[State, View, list]:
        """The state, its view (cached) and the trajectories from its starts (cached per start)."""
        state, view, _ = self.view(stored, source)
        xi, _ = self.memories(source)
        with self.lock, self._threads(state, xi):
            return state, view, trajectories(view, state.starts, self.cache)

    def draw(self, stored, source):
        """The view without the trajectories (they follow, :meth:`draw_paths`), so that a new β
        or γ shows at once however many starts there are."""
        t0 = time.perf_counter()
        try:
            state, view, threads = self.view(stored, source)
        except ValueError as exc:
            return (no_update,) * 9 + (_line(exc),)
        _, name = self.memories(source)
        net = view.net
        title = f"{name}: {net.n_memories} memories, N_V = {net.n_features}; {net.memory!r}, {type(net.feature).__name__} L_V"
        fig = view_figure(view, state.background, state.overlays, editable=net.n_features == 2, title=title)
        seconds = time.perf_counter() - t0
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in view.timings.items() if v > 0)
        status = (f"view updated in {seconds:.2f} s at {state.n}² grid points ({parts or 'all from the cache'}; "
                  f"{threads} torch thread{'s' if threads > 1 else ''})")
        beta_text = f"β = {state.beta:.4g}"
        gamma_text = "vanilla (no gate)" if state.gamma is None else f"γ = {state.gamma:.4g} (N_H = {net.n_memories})"
        plane_box = {} if net.n_features > 2 else {"display": "none"}
        config = {"edits": {"shapePosition": net.n_features == 2}, "displaylogo": False,
                  "toImageButtonOptions": {"filename": "hopdyn_explore", "scale": 2}}
        return fig, status, _info(view), beta_text, gamma_text, config, plane_box, stored, "", ""

    def draw_paths(self, drawn, source):
        """Adds the trajectories to the figure just drawn, and the energy along them."""
        t0 = time.perf_counter()
        try:
            state, _, paths = self.paths(drawn, source)
        except ValueError as exc:
            return no_update, no_update, "", _line(exc)
        patch = Patch()
        patch["data"].extend([t.to_plotly_json() for t in path_traces(paths)])
        note = f"trajectories of {len(paths)} start(s) in {time.perf_counter() - t0:.2f} s" if paths else ""
        return patch, energy_figure(paths), note, no_update

    def export(self, stored, source):
        state, view, paths = self.paths(stored, source)
        return dcc.send_string(json.dumps(view_data(state, view, paths)), "hopdyn_explore.json")


def _info(view: View) -> str:
    lines = []
    if view.theorem1 is not None:
        t = view.theorem1
        lines.append(f"Theorem 1 ({'holds' if t.holds else 'does NOT hold'}): {t.summary}")
    if view.fates is not None:
        f = view.fates
        lines.append(f"memory fates: {f.n_survive} survive, {f.n_swallowed} swallowed by the origin, {f.n_merged} merged")
    if view.basins is not None:
        shares = sorted(view.basins.fractions().items(), key=lambda kv: -kv[1])
        lines.append("basins (share of the square): " + ", ".join(f"{k} {v:.1%}" for k, v in shares if v > 0)[:600])
    if view.fixed is not None:
        f = view.fixed
        kinds = {k: f.kind_map.count(k) for k in ("stable", "saddle", "unstable")}
        lines.append(f"fixed points: {len(f.names)} ({', '.join(f'{v} {k}' for k, v in kinds.items())} for the map); {f.note}")
    lines += [f"{k}: {v}" for k, v in view.notes.items()]
    return "\n".join(lines)


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return "error: " + (text.splitlines()[0] if text else type(exc).__name__)


def _points(xi: torch.Tensor) -> list:
    return [(float(a), float(b)) for a, b in xi.tolist()]


def _b64(contents: str) -> bytes:
    import base64

    return base64.b64decode(contents.split(",", 1)[1] if "," in contents else contents)


PNG_JS = """
function(n) {
    if (!n) { return window.dash_clientside.no_update; }
    const gd = document.querySelector('#plane .js-plotly-plot');
    Plotly.downloadImage(gd, {format: 'png', filename: 'hopdyn_explore', width: 1000, height: 800});
    return n;
}
"""


def register(app: Dash, ex: Explorer) -> None:
    """Attach the explorer's callbacks to ``app``."""
    n = len(CONTROLS)

    def reducer(search, *args):
        controls, (click, relayout, _clear, _reset, uploaded, stored, source) = list(args[:n]), args[n:]
        query, data, src, error, values = ex.reduce(search, controls, click, relayout, uploaded, stored, source)
        return (query, data, src, error, *values)

    app.callback(
        Output("url", "search"), Output("state", "data"), Output("source", "data"), Output("error", "children"),
        *[Output(i, p) for i, p in CONTROLS],
        Input("url", "search"), *[Input(i, p) for i, p in CONTROLS], Input("plane", "clickData"),
        Input("plane", "relayoutData"), Input("clear", "n_clicks"), Input("reset", "n_clicks"),
        Input("uploaded", "data"), DashState("state", "data"), DashState("source", "data"),
    )(reducer)
    app.callback(
        Output("uploaded", "data"), Output("error", "children", allow_duplicate=True),
        Input("upload", "contents"), DashState("upload", "filename"), prevent_initial_call=True,
    )(ex.upload)
    app.callback(
        Output("plane", "figure"), Output("status", "children"), Output("info", "children"),
        Output("beta-text", "children"), Output("gamma-text", "children"), Output("plane", "config"),
        Output("plane-box", "style"), Output("drawn", "data"), Output("path-status", "children"),
        Output("error", "children", allow_duplicate=True),
        Input("state", "data"), Input("source", "data"), prevent_initial_call=True,
    )(ex.draw)
    app.callback(
        Output("plane", "figure", allow_duplicate=True), Output("energy", "figure"),
        Output("path-status", "children", allow_duplicate=True), Output("error", "children", allow_duplicate=True),
        Input("drawn", "data"), DashState("source", "data"), prevent_initial_call=True,
    )(ex.draw_paths)
    app.callback(Output("download", "data"), Input("export-json", "n_clicks"), DashState("state", "data"),
                 DashState("source", "data"), prevent_initial_call=True)(lambda _n, s, src: ex.export(s, src))
    app.clientside_callback(PNG_JS, Output("export-png", "n_clicks"), Input("export-png", "n_clicks"),
                            prevent_initial_call=True)

